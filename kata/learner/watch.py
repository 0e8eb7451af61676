"""`kata watch`: run the current exercise again on every save, move on when it passes.

The watch process starts one broker and keeps it for every run. Each run is
a fresh pytest process (so the edited exercise is imported anew) that finds
the broker through KATA_BROKER_JSON (`brokers.open_session` uses it).

The next run's pytest process is started while the learner is still typing:
it imports pytest, paho and the harness, collects the exercise's tests (the
`exercise()` handles are lazy: not the exercise itself) and waits for a "go"
line, so a save is answered in about the time the first failing test takes.
Should the collection have imported the exercise, or a test file have changed
since, the worker runs a fresh pytest instead.

Files are watched with watchfiles' events, else (--poll; some network and
container file systems) their times and sizes are looked at every 50 ms; not
with watchfiles' own polling, which compares times to the second and misses a
second save within it. A key press runs the tests again in any case; on a
terminal one key is enough (h: next hint, q: quit), elsewhere a line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

import pytest

from kata.core import brokers
from kata.core.brokers import Broker, stop_cleanly_on_sigterm
from kata.core.catalog import ROOT, Catalog, Exercise
from kata.core.i18n import pick_language, t
from kata.core.results import DONE, explain, score
from kata.core.results import load as load_results
from kata.learner.explore import enable_ansi
from kata.learner.progress import (
    FAIL_FAST,
    RunFailed,
    explain_failed_run,
    fingerprint,
    hint_lines,
    lesson_intro,
    progress,
    pytest_env,
    remember,
)

BROKER_ENV = brokers.SHARED_ENV
POLL_INTERVAL = 0.05  # seconds between two looks at the files where there are no events
GO = "go"
ENTER = ""  # what a key press of Enter (or an empty line) is reported as
Event = tuple[str, tuple]  # the Watch method to call in the main thread, and its arguments


def shared_broker_env(broker: Broker | None) -> dict[str, str]:
    """Environment for pytest processes that should use `broker` (None: their own)."""
    return {} if broker is None else {BROKER_ENV: broker.to_json()}


def _in_thread(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=f"kata-watch-{name}", daemon=True)
    thread.start()
    return thread


# --- running the tests: a pytest process collected before it is needed -------


class WaitForGo:
    """A pytest plugin: after collection, wait for "go" on stdin before running the tests."""

    def __init__(self, args: list[str], tree: str, commands: int) -> None:
        self.args, self.tree, self.commands = args, tree, commands
        self.stamps: dict[Path, tuple[int, int]] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.stamps = {path: _stamp(path) for path in {Path(i.path) for i in session.items}}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        sys.stdout.flush()
        if read_line(self.commands) != GO:
            os._exit(0)  # watch moved on before it needed this worker
        if self.stale():
            # What was collected may not be what is on disk now: a fresh run.
            sys.stdout.flush()
            os._exit(subprocess.call([sys.executable, "-m", "pytest", *self.args]))

    def stale(self) -> bool:
        tree = self.tree
        if any(name == tree or name.startswith(f"{tree}.") for name in list(sys.modules)):
            return True  # a test module imported the exercise while collecting
        return any(_stamp(path) != stamp for path, stamp in self.stamps.items())


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (0, -1)
    return (st.st_mtime_ns, st.st_size)


def read_line(fd: int) -> str:
    """One line from a file descriptor, not a byte more (what follows is for later)."""
    data = bytearray()
    while not data.endswith(b"\n") and (byte := os.read(fd, 1)):
        data += byte
    return data.decode("utf-8").strip()


def warm_worker() -> None:
    """`python -c ... TREE PYTEST_ARGS...`: collect, then run the tests when "go" comes."""
    # pytest's capture puts /dev/null on file descriptor 0 while it runs: keep
    # our own handle on the pipe the commands come through.
    commands, tree, args = os.dup(sys.stdin.fileno()), sys.argv[1], sys.argv[2:]
    raise SystemExit(pytest.main(args, plugins=[WaitForGo(args, tree, commands)]))


# --- noticing saves and keys ----------------------------------------------------


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(mtime in ns, size) of every Python file under root."""
    return {p.as_posix(): _stamp(p) for p in root.rglob("*.py") if "__pycache__" not in p.parts}


