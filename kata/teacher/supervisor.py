"""The first process of a run inside a box: `python -m kata.teacher.supervisor SPEC -- COMMAND`.

SPEC is JSON: out, report_fd (1: stdout), wall, cpu, memory, output, end_all.
It sets the resource limits on itself before it starts COMMAND, so that every
process of the run inherits them; stops the run at its time limit; in a box
of its own (a fresh PID namespace, end_all) ends every other process; only
then hands the files of `out` to the grader: one JSON line (exit code,
signal, the files by name, base64), on a descriptor no other process holds.
Standard library only, and nothing else of the kata: it is the one piece of
the grader that runs next to the learner's code.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

try:
    import resource
except ImportError:  # Windows: a trusted run there has no limits but its time
    resource = None  # type: ignore[assignment]

MAX_FILES = 16  # files taken from the run's writable folder


def safe_name(name: str) -> bool:
    """A plain file name (no folder, no link games) that the grader takes back."""
    return (
        0 < len(name) <= 100
        and name not in (".", "..")
        and all(c.isalnum() or c in "._-" for c in name)
    )


def _set_limits(cpu: int, memory: int, output: int) -> None:
    for name, value in (("CPU", cpu), ("AS", memory), ("FSIZE", output), ("CORE", 0)):
        kind = getattr(resource, f"RLIMIT_{name}", None)
        if kind is None:
            continue
        hard = resource.getrlimit(kind)[1]
        # CPU: the soft limit sends SIGXCPU (named in the report); the hard one kills.
        wanted = (value, value + 5 if name == "CPU" else value)
        if hard != resource.RLIM_INFINITY:
            wanted = (min(wanted[0], hard), min(wanted[1], hard))
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(kind, wanted)


def _end_everything_else() -> None:
    """SIGKILL every other process of this PID namespace (the box), until none is left.

    Only ever called as PID 1 or 2 of a fresh namespace (bwrap's init is 1):
    outside a box this would be a disaster, so the caller checks.
    """
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        others = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
        others = [pid for pid in others if pid > 2 and pid != os.getpid() and _alive(pid)]
        if not others:
            return
        for pid in others:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)  # bwrap's init reaps them


def _alive(pid: int) -> bool:
    """Running or stopped, not a zombie waiting for its reaper."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def _collect(out: Path, cap: int) -> list[tuple[str, bytes]]:
    """The regular files directly in `out`, at most `cap` bytes in all (links are not followed)."""
    files: list[tuple[str, bytes]] = []
    total = 0
    with contextlib.suppress(OSError):
        for entry in sorted(os.scandir(out), key=lambda e: e.name):
            if len(files) >= MAX_FILES:
                break
            if not entry.is_file(follow_symlinks=False) or not safe_name(entry.name):
                continue
            try:
                fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except OSError:
                continue
            with os.fdopen(fd, "rb") as handle:
                data = handle.read(cap + 1)
            if total + len(data) <= cap:
                files.append((entry.name, data))
                total += len(data)
    return files


def _is_full(folder: str) -> bool:
    """Whether the run's writable space is (nearly) used up: a box's /tmp is its output limit."""
    try:
        stat = os.statvfs(folder)
    except (OSError, AttributeError):
        return False
    return stat.f_bavail * stat.f_frsize < 256 << 10


def supervise(argv: list[str]) -> int:
    spec, command = json.loads(argv[0]), argv[2:]  # argv[1] is "--"
    if spec["report_fd"] == 1:
        # The report alone on stdout; the run's own output goes to stderr.
        report = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
    else:
        report = os.fdopen(spec["report_fd"], "wb")
    if sys.platform.startswith("linux"):
        import ctypes  # optional: Linux only

        # Not dumpable: no other process of the box (same user) may read this one's memory.
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    for folder in (spec["out"], os.environ.get("HOME", "")):
        with contextlib.suppress(OSError):
            if folder:
                Path(folder).mkdir(parents=True, exist_ok=True)
    if resource is not None:
        _set_limits(spec["cpu"], spec["memory"], spec["output"])
    code, signal_name, timed_out = 127, "", False
    try:
        # close_fds (the default): the run does not get the report's pipe. With the
        # report on stdout, the run's output goes to stderr (by handle, for Windows).
        output = 2 if spec["report_fd"] == 1 else None
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output)
        try:
            code = child.wait(timeout=spec["wall"])
        except subprocess.TimeoutExpired:
            timed_out = True  # the grader's own clock would stop the box too; this one reports it
            child.kill()
            code = child.wait()
    except OSError as exc:
        print(f"kata box: cannot start {command[:1]}: {exc}", file=sys.stderr, flush=True)
    if code < 0:
        with contextlib.suppress(ValueError):
            signal_name = signal.Signals(-code).name
        code = 128 - code
    if spec["end_all"] and os.getpid() in (1, 2):
        _end_everything_else()
    files = _collect(Path(spec["out"]), spec["output"])
    header = {"code": code, "signal": signal_name, "timed_out": timed_out}
    header |= {
        "full": _is_full(spec["out"]),
        "files": {n: base64.b64encode(d).decode() for n, d in files},
    }
    with contextlib.suppress(OSError):
        report.write(json.dumps(header).encode() + b"\n")
        report.close()
    return code


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[1:]))
