"""What code under test may not do to the test process itself, and how the harness notices.

An exercise runs inside the pytest process; whatever it does there must end as one
line of that exercise's failure, never take the run down:
- os._exit() raises ExitCalled (a SystemExit), not a silent end with exit code 0;
- os.fork() outside subprocess: the child copy of the run ends at once, the test fails;
- a thread left running, not a daemon (the run could never end) or busy on a CPU:
  stopped where Python can, and reported at the end of its test;
- Ctrl-C and SIGTERM stop the run even when the KeyboardInterrupt lands in a gc
  callback or a __del__, where Python would print and drop it.
No pytest hooks here (the hang timer is in plugin.py).
"""

from __future__ import annotations

import _thread
import contextlib
import ctypes
import functools
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, FrameType

from kata.core.i18n import t
from kata.core.target import ExitCalled, in_tree

_REAL_EXIT = os._exit
_MAIN_PID = os.getpid()
# The at-fork hooks cannot be removed: they act only while the plugin is configured.
_armed = False
_hooks_registered = False
_forks: list[tuple[str, str, int]] = []  # where the code under test forked (parent side)
Place = tuple[str, str, int]  # (relpath, qualified function, line) in the tree under test


# --- where is the code under test -------------------------------------------------


def _place(code: CodeType, line: int) -> Place | None:
    rel = in_tree(code.co_filename)
    return None if rel is None else (rel, getattr(code, "co_qualname", code.co_name), line)


def stack_in_tree(frame: FrameType | None) -> list[Place]:
    """Each frame of the tree under test on a stack, innermost first."""
    found = []
    while frame is not None:
        place = _place(frame.f_code, frame.f_lineno)
        if place is not None:
            found.append(place)
        frame = frame.f_back
    return found


