"""A box for one submission: its code runs where it cannot reach the grader.

`choose(...).run(argv, workdir, limits, collect=..., log=...)` starts `argv`
with `workdir` (the grading copy) read-only as its current folder and one
private writable folder, named by `OUT` in argv. It returns when every process
the run started is gone; then the regular files the run left in `OUT` are in
`collect` and its output (capped) in `log`.

Mechanisms (`--isolation auto|bwrap|docker|none`; auto: bwrap, else docker):
- bwrap: bubblewrap (Flatpak's sandbox). New user, PID, network (loopback
  only), IPC and UTS namespaces; /usr, the Python installation and the grading
  copy read-only; a small tmpfs for /tmp; a clean environment. The PID
  namespace dies with its first process, so no child outlives the run, and
  --die-with-parent stops the box if the grader dies.
- docker: the same as a container from a tiny image built here (offline),
  with cgroup limits; for Linux machines where bubblewrap cannot run.
- none: the run as a plain process group; for work the teacher trusts.

Inside every box kata/teacher/supervisor.py starts the run, limits, stops and
ends it, and only then hands the files of OUT to the grader, through a pipe
no other process of the box holds (docker, none: its stdout, the run's output
going to stderr). No folder of the teacher's machine is writable from the box.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kata.teacher.supervisor import MAX_FILES, safe_name

# Placeholders in the argv given to Box.run: the box's Python and its writable folder.
PYTHON, OUT = "{python}", "{out}"
MIB, GIB = 1 << 20, 1 << 30
BOX_WORKDIR, BOX_TMP = "/grading/kata", "/tmp"  # inside a sealed box
MECHANISMS = ("auto", "bwrap", "docker", "none")
# Top-level folders that are links into /usr on merged-/usr systems, folders elsewhere.
_LIB_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_BASE_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUTF8": "1", "MPLBACKEND": "Agg"}
_CHUNK = 64 << 10


@dataclass(frozen=True)
class Limits:
    """What one run may use. Each is reported by name when it stops a run."""

    wall: float = 600.0  # seconds for the whole run
    cpu: int = 600  # CPU seconds per process
    memory: int = 2 * GIB  # address space per process
    output: int = 32 * MIB  # bytes of output, of any file it writes, and of its /tmp

    def text(self, which: str) -> str:
        """The limit by name: "time limit 600 s", "memory limit 2 GiB", ..."""
        value = {"time": f"{self.wall:g} s", "CPU": f"{self.cpu} s"}.get(which)
        size = 0 if value else getattr(self, which)
        for unit, name in ((GIB, "GiB"), (MIB, "MiB"), (1 << 10, "KiB"), (1, "bytes")):
            if not value and size >= unit and size % unit == 0:
                value = f"{size // unit} {name}"
        return f"{which} limit {value}"


@dataclass
class BoxResult:
    """How a run ended."""

    code: int | None  # the exit code of argv; None when it did not finish
    signal: str = ""  # the signal that ended argv, e.g. "SIGXCPU"
    limit: str = ""  # the limit that stopped the run, by name ("time limit 600 s")
    files: list[str] = field(default_factory=list)  # names delivered into `collect`
    stopped: bool = False  # stopped from outside: the batch was interrupted
    full: bool = False  # the run filled its writable space (the output limit)
    note: str = ""  # why the run gave no report (the box did not start, ...)

    @property
    def finished(self) -> bool:
        return self.code is not None and not self.limit and not self.stopped


class IsolationUnavailable(RuntimeError):
    """The asked-for mechanism does not work here; the text says why."""


# Runs in progress (of every box), each with what ends it: an interrupted batch stops them all.
_RUNNING: dict[subprocess.Popen, Callable[[], None]] = {}
_LOCK = threading.Lock()
_STOPPING = threading.Event()


def stop_all() -> None:
    """Stop every run in progress and start no more (Ctrl-C, SIGTERM of the batch)."""
    with _LOCK:
        _STOPPING.set()
        running = list(_RUNNING.values())
    for stop in running:
        stop()


def allow_runs() -> None:
    """A new batch: runs may start again."""
    _STOPPING.clear()


def _kill(proc: subprocess.Popen) -> None:
    """End a run and everything it started."""
    if os.name == "nt":
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True)
        return
    # The run leads its own process group (a bwrap box: its PID namespace dies
    # with it). SIGKILL: no learner code may run a handler.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass(eq=False)
class Box:
    """No isolation: the run is a process group with the teacher's rights (trusted work).

    The sealed boxes (subclasses) wrap the supervisor's argv in their own.
    """

    tool: str = ""
    detail: str = "--trusted: each submission runs with your rights"
    etc_or_image: str = ""
    name = "none"
    sealed = False  # own processes, own /tmp, the grading copy read-only at BOX_WORKDIR
    report_on_stdout = True  # else an inherited pipe (Windows passes no other descriptors)

    def describe(self) -> str:
        return f"{self.name} ({self.detail})" if self.detail else self.name

    def _command(self, inner: list[str], mount: tuple[Path, bool], limits: Limits, env: dict):
        """(argv, environment) that run `inner` (the supervisor) in the box."""
        drop = ("KATA_TARGET", "PYTEST_ADDOPTS", "MQTT_BROKER_URL", "PYTHONPATH")
        run_env = {k: v for k, v in os.environ.items() if k not in drop}
        # The run's temporary files go with its scratch folder.
        tmp = str(Path(json.loads(inner[3])["out"]).parent / "tmp")
        return inner, {**run_env, **_BASE_ENV, "TMPDIR": tmp, **env}

    def _stop(self, proc: subprocess.Popen, argv: list[str]) -> None:
        _kill(proc)

    def run(
        self,
        argv: Sequence[str],
        workdir: Path,
        limits: Limits,
        *,
        collect: Path,
        log: Path,
        env: Mapping[str, str] | None = None,
        writable: bool = False,
    ) -> BoxResult:
        """Run argv in the box; see the module's docstring. `writable`: for the grader's own
        tree only (the environment check leaves its bytecode in it)."""
        scratch = tempfile.mkdtemp(prefix="kata-box-")
        try:
            return self._run(argv, (workdir, writable), limits, collect, log, env or {}, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _run(self, argv, mount, limits, collect, log, env, scratch) -> BoxResult:
        out = f"{BOX_TMP}/out" if self.sealed else f"{scratch}/out"
        for folder in () if self.sealed else (out, f"{scratch}/tmp"):
            os.mkdir(folder)
        if self.report_on_stdout:
            read_fd, write_fd, streams = -1, 1, {"stderr": subprocess.PIPE}
        else:
            read_fd, write_fd = os.pipe()
            streams = {"stderr": subprocess.STDOUT, "pass_fds": (write_fd,)}
        # One process group to end (Windows: a console group of its own).
        streams |= {"stdout": subprocess.PIPE, "start_new_session": os.name != "nt"}
        streams["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        spec = {"out": out, "report_fd": write_fd, "wall": limits.wall, "cpu": limits.cpu}
        spec |= {"memory": limits.memory, "output": limits.output, "end_all": self.sealed}
        inner = [sys.executable, "-m", "kata.teacher.supervisor", json.dumps(spec), "--"]
        inner += [a.replace(PYTHON, sys.executable).replace(OUT, out) for a in argv]
        argv, run_env = self._command(inner, mount, limits, dict(env))
        log.parent.mkdir(parents=True, exist_ok=True)
        with _LOCK:
            proc, note = None, ""
            if not _STOPPING.is_set():
                try:
                    proc = subprocess.Popen(
                        argv, cwd=mount[0], env=run_env, stdin=subprocess.DEVNULL, **streams
                    )
                except OSError as exc:
                    note = f"the box did not start: {exc}"
            if write_fd != 1:
                os.close(write_fd)  # only the box holds the write end now: EOF when it is gone
            if proc is None:
                with contextlib.suppress(OSError):
                    os.close(read_fd)
                return BoxResult(None, stopped=not note, note=note)
            stop = _RUNNING[proc] = lambda: self._stop(proc, argv)
        overflow, report = threading.Event(), []

        def over() -> None:
            overflow.set()
            stop()

        def copy_log() -> None:
            with log.open("wb") as sink:
                _drain(output, limits.output, sink.write, over)

        def read_report() -> None:
            # It holds the files: twice the output limit, and a little more.
            _drain(reports, 2 * limits.output + _CHUNK, report.append, report.clear)

        output = proc.stderr if self.report_on_stdout else proc.stdout
        reports = proc.stdout if read_fd == -1 else os.fdopen(read_fd, "rb")
        threads = [threading.Thread(target=f, daemon=True) for f in (copy_log, read_report)]
        for thread in threads:
            thread.start()
        timed_out = False
        try:
            # A little more than the supervisor's own limit: it reports its time limit itself.
            proc.wait(timeout=limits.wall + 5)
        except subprocess.TimeoutExpired:
            timed_out = True
            stop()
            proc.wait()
        finally:
            with _LOCK:
                _RUNNING.pop(proc, None)
            if os.name != "nt":
                _kill(proc)  # after a normal end too: whatever the run left in its group goes
        # A trusted run's escaped daemon may hold the output open: do not wait for it.
        for thread in threads:
            thread.join(timeout=10)
        if _STOPPING.is_set():
            return BoxResult(None, stopped=True)
        if timed_out or overflow.is_set():
            return BoxResult(None, limit=limits.text("time" if timed_out else "output"))
        result = _parse_report(b"".join(report), collect, limits)
        if result is None:
            tail = (log_tail(log) or [""])[-1][:200]
            note = f"the run ended without a report (exit code {proc.returncode}): {tail}"
            return BoxResult(None, note=note)
        return result


def _box_env(env: Mapping[str, str]) -> dict[str, str]:
    """The whole environment of a run in a sealed box: a minimal one, and what the grader adds."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": f"{BOX_TMP}/home",
        "USER": "learner",
        "LOGNAME": "learner",
        "LANG": "C.UTF-8",
        "TMPDIR": BOX_TMP,
        "HYPOTHESIS_STORAGE_DIRECTORY": f"{BOX_TMP}/hypothesis",
        "MPLCONFIGDIR": f"{BOX_TMP}/home/.matplotlib",
        **_BASE_ENV,
        **env,
    }


