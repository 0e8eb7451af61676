"""A box for one submission: its code runs where it cannot reach the grader.

    box = choose("auto", trusted=False)      # bubblewrap where it works
    result = box.run([PYTHON, "-m", "kata.cli", "grade", "--out", OUT], workdir, limits,
                     collect=host_dir, log=host_log)

`run` starts `argv` with `workdir` (the grading copy) read-only as its current
folder and one private writable folder, named by `OUT` in argv. It returns
when every process the run started is gone; then the regular files the run
left in `OUT` are in `collect` and its output (capped) in `log`.

Mechanisms, picked by availability (`--isolation auto|bwrap|docker|none`;
auto: bwrap, else docker):
- bwrap: bubblewrap (the sandbox of Flatpak). New user, PID, network (loopback
  only), IPC and UTS namespaces; /usr, the Python installation and the grading
  copy mounted read-only; a small tmpfs for /tmp (home, OUT, the broker's
  files); a clean environment. The PID namespace dies with its first process,
  so no child outlives the run (also setsid and double-forked ones), and
  --die-with-parent stops the box if the grader dies.
- docker: the same as a container from a tiny image built here (offline),
  with cgroup limits on memory and processes; for Linux machines where
  bubblewrap cannot run but a Docker engine does.
- none: the run as a plain process group; for work the teacher trusts.

Inside every box the run is started by `python -m kata.teacher.supervisor`
(from the grading copy's harness): it sets the resource limits
on itself before it starts the run (so every process inherits them), stops
the run at its time limit, ends every process left in the box, and only then
hands the files of OUT to the grader, through a pipe that no other process
of the box holds (docker: the container's stdout, the run's output going to
its stderr). No folder of the teacher's machine is writable from the box.
"""

from __future__ import annotations

import atexit
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
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kata.teacher.supervisor import MAX_FILES, safe_name

# Placeholders in the argv given to Box.run: the box's Python and its writable folder.
PYTHON = "{python}"
OUT = "{out}"

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
SUPERVISOR = ("-m", "kata.teacher.supervisor")
# Inside a box: where the grading copy and the private folders are.
BOX_WORKDIR = "/grading/kata"
BOX_TMP = "/tmp"
BOX_UID = 1000  # the run's user inside the box (mapped to the grader's own user outside)

MECHANISMS = ("auto", "bwrap", "docker", "none")
DOCKER_IMAGE = "kata-grade-box"


