"""The supervisor: the first process of a run inside a box (`python -m kata.teacher.supervisor`).

Started by kata/teacher/box.py from the grading copy's own harness. It sets
the resource limits on itself before it starts the run, so that every
process of the run inherits them; stops the run at its time limit; then, in
a box of its own (a fresh PID namespace), ends every other process; and only
then hands the files the run left in its writable folder to the grader:
one JSON line (exit code, signal, the files' names and sizes) and the
files' bytes, on a descriptor that no other process holds. Standard library
only, and nothing else of the kata: it is the one piece of the grader that
runs next to the learner's code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

try:
    import resource
except ImportError:  # Windows: a trusted run there has no limits but its time
    resource = None  # type: ignore[assignment]

KIB = 1 << 10
MAX_FILES = 16  # files taken from the run's writable folder


def safe_name(name: str) -> bool:
    """A plain file name (no folder, no link games) that the grader takes back."""
    return (
        bool(name)
        and len(name) <= 100
        and name not in (".", "..")
        and all(c.isalnum() or c in "._-" for c in name)
    )


def _set_limits(cpu: int, memory: int, output: int) -> None:
    """On this process, before the run starts: every process of the run inherits them."""
    if resource is None:
        return

    for name, value in (
        ("RLIMIT_CPU", cpu),
        ("RLIMIT_AS", memory),
        ("RLIMIT_FSIZE", output),
        ("RLIMIT_CORE", 0),
    ):
        kind = getattr(resource, name, None)
        if kind is None:
            continue
        _soft, hard = resource.getrlimit(kind)
        # CPU: the soft limit sends SIGXCPU (named in the report); the hard one kills.
        soft_value = value
        hard_value = value + 5 if name == "RLIMIT_CPU" else value
        if hard != resource.RLIM_INFINITY:
            soft_value, hard_value = min(soft_value, hard), min(hard_value, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(kind, (soft_value, hard_value))


def _not_dumpable() -> None:
    """No other process of the box (same user) may read this one's memory or descriptors."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0


def _end_everything_else() -> None:
    """SIGKILL every other process of this PID namespace (the box), until none is left.

    Only ever called as PID 1 or 2 of a fresh namespace (bwrap's init is 1):
    outside a box this would be a disaster, so the caller checks.
    """
    me = os.getpid()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        others = [
            int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and int(p.name) > 2
        ]
        others = [pid for pid in others if pid != me and _alive(pid)]
        if not others:
            return
        for pid in others:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)  # bwrap's init reaps them


def _alive(pid: int) -> bool:
    """Running or stopped, not a zombie waiting for its reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


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


def _is_full(folder: Path) -> bool:
    """Whether the run's writable space is (nearly) used up: a box's /tmp is its output limit."""
    try:
        stat = os.statvfs(folder)
    except (OSError, AttributeError):
        return False
    return stat.f_bavail * stat.f_frsize < 256 * KIB


def supervise(argv: Sequence[str] | None = None) -> int:
    """Run the command after --, limited; report on --report-fd (1: stdout); its exit code."""
    parser = argparse.ArgumentParser(prog="python -m kata.teacher.supervisor")
    parser.add_argument("--out", required=True)
    parser.add_argument("--report-fd", type=int, required=True, help="1: stdout")
    parser.add_argument("--wall", type=float, required=True)
    parser.add_argument("--cpu", type=int, required=True)
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--output", type=int, required=True)
    parser.add_argument("--end-all", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.report_fd == 1:
        # The report alone on stdout; the run's own output goes to stderr.
        report = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)
    else:
        report = os.fdopen(args.report_fd, "wb")
    _not_dumpable()
    for folder in (args.out, os.environ.get("HOME", "")):
        if folder:
            with contextlib.suppress(OSError):
                Path(folder).mkdir(parents=True, exist_ok=True)
    _set_limits(args.cpu, args.memory, args.output)
    code, signal_name, timed_out = 127, "", False
    try:
        # close_fds (the default): the run does not get the report's pipe.
        # With the report on stdout, the run's output goes to stderr (by handle, for Windows).
        output = 2 if args.report_fd == 1 else None
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output)
        try:
            code = child.wait(timeout=args.wall)
        except subprocess.TimeoutExpired:
            # The grader's own clock would stop the box too; this one reports it.
            timed_out = True
            child.kill()
            code = child.wait()
    except OSError as exc:
        print(f"kata box: cannot start {command[:1]}: {exc}", file=sys.stderr, flush=True)
    if code < 0:
        with contextlib.suppress(ValueError):
            signal_name = signal.Signals(-code).name
        code = 128 - code
    if args.end_all and os.getpid() in (1, 2):
        _end_everything_else()
    files = _collect(Path(args.out), args.output)
    header = {
        "code": code,
        "signal": signal_name,
        "timed_out": timed_out,
        "full": _is_full(Path(args.out)),
        "files": [[n, len(d)] for n, d in files],
    }
    with contextlib.suppress(OSError):
        report.write(json.dumps(header).encode() + b"\n")
        for _name, data in files:
            report.write(data)
        report.close()
    return code


if __name__ == "__main__":
    sys.exit(supervise())