def _python_dirs(workdir: Path) -> list[str]:
    """The Python installation (and venv, and site-packages) the grader runs on, not /usr."""
    candidates = [sys.base_prefix, sys.prefix, sys.exec_prefix, Path(sys.executable).parent]
    candidates += [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    found = {Path(raw).resolve() for raw in candidates if raw}
    found = {p for p in found if p.is_dir() and p != Path("/")}
    found = {p for p in found if not p.is_relative_to("/usr") and not p.is_relative_to(workdir)}
    # Outermost first, each once: a bind inside another bind is not needed.
    kept: list[Path] = []
    for path in sorted(found, key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return [str(p) for p in kept]


class BwrapBox(Box):
    """bubblewrap: namespaces, read-only mounts, loopback only, a clean environment."""

    name, sealed, report_on_stdout = "bwrap", True, False

    def _command(self, inner: list[str], mount: tuple[Path, bool], limits: Limits, env: dict):
        # --unshare-all: user, PID, network (only loopback), IPC, UTS, cgroup. Its user,
        # uid 1000, is the grader's own user outside.
        argv = [self.tool, "--unshare-all", "--unshare-user", "--uid", "1000", "--gid", "1000"]
        argv += ["--hostname", "kata-box", "--die-with-parent", "--new-session", "--clearenv"]
        for key, value in sorted(_box_env(env).items()):
            argv += ["--setenv", key, value]
        argv += ["--ro-bind", "/usr", "/usr"]
        for top in _LIB_DIRS:
            if Path(top).is_symlink():
                argv += ["--symlink", os.readlink(top), top]
            elif Path(top).is_dir():
                argv += ["--ro-bind", top, top]
        for name in ("passwd", "group", "hosts", "nsswitch.conf"):
            argv += ["--ro-bind", f"{self.etc_or_image}/{name}", f"/etc/{name}"]
        argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.output)]
        argv += ["--tmpfs", BOX_TMP]
        for sub in ("home", "out", "hypothesis"):
            argv += ["--dir", f"{BOX_TMP}/{sub}"]
        # After the tmpfs: a virtual environment under /tmp (a CI clone's .tox)
        # must not be hidden by the box's own /tmp.
        for path in _python_dirs(mount[0]):
            argv += ["--ro-bind", path, path]
        argv += ["--bind" if mount[1] else "--ro-bind", str(mount[0]), BOX_WORKDIR]
        argv += ["--chdir", BOX_WORKDIR, "--", *inner]
        return argv, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