def poll_changes(
    root: Path, stop: threading.Event, interval: float = POLL_INTERVAL
) -> Iterator[set[str]]:
    """Paths changed, added or removed under root, looked at every `interval` seconds.
    The first look is taken now, not when the first change is asked for."""
    before = _snapshot(root)

    def changes() -> Iterator[set[str]]:
        nonlocal before
        changed: set[str] = set()
        while not stop.wait(interval):
            now = _snapshot(root)
            moved = {p for p in before.keys() | now.keys() if before.get(p) != now.get(p)}
            before = now
            if moved:
                # A save may be seen half written (truncated, then written): wait
                # for one look without a change, so that a run reads the whole file.
                changed |= moved
            elif changed:
                yield changed
                changed = set()

    return changes()


def watchfiles_changes(root: Path, stop: threading.Event) -> Iterator[set[str]]:
    """Sets of Python files changed under root, from the file system's events."""
    import watchfiles

    for changes in watchfiles.watch(
        root,
        watch_filter=watchfiles.PythonFilter(),
        debounce=400,
        step=20,  # yield 20 ms after the last change: an editor's save is one burst
        stop_event=stop,
        raise_interrupt=False,
    ):
        yield {path for _, path in changes}


def watch_files(root: Path, events: queue.Queue[Event], stop: threading.Event, mode: str) -> None:
    """Report changes as events; mode: auto (file events, else polling) | poll | manual."""

    def watching(key: str, **fields: object) -> None:
        events.put(("on_watcher", (t(key, **fields),)))

    if mode == "manual":
        watching("watch.watcher.manual")
        return
    try:
        if mode == "auto":
            with contextlib.suppress(Exception):  # no file events here: poll instead
                watching("watch.watcher.events")
                for _ in watchfiles_changes(root, stop):
                    events.put(("on_change", ()))
                return
        # Also where watchfiles cannot watch: some network or container file systems.
        watching("watch.watcher.poll")
        for _ in poll_changes(root, stop):
            events.put(("on_change", ()))
    except Exception as exc:
        watching("watch.watcher.failed", error=f"{type(exc).__name__}: {exc}"[:80])


@contextlib.contextmanager
def single_keys(stream: TextIO) -> Iterator[bool]:
    """On a terminal: keys arrive one by one; yields whether they do. (Windows: msvcrt
    reads them; POSIX: cbreak mode, where Ctrl-C still interrupts, undone on the way out.)"""
    try:
        fd = stream.fileno()
        one_by_one = os.isatty(fd)
    except (OSError, ValueError, AttributeError):
        one_by_one = False
    if not one_by_one or sys.platform == "win32":
        yield one_by_one
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield True
    finally:
        with contextlib.suppress(OSError):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def read_keys(stream: TextIO, one_by_one: bool) -> Iterator[str]:
    """Keys as events: one character at a time on a terminal, else one line at a time."""
    if not one_by_one:
        yield from (line.strip().lower() for line in stream)
        return
    while True:
        if sys.platform == "win32":
            import msvcrt

            keys = msvcrt.getwch()  # type: ignore[attr-defined]
            if keys in ("\x00", "\xe0"):  # an arrow or function key: two characters
                msvcrt.getwch()  # type: ignore[attr-defined]
                continue
        else:
            keys = os.read(stream.fileno(), 32).decode("utf-8", errors="ignore")
            if not keys:
                return
        yield from (ENTER if key in "\r\n" else key.lower() for key in keys)


# --- what the learner sees ----------------------------------------------------