def size_text(n: int) -> str:
    """2147483648 -> '2 GiB'; 33554432 -> '32 MiB'."""
    for unit, name in ((GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if n >= unit and n % unit == 0:
            return f"{n // unit} {name}"
    return f"{n} bytes"


@dataclass(frozen=True)
class Limits:
    """What one run may use. Each is reported by name when it stops a run."""

    wall: float = 600.0  # seconds for the whole run
    cpu: int = 600  # CPU seconds per process
    memory: int = 2 * GIB  # address space per process
    output: int = 32 * MIB  # bytes of output, of any file it writes, and of its /tmp

    def time_text(self) -> str:
        return f"time limit {self.wall:g} s"

    def cpu_text(self) -> str:
        return f"CPU limit {self.cpu} s"

    def memory_text(self) -> str:
        return f"memory limit {size_text(self.memory)}"

    def output_text(self) -> str:
        return f"output limit {size_text(self.output)}"


@dataclass
class BoxResult:
    """How a run ended."""

    code: int | None  # the exit code of argv; None when it did not finish
    signal: str = ""  # the signal that ended argv, e.g. "SIGXCPU"
    limit: str = ""  # the limit that stopped the run, by name ("time limit 600 s")
    files: list[str] = field(default_factory=list)  # names delivered into `collect`
    stopped: bool = False  # stopped from outside: the batch was interrupted
    full: bool = False  # the run filled its writable space (the output limit)
    seconds: float = 0.0
    note: str = ""  # why the run gave no report (the box did not start, ...)

    @property
    def finished(self) -> bool:
        return self.code is not None and not self.limit and not self.stopped


class IsolationUnavailable(RuntimeError):
    """The asked-for mechanism does not work here; the text says why."""


# --- the boxes ----------------------------------------------------------------

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
        subprocess.run(
            ["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True, check=False
        )
        return
    # The run is the leader of its own process group (a bwrap box: its PID
    # namespace dies with it). SIGKILL: no learner code may run a handler.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class Box:
    """One mechanism. Subclasses say how argv is wrapped and which environment it sees."""

    name = "box"
    # How the supervisor's report leaves the box: an inherited pipe, or the box's
    # stdout (the run's own output then goes to stderr).
    report_on_stdout = False

    def describe(self) -> str:
        return self.name

    # -- to override ----------------------------------------------------------

    def _command(
        self, inner: list[str], workdir: Path, limits: Limits, env: Mapping[str, str]
    ) -> tuple[list[str], Path, dict[str, str]]:
        """(argv, cwd, environment) that run `inner` (the supervisor) in the box."""
        raise NotImplementedError

    def _paths(self, workdir: Path, scratch: Path) -> tuple[str, str]:
        """(python, OUT) as the run sees them."""
        raise NotImplementedError

    def _own_pid_namespace(self) -> bool:
        """Whether the supervisor may end every other process it sees when the run is over."""
        return False

    def _stop(self, proc: subprocess.Popen, argv: list[str]) -> None:
        """End the run started as `proc` with `argv`, and everything in it."""
        _kill(proc)

    # -- the one interface ----------------------------------------------------

    def run(
        self,
        argv: Sequence[str],
        workdir: Path,
        limits: Limits,
        *,
        collect: Path,
        log: Path,
        env: Mapping[str, str] | None = None,
    ) -> BoxResult:
        """Run argv in the box; see the module's docstring."""
        started = time.monotonic()
        scratch = Path(tempfile.mkdtemp(prefix="kata-box-"))
        try:
            python, out = self._paths(workdir, scratch)
            inner = [a.replace(PYTHON, python).replace(OUT, out) for a in argv]
            return self._run(
                python, inner, workdir, limits, collect, log, dict(env or {}), out, started
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _run(
        self,
        python: str,
        inner: list[str],
        workdir: Path,
        limits: Limits,
        collect: Path,
        log: Path,
        env: dict[str, str],
        out: str,
        started: float,
    ) -> BoxResult:
        if self.report_on_stdout:
            report_read, report_write = -1, 1
        else:
            report_read, report_write = os.pipe()
        supervisor = [
            python,
            *SUPERVISOR,
            "--out",
            out,
            "--report-fd",
            str(report_write),
            "--wall",
            f"{limits.wall:g}",
            "--cpu",
            str(limits.cpu),
            "--memory",
            str(limits.memory),
            "--output",
            str(limits.output),
            *(["--end-all"] if self._own_pid_namespace() else []),
            "--",
            *inner,
        ]
        argv, cwd, run_env = self._command(supervisor, workdir, limits, env)
        kwargs: dict = {}
        if os.name == "nt":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            kwargs["start_new_session"] = True  # one process group to end
        if self.report_on_stdout:
            kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        else:
            kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            kwargs["pass_fds"] = (report_write,)
        log.parent.mkdir(parents=True, exist_ok=True)

        def close_pipe() -> None:
            for fd in {report_read, report_write} - {-1, 1}:
                with contextlib.suppress(OSError):
                    os.close(fd)

        with _LOCK:
            if _STOPPING.is_set():
                close_pipe()
                return BoxResult(None, stopped=True)
            try:
                proc = subprocess.Popen(
                    argv, cwd=cwd, env=run_env, stdin=subprocess.DEVNULL, **kwargs
                )
            except OSError as exc:
                close_pipe()
                return BoxResult(None, note=f"the box did not start: {exc}")
            if not self.report_on_stdout:
                # Only the box holds the write end now: EOF comes when it is gone.
                os.close(report_write)
            _RUNNING[proc] = lambda: self._stop(proc, argv)
        overflow = threading.Event()
        output = proc.stderr if self.report_on_stdout else proc.stdout
        log_thread = threading.Thread(
            target=_copy_capped,
            args=(output, log, limits.output, overflow, _RUNNING[proc]),
            daemon=True,
        )
        report_box: list[bytes] = []
        report_source = proc.stdout if self.report_on_stdout else os.fdopen(report_read, "rb")
        report_thread = threading.Thread(
            target=_read_capped,
            args=(report_source, 2 * limits.output + 64 * KIB, report_box),
            daemon=True,
        )
        log_thread.start()
        report_thread.start()
        timed_out = False
        try:
            # A little more than the supervisor's own limit: it reports its time limit itself.
            proc.wait(timeout=limits.wall + 5)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._stop(proc, argv)
            proc.wait()
        finally:
            with _LOCK:
                _RUNNING.pop(proc, None)
            if os.name != "nt":
                # After a normal end too: whatever the run left in its group goes.
                _kill(proc)
        # A trusted run's escaped daemon may hold the output open: do not wait for it.
        log_thread.join(timeout=10)
        report_thread.join(timeout=10)
        seconds = time.monotonic() - started
        if _STOPPING.is_set():
            return BoxResult(None, stopped=True, seconds=seconds)
        if timed_out:
            return BoxResult(None, limit=limits.time_text(), seconds=seconds)
        if overflow.is_set():
            return BoxResult(None, limit=limits.output_text(), seconds=seconds)
        report = _parse_report(report_box[0] if report_box else b"", collect)
        if report is None:
            tail = _last_line(log)
            return BoxResult(
                None,
                seconds=seconds,
                note=f"the run ended without a report (exit code {proc.returncode}): {tail}",
            )
        code, signal_name, files, full, timed = report
        if timed:
            return BoxResult(None, limit=limits.time_text(), seconds=seconds)
        return BoxResult(code, signal=signal_name, files=files, seconds=seconds, full=full)


class NoBox(Box):
    """No isolation: the run is a process group with the teacher's rights (trusted work)."""

    name = "none"
    report_on_stdout = True  # Windows passes no other descriptors

    def describe(self) -> str:
        return "none (--trusted: each submission runs with your rights)"

    def _paths(self, workdir: Path, scratch: Path) -> tuple[str, str]:
        out = scratch / "out"
        out.mkdir()
        (scratch / "tmp").mkdir()
        return sys.executable, str(out)

    def _command(
        self, inner: list[str], workdir: Path, limits: Limits, env: Mapping[str, str]
    ) -> tuple[list[str], Path, dict[str, str]]:
        drop = ("KATA_TARGET", "PYTEST_ADDOPTS", "MQTT_BROKER_URL", "PYTHONPATH")
        run_env = {k: v for k, v in os.environ.items() if k not in drop}
        run_env.update(_BASE_ENV)
        # The run's temporary files go with its scratch folder.
        run_env["TMPDIR"] = str(Path(inner[inner.index("--out") + 1]).parent / "tmp")
        run_env.update(env)
        return inner, workdir, run_env


# The environment every run gets (bwrap: the only one it gets).
_BASE_ENV = {
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUTF8": "1",
    "MPLBACKEND": "Agg",
}


class _SealedBox(Box):
    """A box with its own processes and its own /tmp: the results come out of BOX_TMP/out."""

    def _paths(self, workdir: Path, scratch: Path) -> tuple[str, str]:
        return sys.executable, f"{BOX_TMP}/out"

    def _own_pid_namespace(self) -> bool:
        return True


class BwrapBox(_SealedBox):
    """bubblewrap: namespaces, read-only mounts, loopback only, a clean environment."""

    name = "bwrap"

    def __init__(self, binary: str, etc: Path, version: str = "") -> None:
        self.binary = binary
        self.etc = etc  # passwd, group, hosts, nsswitch.conf for the box
        self.version = version

    def describe(self) -> str:
        return f"bwrap ({self.version})" if self.version else "bwrap"

    def _command(
        self, inner: list[str], workdir: Path, limits: Limits, env: Mapping[str, str]
    ) -> tuple[list[str], Path, dict[str, str]]:
        box_env = _box_env(env)
        argv = [
            self.binary,
            "--unshare-all",  # user, PID, network (only loopback), IPC, UTS, cgroup
            "--unshare-user",
            "--uid",
            str(BOX_UID),
            "--gid",
            str(BOX_UID),
            "--hostname",
            "kata-box",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
        ]
        for key, value in sorted(box_env.items()):
            argv += ["--setenv", key, value]
        argv += _system_mounts()
        for name in ("passwd", "group", "hosts", "nsswitch.conf"):
            argv += ["--ro-bind", str(self.etc / name), f"/etc/{name}"]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        argv += ["--size", str(limits.output), "--tmpfs", BOX_TMP]
        for sub in ("home", "out", "hypothesis"):
            argv += ["--dir", f"{BOX_TMP}/{sub}"]
        # After the tmpfs: a virtual environment under /tmp (a CI clone's
        # .tox) must not be hidden by the box's own /tmp.
        for path in _python_dirs(workdir):
            argv += ["--ro-bind", path, path]
        argv += ["--ro-bind", str(workdir), BOX_WORKDIR, "--chdir", BOX_WORKDIR]
        argv += ["--", *inner]
        return argv, workdir, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def _box_env(env: Mapping[str, str]) -> dict[str, str]:
    """The whole environment of a run in a box: a minimal one, and what the grader adds."""
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


# Top-level folders that are links into /usr on merged-/usr systems, folders elsewhere.
_LIB_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def _system_mounts() -> list[str]:
    """/usr read-only, and /bin, /lib... as this system has them (links into /usr or folders)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in _LIB_DIRS:
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    return args


def _python_dirs(workdir: Path) -> list[str]:
    """The Python installation (and venv, and site-packages) the grader runs on, not /usr."""
    found: list[Path] = []
    candidates = [sys.base_prefix, sys.prefix, sys.exec_prefix, Path(sys.executable).parent]
    candidates += [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    for raw in candidates:
        path = Path(raw).resolve() if raw else None
        if path is None or not path.is_dir() or path == Path("/"):
            continue
        if path.is_relative_to("/usr") or path.is_relative_to(workdir):
            continue
        found.append(path)
    # Outermost first, each once: a bind inside another bind is not needed.
    kept: list[Path] = []
    for path in sorted(set(found), key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return [str(p) for p in kept]


class DockerBox(_SealedBox):
    """A container per run: no network but its own loopback, read-only mounts, cgroup limits.

    The image is built here from a few files (no registry: it works offline);
    /usr and the Python installation are the host's, mounted read-only, so
    the engine must run on this machine (Linux). The supervisor is the
    container's PID 1, which no process in it can kill.
    """

    name = "docker"
    report_on_stdout = True

    def __init__(self, docker: str, image: str, version: str = "") -> None:
        self.docker = docker
        self.image = image
        self.version = version

    def describe(self) -> str:
        return f"docker (engine {self.version}, image {self.image})"

    def _command(
        self, inner: list[str], workdir: Path, limits: Limits, env: Mapping[str, str]
    ) -> tuple[list[str], Path, dict[str, str]]:
        argv = [
            self.docker,
            "run",
            "--rm",
            "--name",
            f"kata-box-{secrets.token_hex(8)}",
            "--network",
            "none",  # only its own loopback
            "--read-only",
            "--user",
            f"{BOX_UID}:{BOX_UID}",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--pids-limit",
            "1024",
            "--memory",
            str(limits.memory),
            "--memory-swap",
            str(limits.memory),
            "--tmpfs",
            f"{BOX_TMP}:rw,exec,size={limits.output},mode=1777",
            "--hostname",
            "kata-box",
            "--workdir",
            BOX_WORKDIR,
        ]
        for key, value in sorted(_box_env(env).items()):
            argv += ["--env", f"{key}={value}"]
        mounts = [("/usr", "/usr")] + [(p, p) for p in _python_dirs(workdir)]
        mounts += [
            (top, top) for top in _LIB_DIRS if Path(top).is_dir() and not Path(top).is_symlink()
        ]
        mounts.append((str(workdir), BOX_WORKDIR))
        for source, target in mounts:
            argv += ["--mount", f"type=bind,source={source},target={target},readonly"]
        argv += [self.image, *inner]
        return argv, workdir, dict(os.environ)

    def _stop(self, proc: subprocess.Popen, argv: list[str]) -> None:
        # Ending the client does not end the container: ask the engine.
        name = argv[argv.index("--name") + 1]
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                [self.docker, "kill", name], capture_output=True, timeout=30, check=False
            )
        _kill(proc)


# --- choosing a box -----------------------------------------------------------


def _etc_files(folder: Path) -> Path:
    """The few /etc files a run needs, written by the grader (not the teacher's own)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "passwd": f"root:x:0:0:root:/root:/bin/false\n"
        f"learner:x:{BOX_UID}:{BOX_UID}:learner:{BOX_TMP}/home:/bin/false\n",
        "group": f"root:x:0:\nlearner:x:{BOX_UID}:\n",
        "hosts": "127.0.0.1 localhost\n::1 localhost ip6-localhost\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


_ETC_DIR: Path | None = None


def _bwrap_box() -> BwrapBox:
    """A working bubblewrap box, or IsolationUnavailable with the reason."""
    global _ETC_DIR
    if not sys.platform.startswith("linux"):
        raise IsolationUnavailable("bubblewrap runs on Linux only")
    binary = shutil.which("bwrap")
    if binary is None:
        raise IsolationUnavailable("bubblewrap (bwrap) is not installed")
    if _ETC_DIR is None or not _ETC_DIR.is_dir():
        _ETC_DIR = _etc_files(Path(tempfile.mkdtemp(prefix="kata-box-etc-")))
        atexit.register(shutil.rmtree, _ETC_DIR, True)
    try:
        said = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
        version = said.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        version = ""
    box = BwrapBox(binary, _ETC_DIR, version)
    # Namespaces may be switched off (a container, a kernel setting): try one.
    _probe(box)
    return box


def _docker_image(docker: str) -> str:
    """The box's image, built here from a few files when it is not there yet (offline)."""
    context = Path(tempfile.mkdtemp(prefix="kata-box-image-"))
    try:
        root = context / "rootfs"
        _etc_files(root / "etc")
        for folder in ("tmp", "usr", "grading/kata", "proc", "dev", "sys"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        # Docker copies the image's /tmp (its mode too) onto the run's tmpfs.
        (root / "tmp").chmod(0o1777)
        for top in _LIB_DIRS:
            path = Path(top)
            if path.is_symlink():
                (root / top.lstrip("/")).symlink_to(os.readlink(path))
            elif path.is_dir():
                (root / top.lstrip("/")).mkdir()
        (context / "Dockerfile").write_text("FROM scratch\nCOPY rootfs/ /\n", encoding="utf-8")
        digest = hashlib.sha256()
        for path in sorted(context.rglob("*")):
            digest.update(f"{path.relative_to(context)} {path.lstat().st_mode:o}".encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
            elif path.is_file():
                digest.update(path.read_bytes())
        tag = f"{DOCKER_IMAGE}:{digest.hexdigest()[:12]}"
        there = subprocess.run(
            [docker, "image", "inspect", tag], capture_output=True, timeout=30, check=False
        )
        if there.returncode != 0:
            built = subprocess.run(
                [docker, "build", "--quiet", "--tag", tag, str(context)],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if built.returncode != 0:
                said = (built.stderr.strip().splitlines() or ["docker build failed"])[-1]
                raise IsolationUnavailable(f"the box's image does not build: {said}")
        return tag
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise IsolationUnavailable(f"docker does not run: {exc}") from None
    finally:
        shutil.rmtree(context, ignore_errors=True)


def _docker_box() -> DockerBox:
    """A working Docker box, or IsolationUnavailable with the reason."""
    docker = shutil.which("docker")
    if docker is None:
        raise IsolationUnavailable("docker is not installed")
    try:
        said = subprocess.run(
            [docker, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise IsolationUnavailable(f"no Docker engine answers: {exc}") from None
    if said.returncode != 0 or not said.stdout.strip():
        raise IsolationUnavailable("no Docker engine answers")
    box = DockerBox(docker, _docker_image(docker), said.stdout.strip())
    _probe(box)
    return box


def _probe(box: Box) -> None:
    """Run a Python that does nothing in the box: IsolationUnavailable when it cannot."""
    with tempfile.TemporaryDirectory(prefix="kata-box-probe-") as tmp:
        work = Path(tmp) / "work"
        # The supervisor runs from the box's copy of the harness.
        harness = Path(__file__).resolve().parents[1]
        shutil.copytree(harness, work / "kata", ignore=shutil.ignore_patterns("__pycache__"))
        result = box.run(
            [PYTHON, "-c", "pass"],
            work,
            Limits(wall=60),
            collect=Path(tmp) / "results",
            log=Path(tmp) / "log",
        )
        if result.code != 0:
            said = result.note or result.limit or _last_line(Path(tmp) / "log")
            said = said or ("stopped" if result.stopped else f"exit code {result.code}")
            raise IsolationUnavailable(f"{box.name} does not work here: {said}")


def choose(mechanism: str, *, trusted: bool) -> Box:
    """The box for `mechanism` (auto | bwrap | docker | none); IsolationUnavailable if refused.

    auto: bubblewrap, else Docker. `none` and a fallback to it both need
    `trusted`: without a box, a submission's code runs with the teacher's rights.
    """
    if mechanism not in MECHANISMS:
        raise IsolationUnavailable(f"unknown isolation {mechanism!r}")
    allow_runs()  # a new batch: an earlier one's stop does not hold for it
    if mechanism == "none":
        if not trusted:
            raise IsolationUnavailable("--isolation none")
        return NoBox()
    if mechanism == "docker":
        return _docker_box()
    try:
        return _bwrap_box()
    except IsolationUnavailable as bwrap_missing:
        if mechanism == "bwrap":
            raise
        try:
            return _docker_box()
        except IsolationUnavailable as docker_missing:
            if trusted:
                return NoBox()
            raise IsolationUnavailable(f"{bwrap_missing}; {docker_missing}") from None


# --- reading what a run gives back --------------------------------------------


def _copy_capped(
    source, log: Path, cap: int, overflow: threading.Event, stop: Callable[[], None]
) -> None:
    """The run's output into `log`, at most `cap` bytes; past it, the run is ended."""
    written = 0
    with log.open("wb") as sink:
        while True:
            chunk = source.read1(64 * KIB)
            if not chunk:
                break
            room = cap - written
            if room > 0:
                sink.write(chunk[:room])
                written += min(room, len(chunk))
            if len(chunk) > room:
                overflow.set()
                stop()
                break
    source.close()


def _read_capped(source, cap: int, into: list[bytes]) -> None:
    parts: list[bytes] = []
    size = 0
    with source:
        while True:
            chunk = source.read1(64 * KIB)
            if not chunk:
                break
            size += len(chunk)
            if size > cap:
                parts = []
                break
            parts.append(chunk)
    into.append(b"".join(parts))


def _parse_report(data: bytes, collect: Path) -> tuple[int, str, list[str], bool, bool] | None:
    """The supervisor's report: a JSON line, then the files' bytes. None when there is none."""
    head, sep, body = data.partition(b"\n")
    if not sep:
        return None
    try:
        header = json.loads(head)
        code = int(header["code"])
        signal_name = str(header.get("signal") or "")
        full = bool(header.get("full"))
        timed = bool(header.get("timed_out"))
        entries = [(str(name), int(size)) for name, size in header["files"]]
    except (ValueError, KeyError, TypeError):
        return None
    if sum(size for _, size in entries) != len(body) or len(entries) > MAX_FILES:
        return None
    collect.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    offset = 0
    for name, size in entries:
        chunk = body[offset : offset + size]
        offset += size
        if not safe_name(name):
            continue
        (collect / name).write_bytes(chunk)
        files.append(name)
    return code, signal_name, files, full, timed


def _last_line(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""