class DockerBox(Box):
    """A container per run: no network but its own loopback, read-only mounts, cgroup limits.

    /usr and the Python installation are the host's, mounted read-only: the engine must run
    on this machine (Linux). The supervisor is PID 1, which no process in it can kill.
    """

    name, sealed = "docker", True

    def _command(self, inner: list[str], mount: tuple[Path, bool], limits: Limits, env: dict):
        argv = [self.tool, "run", "--rm", "--name", f"kata-box-{secrets.token_hex(8)}"]
        # --network none: only its own loopback.
        argv += ["--network", "none", "--read-only", "--user", "1000:1000", "--cap-drop", "ALL"]
        argv += ["--security-opt", "no-new-privileges", "--pids-limit", "1024"]
        argv += ["--hostname", "kata-box", "--workdir", BOX_WORKDIR]
        argv += ["--memory", str(limits.memory), "--memory-swap", str(limits.memory)]
        argv += ["--tmpfs", f"{BOX_TMP}:rw,exec,size={limits.output},mode=1777"]
        for key, value in sorted(_box_env(env).items()):
            argv += ["--env", f"{key}={value}"]
        mounts = [("/usr", "/usr")] + [(p, p) for p in _python_dirs(mount[0])]
        mounts += [(top, top) for top in _LIB_DIRS if os.path.isdir(top)]
        mounts = [(s, t, ",readonly") for s, t in mounts if not os.path.islink(s)]
        mounts.append((str(mount[0]), BOX_WORKDIR, "" if mount[1] else ",readonly"))
        for source, target, readonly in mounts:
            argv += ["--mount", f"type=bind,source={source},target={target}{readonly}"]
        return [*argv, self.etc_or_image, *inner], dict(os.environ)

    def _stop(self, proc: subprocess.Popen, argv: list[str]) -> None:
        # Ending the client does not end the container: ask the engine.
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            name = argv[argv.index("--name") + 1]
            subprocess.run([self.tool, "kill", name], capture_output=True, timeout=30)
        _kill(proc)