def causes(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc` and the exceptions it was raised from or during, each once."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def traceback_in_tree(exc: BaseException | None) -> list[Place]:
    """The tree's frames in the tracebacks of `exc` and its causes, outermost first."""
    frames: list[Place] = []
    for one in causes(exc):
        chain, tb = [], one.__traceback__
        while tb is not None:
            place = _place(tb.tb_frame.f_code, tb.tb_lineno)
            if place is not None:
                chain.append(place)
            tb = tb.tb_next
        frames = chain + frames
    return frames


def where_text(frames: list[Place]) -> str:
    path, func, line = frames[0]
    return t("where.line", path=path, func=func, line=line)


# --- os._exit and os.fork -------------------------------------------------------


def _guarded_exit(code: int) -> None:
    # Another process (a fork child of multiprocessing, pytest-timeout's last
    # resort on Windows) exits as asked; the test process refuses the code
    # under test only.
    if os.getpid() == _MAIN_PID and _armed and stack_in_tree(sys._getframe(1)):
        raise ExitCalled(code)
    _REAL_EXIT(code)


def _from_subprocess(frame: FrameType) -> bool:
    """subprocess forks to exec at once (and runs at-fork hooks only with preexec_fn)."""
    return Path(frame.f_code.co_filename).name == "subprocess.py"


def _after_fork_in_child() -> None:
    caller = sys._getframe(1)
    if _armed and not _from_subprocess(caller) and stack_in_tree(caller):
        # A second copy of the whole test session: end it before it runs a
        # single line more (no atexit, no flushing of inherited buffers).
        _REAL_EXIT(0)


def _after_fork_in_parent() -> None:
    caller = sys._getframe(1)
    where = stack_in_tree(caller) if _armed and not _from_subprocess(caller) else []
    if where:
        _forks.append(where[0])


def arm() -> None:
    """From now on the process refuses os._exit and fork from the code under test."""
    global _armed, _hooks_registered, _MAIN_PID
    _MAIN_PID, _armed, os._exit = os.getpid(), True, _guarded_exit
    if hasattr(os, "register_at_fork") and not _hooks_registered:
        os.register_at_fork(
            after_in_child=_after_fork_in_child, after_in_parent=_after_fork_in_parent
        )
        _hooks_registered = True


def disarm() -> None:
    global _armed
    _armed, os._exit = False, _REAL_EXIT


def take_forks() -> list[Place]:
    """Where the code under test forked since the last call."""
    found = list(_forks)
    _forks.clear()
    return found


def hard_exit(code: int) -> None:
    """End the process now (the summary and results are written; a thread would block exit)."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()
    _REAL_EXIT(code)


# --- threads the test left running -------------------------------------------------


@dataclass
class LeftThread:
    name: str
    where: str  # relpath: function, line N (the code under test it is running)
    busy: bool
    stopped: bool


def _thread_stack(thread: threading.Thread) -> list[Place]:
    found = stack_in_tree(sys._current_frames().get(thread.ident or -1))
    code = getattr(getattr(thread, "_target", None), "__code__", None)
    if not found and code is not None:
        # Not running the tree's code this instant: its target may still be.
        place = _place(code, code.co_firstlineno)
        found = [place] if place is not None else []
    return found


def stuck_threads(before: set[threading.Thread]) -> list[tuple[str, str]]:
    """(thread name, where) of threads started since `before` that are in the tree's code now."""
    now = sys._current_frames()
    fresh = [thread for thread in threading.enumerate() if thread not in before]
    stacks = [(thread.name, stack_in_tree(now.get(thread.ident or -1))) for thread in fresh]
    return [(name, where_text(frames)) for name, frames in stacks if frames]


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
BUSY_SHARE = 0.4  # of one CPU, over the thread's life: an idle or waiting thread uses ~0
_MIN_AGE = 0.2  # seconds of life before a share means something
_WINDOW = 0.1  # seconds of a second look, when the share over its life is low


def _cpu_and_age(native_id: int | None) -> tuple[float, float] | None:
    """Linux: (CPU seconds, seconds alive) of one thread of this process; else None."""
    if native_id is None or not sys.platform.startswith("linux"):
        return None
    try:
        stat = Path(f"/proc/self/task/{native_id}/stat").read_text()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError):
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    cpu = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return cpu, max(0.0, uptime - int(fields[19]) / _CLOCK_TICKS)


def is_busy(thread: threading.Thread) -> bool:
    measured = _cpu_and_age(thread.native_id)
    if measured is not None and measured[1] < _MIN_AGE:
        thread.join(_MIN_AGE - measured[1])  # it may be about to end; otherwise measure again
        measured = _cpu_and_age(thread.native_id) if thread.is_alive() else None
    if measured is None:
        return False
    cpu, age = measured
    if age > 0 and cpu / age >= BUSY_SHARE:
        return True
    if cpu == 0:
        return False  # not one clock tick: idle or waiting all its life
    # A busy machine gives a spinning thread only part of a CPU: while this
    # thread waits, does the rest of the process's CPU go to that one thread?
    process_before = _process_cpu()
    thread.join(_WINDOW)
    after = _cpu_and_age(thread.native_id) if thread.is_alive() else None
    if after is None:
        return False
    spent = after[0] - cpu
    return spent >= 2 / _CLOCK_TICKS and spent >= 0.5 * (_process_cpu() - process_before)


def _process_cpu() -> float:
    times = os.times()
    return times.user + times.system


class ThreadStopped(SystemExit):
    """Raised inside a runaway thread to end it; threading drops a SystemExit silently."""


def stop_thread(thread: threading.Thread, wait: float = 0.5) -> bool:
    """Raise ThreadStopped in `thread` (CPython); True if it ended within `wait` seconds.
    A thread blocked in a C call (a socket read) ends only when that call returns."""
    if thread.ident is None or not thread.is_alive():
        return True
    with contextlib.suppress(AttributeError, OSError):
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(ThreadStopped)
        )
    thread.join(wait)
    return not thread.is_alive()


def drop_stopped_threads() -> Callable[[], None]:
    """threading.excepthook ignores ThreadStopped (a thread the kata ended); returns the undo."""
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is None or not issubclass(args.exc_type, ThreadStopped):
            previous(args)

    threading.excepthook = hook
    return functools.partial(_restore, threading, "excepthook", hook, previous)


def _restore(owner: object, attr: str, ours: object, previous: object) -> None:
    """Put `previous` back, unless someone replaced ours meanwhile."""
    if getattr(owner, attr) is ours:
        setattr(owner, attr, previous)


def left_running(before: set[threading.Thread], grace: float = 0.5) -> list[LeftThread]:
    """Threads of the tree, started since `before`, that the test left behind: a non-daemon
    one (exit would wait for it) or a busy one, each stopped if Python can. An idle
    daemon thread costs nothing and is left alone."""
    deadline = time.monotonic() + grace
    found = []
    for thread in threading.enumerate():
        if thread in before or thread is threading.current_thread() or not thread.is_alive():
            continue
        frames = _thread_stack(thread)
        if not frames:
            continue  # the harness's or a library's own thread
        if not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))  # it may be ending
            if not thread.is_alive():
                continue
        busy = is_busy(thread)
        if thread.daemon and not busy:
            continue
        frames = _thread_stack(thread) or frames
        found.append(LeftThread(thread.name, where_text(frames), busy, stop_thread(thread)))
    return found


def blocking_exit(wait: float = 0.5) -> list[tuple[str, str | None]]:
    """Non-daemon threads Python would wait for at exit: (name, the tree's code it runs or
    None). The tree's are stopped if Python can; others get `wait` seconds to end."""
    alive: list[tuple[str, str | None]] = []
    for thread in threading.enumerate():
        if thread in (threading.main_thread(), threading.current_thread()) or thread.daemon:
            continue
        frames = _thread_stack(thread) if thread.is_alive() else []
        if frames:
            stop_thread(thread, wait)
        else:
            thread.join(wait)
        if thread.is_alive():
            alive.append((thread.name, where_text(frames) if frames else None))
    return alive


# --- Ctrl-C and SIGTERM ---------------------------------------------------------------

_interrupts: list[int] = []  # signals received: the run must stop


def interrupted() -> bool:
    return bool(_interrupts)


def unsafe_to_raise(frame: FrameType | None) -> bool:
    """Inside a gc callback or a __del__: Python would print and drop what a handler raises."""
    codes = {getattr(getattr(cb, "__func__", cb), "__code__", None) for cb in gc.callbacks}
    while frame is not None:
        if frame.f_code in codes or frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def signal_main(signum: int) -> None:
    """Deliver `signum` to the main thread now, even inside a blocking wait.

    _thread.interrupt_main() only runs the handler once the main thread's
    wait ends by itself (a learner's 5 s timeout); a real signal ends it.
    """
    if hasattr(signal, "pthread_kill"):
        with contextlib.suppress(OSError):
            signal.pthread_kill(threading.main_thread().ident or 0, signum)
    else:  # pragma: no cover - Windows
        _thread.interrupt_main(signum)


def _redeliver(signum: int) -> None:
    """signal_main in a moment (10 ms: the gc callback or __del__ returns first)."""

    def send() -> None:
        threading.Event().wait(0.01)
        signal_main(signum)

    threading.Thread(target=send, name="kata-interrupt", daemon=True).start()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _interrupts.append(signum)
    if unsafe_to_raise(frame):
        _redeliver(signum)
        return
    raise KeyboardInterrupt(signal.Signals(signum).name)


def stop_on_signals(names: tuple[str, ...] = ("SIGINT", "SIGTERM")) -> Callable[[], None]:
    """Ctrl-C (SIGINT) and SIGTERM stop the run at once, with cleanup; returns the undo.

    SIGTERM (a CI time limit, `kill`) cleans up like Ctrl-C: else the brokers live on.
    A handler can run inside a gc callback (hypothesis has one) or a __del__, where a
    KeyboardInterrupt would be printed and dropped: there the signal comes again a
    moment later (catch_lost_interrupts catches the rest). A handler someone else
    installed (or SIG_IGN) is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    undo: list[Callable[[], object]] = [_interrupts.clear]
    for name, default in (("SIGINT", signal.default_int_handler), ("SIGTERM", signal.SIG_DFL)):
        signum = getattr(signal, name, None) if name in names else None
        if signum is not None and signal.getsignal(signum) is default:
            signal.signal(signum, _on_signal)
            undo.insert(0, functools.partial(signal.signal, signum, default))

    def restore() -> None:
        for step in undo:
            step()

    return restore


def catch_lost_interrupts() -> Callable[[], None]:
    """A KeyboardInterrupt Python would drop as unraisable is raised again; returns the undo."""
    previous = sys.unraisablehook

    def on_unraisable(unraisable: sys.UnraisableHookArgs) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            _redeliver(_interrupts[-1] if _interrupts else signal.SIGINT)
        else:
            previous(unraisable)

    sys.unraisablehook = on_unraisable
    return functools.partial(_restore, sys, "unraisablehook", on_unraisable, previous)


def cap_middle(text: str, limit: int, cut: Callable[[int], str]) -> str:
    """`text` if short enough, else its start and end around cut(characters left out)."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + cut(len(text) - 2 * half) + text[-half:]