class Watch:
    """The watch loop: one current exercise, runs on events, moves on when it passes."""

    def __init__(
        self, catalog: Catalog, args: argparse.Namespace, out: TextIO, keys: TextIO | None
    ) -> None:
        self.catalog, self.tree, self.out, self.keys = catalog, args.target, out, keys
        self.watcher_mode = "manual" if args.manual else "poll" if args.poll else "auto"
        self.exit_when_done = args.exit_when_done
        self.tty = out.isatty()
        if self.tty:
            enable_ansi()
        self.env = pytest_env()  # with the shared broker: run() put it in os.environ
        # pytest processes: the run going on, and the next one's, started ahead of time
        # for this exercise (its id).
        self.current: subprocess.Popen | None = None
        self.spare: tuple[str, subprocess.Popen] | None = None
        self.events: queue.Queue[Event] = queue.Queue()
        self.stop = threading.Event()
        self.watching, self.one_key = t("watch.watcher.starting"), False
        self.exercise: Exercise | None = None
        self.hint_level, self.runs, self.status = 1, 0, {}
        self._tmp = Path(tempfile.mkdtemp(prefix="kata-watch-"))
        self._json = self._tmp / "results.json"
        self._started, self._fingerprint = 0.0, ""

    def say(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.out, flush=True)

    def prepare_next(self) -> None:
        """The next run's process, collected and waiting while the learner types."""
        ex = self.exercise
        if ex is None or (self.spare and self.spare[0] == ex.id and self.spare[1].poll() is None):
            return
        self._discard_spare()
        # Plugins imported early by the warm worker cannot have their asserts
        # rewritten; pytest warns (an error here), and nothing is lost.
        args = ["-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
        args += ["--target", self.tree, ex.tests, "-q", *FAIL_FAST, "--kata-json", str(self._json)]
        worker = [sys.executable, "-c", "from kata.learner.watch import warm_worker; warm_worker()"]
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
        text = {"encoding": "utf-8", "errors": "replace"}
        proc = subprocess.Popen(
            [*worker, self.tree, *args], cwd=ROOT, env=self.env, **pipes, **text
        )
        self.spare = (ex.id, proc)

    def _discard_spare(self) -> None:
        if self.spare is not None:
            self.spare[1].kill()
            self.spare[1].communicate()
        self.spare = None

    def _cancel(self) -> None:
        if self.current is not None and self.current.poll() is None:
            self.current.kill()
            self.current.wait()

    def go_to(self, ex: Exercise) -> None:
        self.exercise, self.hint_level = ex, 1
        self.run_current()

    def run_current(self) -> None:
        self._cancel()
        ex = self.exercise
        assert ex is not None
        self.runs += 1
        run_id = self.runs
        self._json.unlink(missing_ok=True)  # the run cancelled before this one is gone
        self._fingerprint = fingerprint(ex, self.tree)  # before the run: a save may follow
        self._started = time.monotonic()
        self.prepare_next()
        (_, proc), self.spare = self.spare, None  # type: ignore[misc]
        # A worker that already ended (no broker, a usage error) said why on stdout.
        with contextlib.suppress(OSError):
            proc.stdin.write(GO + "\n")
            proc.stdin.close()
        self.current = proc
        self.say("", t("watch.running", id=ex.id))

        def wait() -> None:
            output = ""
            try:
                output = proc.stdout.read()  # until the process ends (or is killed)
            except (OSError, ValueError) as exc:
                output = t("watch.no_output", error=exc)
            finally:
                self.events.put(("on_finished", (run_id, proc.wait(), output)))

        _in_thread(wait, "run")

    def on_finished(self, run_id: int, code: int, output: str) -> None:
        ex = self.exercise
        if run_id != self.runs or ex is None:
            return  # a run cancelled by a newer save
        seconds = time.monotonic() - self._started
        if self.tty:
            self.out.write("\x1b[H\x1b[2J")  # a fresh screen for each result
        path = ex.relpath(self.tree)
        self.say(t("watch.result", id=ex.id, path=path, run=run_id, seconds=seconds))
        results = load_results(self._json) if self._json.exists() else None
        mine = [r for r in results.tests if r.exercise == ex.id] if results else []
        if not mine:
            # pytest itself failed (a usage error, no broker, a broken conftest).
            self.say(explain_failed_run(code, output), "", *self.footer())
            self.prepare_next()
            return
        (scored,) = score(mine, self.catalog, {ex.id})
        # Keep `kata list`'s cache right, so it need not run this exercise again.
        remember([scored], {scored.id: self._fingerprint}, self.tree)
        self.status[scored.id] = {"status": scored.status}
        if scored.status == DONE:
            self.say(t("watch.done", id=ex.id, total=scored.total, points=ex.points))
            self.advance(after=ex)
            return
        lesson = lesson_intro(ex, pick_language(None))
        lesson += [t("watch.lesson", module=ex.module)] if lesson else []
        reasons = explain(mine, pick_language(None), full_first=True)
        self.say("", *lesson, "", *reasons, "", *self.hint_lines(), "", *self.footer())
        # Only now: a process starting during the run would slow it down.
        self.prepare_next()

    def advance(self, after: Exercise | None = None) -> None:
        """Go to the first exercise (after `after`) not known to be done, and run it."""
        exercises = self.catalog.exercises()
        for ex in exercises[exercises.index(after) + 1 if after else 0 :]:
            if self.status.get(ex.id, {}).get("status") != DONE:
                self.go_to(ex)
                return
        self.exercise = None
        self.say("", t("all_done"))
        if self.exit_when_done:
            self.stop.set()
        else:
            self.say(*self.footer())

    def hint_lines(self) -> list[str]:
        if self.exercise is None:
            return []
        more = "watch.more_hints.key" if self.one_key else "watch.more_hints.line"
        return hint_lines(self.exercise, self.hint_level, more)

    def footer(self) -> list[str]:
        keys = t("watch.keys.key" if self.one_key else "watch.keys.line")
        return [t("watch.footer", tree=self.tree, watching=self.watching, keys=keys)]

    def on_watcher(self, watching: str) -> None:
        self.watching = watching

    def on_change(self) -> None:
        if self.exercise is not None:
            self.run_current()
        else:
            self.status = {}  # something changed: look again from the start
            self.advance()

    def on_key(self, key: str) -> None:
        if key in ("q", "quit", "exit"):
            self.stop.set()
        elif key == "h" and self.exercise is not None:
            self.hint_level = min(self.hint_level + 1, len(self.exercise.hints))
            self.say("", *self.hint_lines())
        elif key in (ENTER, "r", " "):
            self.on_change()

    def loop(self, status: dict[str, dict], start: Exercise | None = None) -> None:
        self.status = dict(status)
        root = ROOT / self.tree
        watcher = _in_thread(
            lambda: watch_files(root, self.events, self.stop, self.watcher_mode), "files"
        )
        with contextlib.ExitStack() as stack:
            if self.keys is not None:
                self.one_key = stack.enter_context(single_keys(self.keys))
                _in_thread(self._read_keys, "keys")
            try:
                if start is not None:  # kata watch NAME
                    self.go_to(start)
                else:
                    self.advance()
                while not self.stop.is_set():
                    with contextlib.suppress(queue.Empty):
                        # Short waits: Ctrl-C reaches a thread blocked on a lock
                        # only when the wait ends (Windows).
                        name, values = self.events.get(timeout=0.2)
                        getattr(self, name)(*values)
            finally:
                self.stop.set()
                self._cancel()
                self._discard_spare()
                watcher.join(timeout=2)
                shutil.rmtree(self._tmp, ignore_errors=True)

    def _read_keys(self) -> None:
        # End of input (no terminal, or Ctrl-D): keep watching the files.
        with contextlib.suppress(OSError, ValueError):
            for key in read_keys(self.keys, self.one_key):  # type: ignore[arg-type]
                self.events.put(("on_key", (key,)))


def run(
    catalog: Catalog,
    args: argparse.Namespace,
    start: Exercise | None = None,
    out: TextIO = sys.stdout,
    keys: TextIO | None = sys.stdin,
) -> int:
    """The `kata watch` command (`start`: the named exercise); returns the exit code.

    Every run uses one broker: an external one (MQTT_BROKER_URL) costs nothing
    to reach, so each run uses it directly; a local or Docker one is started here once.
    """
    mode, tree = args.broker or os.environ.get("KATA_BROKER") or "auto", args.target
    undo = stop_cleanly_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="kata-watch-broker-"))
    saved = os.environ.get(BROKER_ENV)
    broker: Broker | None = None
    try:
        try:
            if brokers.choose(mode).kind != "external":
                broker, _ = brokers.open_session(mode, workdir)  # falls back from Docker too
        except brokers.BrokerError as exc:
            print(t("watch.no_broker", error=exc), file=out)
            return 2
        where = broker.describe() if broker else t("watch.external_broker")
        print(t("watch.broker", where=where), file=out)
        print(t("watch.checking"), file=out, flush=True)
        # Every pytest run, progress()'s and the watch's own, passes os.environ on.
        os.environ.update(shared_broker_env(broker))
        try:
            status = progress(catalog, tree)
        except RunFailed as exc:
            print(exc, file=out)
            return 2
        Watch(catalog, args, out, keys).loop(status, start)
        return 0
    except KeyboardInterrupt:
        print("\n" + t("watch.stopped"), file=out, flush=True)
        return 0
    finally:
        if broker is not None:
            with contextlib.suppress(Exception):
                broker.close()
        brokers.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
        os.environ.pop(BROKER_ENV, None)
        if saved is not None:
            os.environ[BROKER_ENV] = saved
        undo()