# --- choosing a box -----------------------------------------------------------

# The few /etc files a run needs, written by the grader (not the teacher's own).
_ETC = {
    "passwd": f"root:x:0:0::/root:/bin/false\nlearner:x:1000:1000::{BOX_TMP}/home:/bin/false\n",
    "group": "root:x:0:\nlearner:x:1000:\n",
    "hosts": "127.0.0.1 localhost\n::1 localhost ip6-localhost\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
}


def _etc_files(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in _ETC.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _said(argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise IsolationUnavailable(f"{Path(argv[0]).name} does not run: {exc}") from None


def _bwrap_box() -> BwrapBox:
    """A working bubblewrap box, or IsolationUnavailable with the reason."""
    binary = shutil.which("bwrap")
    if not sys.platform.startswith("linux"):
        raise IsolationUnavailable("bubblewrap runs on Linux only")
    if binary is None:
        raise IsolationUnavailable("bubblewrap (bwrap) is not installed")
    etc = _etc_files(Path(tempfile.mkdtemp(prefix="kata-box-etc-")))
    atexit.register(shutil.rmtree, etc, True)
    # Namespaces may be switched off (a container, a kernel setting): try one.
    return _probe(BwrapBox(binary, _said([binary, "--version"]).stdout.strip(), str(etc)))


def _docker_image(docker: str) -> str:
    """The box's image, built here from a few files when it is not there yet (offline)."""
    links = {top: os.readlink(top) for top in _LIB_DIRS if os.path.islink(top)}
    folders = [top for top in _LIB_DIRS if top not in links and os.path.isdir(top)]
    # The tag names what goes into the image: a changed recipe builds a new one.
    recipe = json.dumps([_ETC, links, folders], sort_keys=True).encode()
    tag = f"kata-grade-box:{hashlib.sha256(recipe).hexdigest()[:12]}"
    if _said([docker, "image", "inspect", tag]).returncode == 0:
        return tag
    with tempfile.TemporaryDirectory(prefix="kata-box-image-") as tmp:
        root = Path(tmp) / "rootfs"
        _etc_files(root / "etc")
        for folder in ("tmp", "usr", "grading/kata", "proc", "dev", "sys", *folders):
            (root / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
        (root / "tmp").chmod(0o1777)  # Docker copies the image's /tmp (its mode too) onto the tmpfs
        for top, target in links.items():
            (root / top[1:]).symlink_to(target)
        (Path(tmp) / "Dockerfile").write_text("FROM scratch\nCOPY rootfs/ /\n", encoding="utf-8")
        built = _said([docker, "build", "--quiet", "--tag", tag, tmp], 300)
    if built.returncode != 0:
        said = (built.stderr.strip().splitlines() or ["docker build failed"])[-1]
        raise IsolationUnavailable(f"the box's image does not build: {said}")
    return tag


def _docker_box() -> DockerBox:
    """A working Docker box, or IsolationUnavailable with the reason."""
    docker = shutil.which("docker")
    if docker is None:
        raise IsolationUnavailable("docker is not installed")
    version = _said([docker, "version", "--format", "{{.Server.Version}}"])
    if version.returncode != 0 or not version.stdout.strip():
        raise IsolationUnavailable("no Docker engine answers")
    detail = f"engine {version.stdout.strip()}, image {(image := _docker_image(docker))}"
    return _probe(DockerBox(docker, detail, image))


def _probe(box: Box) -> Box:
    """Run a Python that does nothing in the box: IsolationUnavailable when it cannot."""
    with tempfile.TemporaryDirectory(prefix="kata-box-probe-") as tmp:
        # The supervisor runs from the box's copy of the harness.
        harness = Path(__file__).resolve().parents[1]
        shutil.copytree(harness, f"{tmp}/work/kata", ignore=shutil.ignore_patterns("__pycache__"))
        log, work, collect = Path(tmp) / "log", Path(tmp) / "work", Path(tmp) / "results"
        result = box.run([PYTHON, "-c", "pass"], work, Limits(wall=60), collect=collect, log=log)
        if result.code != 0:
            said = result.note or result.limit or (log_tail(log) or [""])[-1][:200]
            said = said or ("stopped" if result.stopped else f"exit code {result.code}")
            raise IsolationUnavailable(f"{box.name} does not work here: {said}")
    return box


def choose(mechanism: str, *, trusted: bool) -> Box:
    """The box for `mechanism` (auto | bwrap | docker | none); IsolationUnavailable if refused.

    auto: bubblewrap, else Docker. `none` and a fallback to it both need
    `trusted`: without a box, a submission's code runs with the teacher's rights.
    """
    if mechanism not in MECHANISMS:
        raise IsolationUnavailable(f"unknown isolation {mechanism!r}")
    allow_runs()  # a new batch: an earlier one's stop does not hold for it
    tries = {"none": [], "bwrap": [_bwrap_box], "docker": [_docker_box]}
    reasons = []
    for make in tries.get(mechanism, [_bwrap_box, _docker_box]):
        try:
            return make()
        except IsolationUnavailable as exc:
            reasons.append(str(exc))
    if trusted and mechanism in ("none", "auto"):
        return Box()
    raise IsolationUnavailable("; ".join(reasons) or "--isolation none")


# --- reading what a run gives back --------------------------------------------


def _drain(source, cap: int, keep: Callable[[bytes], object], overflow: Callable) -> None:
    """Read `source` to its end, handing at most `cap` bytes to `keep`; past it, `overflow()`."""
    read = 0
    with source:
        while chunk := source.read1(_CHUNK):
            keep(chunk[: max(0, cap - read)])
            read += len(chunk)
            if read > cap:
                overflow()
                return


def _parse_report(data: bytes, collect: Path, limits: Limits) -> BoxResult | None:
    """The supervisor's report: one JSON line, the files in it. None when there is none."""
    try:
        said = json.loads(data)
        files = {str(n): base64.b64decode(d, validate=True) for n, d in said["files"].items()}
        result = BoxResult(int(said["code"]), str(said["signal"]), full=bool(said["full"]))
        if said["timed_out"]:  # the supervisor's own clock stopped the run
            return BoxResult(None, limit=limits.text("time"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if len(files) > MAX_FILES:
        return None
    collect.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if safe_name(name):
            (collect / name).write_bytes(content)
            result.files.append(name)
    return result


def log_tail(log: Path, lines: int = 200) -> list[str]:
    """The last lines of a run's output (of its last 64 KiB)."""
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - _CHUNK))
            return handle.read().decode("utf-8", errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return []
