"""`kata watch`: run the current exercise again on every save, move on when it passes.

The watch process starts one broker and keeps it for every run. Each run is
a fresh pytest process (so the edited exercise is imported anew) that finds
the broker through the environment: KATA_BROKER_JSON describes it, and
`brokers.open_session` uses it instead of starting one.

The next run's pytest process is started while the learner is still typing:
it imports pytest, paho and the harness, collects the exercise's tests
(which do not import the exercise itself: `exercise()` handles are lazy) and
then waits for a "go" line. A save is answered in about the time the first
failing test takes. Should the collection have imported the exercise, or a
test file have changed since, the worker runs a fresh pytest instead.

Files are watched with watchfiles' file events; where there are none (--poll;
some network and container file systems, or no watchfiles) the files' times
and sizes are looked at every 50 ms. Not watchfiles' own polling: it compares
times to the second, and misses a second save within the same second (3 of 8
saves made 0.6 s apart, measured). A key press runs the tests again in any
case; on a terminal one key is enough (h: next hint, q: quit), elsewhere a line.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pytest

from kata.core import brokers
from kata.core.brokers import Broker, stop_cleanly_on_sigterm
from kata.core.catalog import ROOT, Exercise
from kata.core.i18n import pick_language, t
from kata.core.results import DONE, ExerciseScore, explain, score
from kata.core.results import load as load_results
from kata.learner.explore import enable_ansi
from kata.learner.progress import (
    FAIL_FAST,
    RunFailed,
    explain_failed_run,
    fingerprint,
    lesson_intro,
    progress,
    remember,
)

BROKER_ENV = brokers.SHARED_ENV
POLL_INTERVAL = 0.05  # seconds between two looks at the files where there are no events
GO = "go"


def _t(key: str, **fields: object) -> str:
    return t(key, pick_language(None), **fields)


# --- sharing the broker with pytest processes ---------------------------------


def shared_broker_env(broker: Broker | None) -> dict[str, str]:
    """Environment for pytest processes that should use `broker` (None: their own)."""
    return {} if broker is None else {BROKER_ENV: broker.to_json()}


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
    while not data.endswith(b"\n"):
        byte = os.read(fd, 1)
        if not byte:
            break
        data += byte
    return data.decode("utf-8").strip()


def warm_worker() -> None:
    """Read pytest's arguments, collect, then run the tests when "go" comes."""
    # pytest's capture puts /dev/null on file descriptor 0 while it runs: keep
    # our own handle on the pipe the commands come through.
    commands = os.dup(sys.stdin.fileno())
    line = read_line(commands)
    if not line:
        return  # watch ended before it needed this worker
    spec = json.loads(line)
    plugin = WaitForGo(spec["args"], spec["tree"], commands)
    raise SystemExit(pytest.main(spec["args"], plugins=[plugin]))


class WarmPytest:
    """Runs pytest in processes started ahead of time; one run at a time."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self._spare: subprocess.Popen | None = None
        self._spare_key: tuple[str, ...] = ()
        self.current: subprocess.Popen | None = None

    def _spawn(self, args: list[str], tree: str) -> subprocess.Popen:
        code = "from kata.learner.watch import warm_worker; warm_worker()"
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"args": args, "tree": tree}) + "\n")
        proc.stdin.flush()
        return proc

    def prepare(self, args: list[str], tree: str) -> None:
        """Start the process for the next run with these arguments, unless it is there."""
        key = (tree, *args)
        if self._spare is not None and self._spare.poll() is None and self._spare_key == key:
            return
        self._discard_spare()
        self._spare, self._spare_key = self._spawn(args, tree), key

    def start(self, args: list[str], tree: str) -> subprocess.Popen:
        self.prepare(args, tree)
        proc, self._spare = self._spare, None
        assert proc is not None and proc.stdin is not None
        # A worker that already ended (no broker, a usage error) said why on stdout.
        with contextlib.suppress(OSError):
            proc.stdin.write(GO + "\n")
            proc.stdin.close()
        self.current = proc
        return proc

    def cancel(self) -> None:
        if self.current is not None and self.current.poll() is None:
            self.current.kill()
            self.current.wait()
        self.current = None

    def _discard_spare(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.kill()
            spare.communicate()

    def close(self) -> None:
        self.cancel()
        self._discard_spare()


# --- noticing saves -----------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(mtime in ns, size) of every Python file under root."""
    out: dict[str, tuple[int, int]] = {}
    for path in root.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        with contextlib.suppress(OSError):
            st = path.stat()
            out[path.as_posix()] = (st.st_mtime_ns, st.st_size)
    return out


def poll_changes(
    root: Path, stop: threading.Event, interval: float = POLL_INTERVAL
) -> Iterator[set[str]]:
    """Paths changed, added or removed under root, looked at every `interval` seconds.

    The first look is taken now, not when the first change is asked for.
    """
    return _poll(root, stop, interval, snapshot(root))


def _poll(
    root: Path, stop: threading.Event, interval: float, before: dict[str, tuple[int, int]]
) -> Iterator[set[str]]:
    changed: set[str] = set()
    while not stop.wait(interval):
        now = snapshot(root)
        moved = {p for p in before.keys() | now.keys() if before.get(p) != now.get(p)}
        before = now
        if moved:
            # A save may be seen half written (truncated, then written): wait
            # for one look without a change, so that a run reads the whole file.
            changed |= moved
        elif changed:
            yield changed
            changed = set()


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


@dataclass
class Event:
    kind: str  # change | key | finished | watcher
    value: object = None


def start_watcher(
    root: Path, events: queue.Queue[Event], stop: threading.Event, mode: str
) -> threading.Thread:
    """Report changes as events; mode: auto (file events, else polling) | poll | manual."""

    def poll(why: str) -> None:
        events.put(Event("watcher", why))
        for changed in poll_changes(root, stop):
            events.put(Event("change", changed))

    def run() -> None:
        if mode == "manual":
            events.put(Event("watcher", _t("watch.watcher.manual")))
            return
        try:
            if mode == "poll":
                poll(_t("watch.watcher.poll"))
                return
            try:
                events.put(Event("watcher", _t("watch.watcher.events")))
                for changed in watchfiles_changes(root, stop):
                    events.put(Event("change", changed))
            except ImportError:
                poll(_t("watch.watcher.missing"))
            except Exception:
                # No file events here (some network or container file systems).
                poll(_t("watch.watcher.poll"))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:80]
            events.put(Event("watcher", _t("watch.watcher.failed", error=error)))

    thread = threading.Thread(target=run, name="kata-watch-files", daemon=True)
    thread.start()
    return thread


# --- keys ---------------------------------------------------------------------

ENTER = ""  # what a key press of Enter (or an empty line) is reported as


@contextlib.contextmanager
def single_keys(stream: TextIO) -> Iterator[bool]:
    """On a POSIX terminal: keys arrive one by one (cbreak mode); yields whether they do.

    Ctrl-C still interrupts; the terminal's mode is put back on the way out.
    """
    if sys.platform == "win32":
        yield _is_console(stream)
        return
    try:
        import termios
        import tty

        fd = stream.fileno()
        if not os.isatty(fd):
            yield False
            return
        saved = termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError, AttributeError):
        yield False
        return
    try:
        tty.setcbreak(fd)
        yield True
    finally:
        with contextlib.suppress(OSError):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _is_console(stream: TextIO) -> bool:
    try:
        return os.isatty(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False


def _windows_keys() -> Iterator[str]:
    import msvcrt

    while True:
        key = msvcrt.getwch()  # type: ignore[attr-defined]
        if key in ("\x00", "\xe0"):
            msvcrt.getwch()  # type: ignore[attr-defined]  # an arrow or function key's 2nd half
            continue
        yield key


def read_keys(stream: TextIO, one_by_one: bool) -> Iterator[str]:
    """Keys as events: one character at a time on a terminal, else one line at a time."""
    if one_by_one and sys.platform == "win32":
        for key in _windows_keys():
            yield ENTER if key in "\r\n" else key.lower()
    elif one_by_one:
        fd = stream.fileno()
        while True:
            data = os.read(fd, 32)
            if not data:
                return
            for key in data.decode("utf-8", errors="ignore"):
                yield ENTER if key in "\r\n" else key.lower()
    else:
        for line in stream:
            yield line.strip().lower()


def start_keys(stream: TextIO, events: queue.Queue[Event], one_by_one: bool) -> threading.Thread:
    """Each key (or line) is an event: Enter runs again, h shows a hint, q quits."""

    def run() -> None:
        with contextlib.suppress(OSError, ValueError):
            for key in read_keys(stream, one_by_one):
                events.put(Event("key", key))
        # End of input (no terminal, or Ctrl-D): keep watching the files.

    thread = threading.Thread(target=run, name="kata-watch-keys", daemon=True)
    thread.start()
    return thread


# --- what the learner sees ----------------------------------------------------


class Watch:
    """The watch loop: one current exercise, runs on events, moves on when it passes."""

    def __init__(
        self,
        catalog: object,
        broker: Broker | None,
        *,
        tree: str = "exercises",
        out: TextIO = sys.stdout,
        keys: TextIO | None = None,
        watcher: str = "auto",
        exit_when_done: bool = False,
    ) -> None:
        self.catalog = catalog
        self.root = ROOT
        self.tree = tree
        self.out = out
        self.keys = keys
        self.watcher_mode = watcher
        self.exit_when_done = exit_when_done
        self.tty = out.isatty()
        if self.tty:
            enable_ansi()
        env = dict(os.environ, PYTHONUTF8="1", MPLBACKEND=os.environ.get("MPLBACKEND", "Agg"))
        env.update(shared_broker_env(broker))
        self.pytest = WarmPytest(env, ROOT)
        self.events: queue.Queue[Event] = queue.Queue()
        self.stop = threading.Event()
        self.watching = _t("watch.watcher.starting")
        self.one_key = False
        self.exercise: Exercise | None = None
        self.hint_level = 1
        self.runs = 0
        self.status: dict[str, dict] = {}
        self._tmp = Path(tempfile.mkdtemp(prefix="kata-watch-"))
        self._started = 0.0
        self._fingerprint = ""
        self._json: Path | None = None
        self._spares = 0

    def say(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.out, flush=True)

    # runs ------------------------------------------------------------------
    def _args(self, ex: Exercise) -> list[str]:
        """pytest's arguments for a run of `ex`, with a results file of its own."""
        self._spares += 1
        json_path = self._tmp / f"run-{self._spares}.json"
        # Plugins imported early by the warm worker cannot have their asserts
        # rewritten; pytest warns (an error here), and nothing is lost.
        args = ["-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
        args += ["--target", self.tree, ex.tests, "-q", *FAIL_FAST]
        return [*args, "--kata-json", str(json_path)]

    def _next_args(self) -> list[str] | None:
        if self.exercise is None:
            return None
        if self._prepared is None or self._prepared[0] != self.exercise.id:
            self._prepared = (self.exercise.id, self._args(self.exercise))
        return self._prepared[1]

    _prepared: tuple[str, list[str]] | None = None

    def prepare_next(self) -> None:
        """The next run's process, collected and waiting while the learner types."""
        args = self._next_args()
        if args is not None:
            self.pytest.prepare(args, self.tree)

    def run_current(self) -> None:
        self.pytest.cancel()
        ex = self.exercise
        assert ex is not None
        self.runs += 1
        args = self._next_args()
        assert args is not None
        self._prepared = None  # the next run writes another results file
        self._json = Path(args[-1])
        self._fingerprint = fingerprint(ex, self.tree)  # before the run: a save may follow
        self._started = time.monotonic()
        proc = self.pytest.start(args, self.tree)
        run_id = self.runs
        self.say("", _t("watch.running", id=ex.id))

        def wait() -> None:
            output = ""
            try:
                assert proc.stdout is not None
                output = proc.stdout.read()  # until the process ends (or is killed)
            except (OSError, ValueError) as exc:
                output = _t("watch.no_output", error=exc)
            finally:
                self.events.put(Event("finished", (run_id, proc.wait(), output)))

        threading.Thread(target=wait, name="kata-watch-run", daemon=True).start()

    def finished(self, run_id: int, code: int, output: str) -> None:
        if run_id != self.runs:
            return  # a run cancelled by a newer save
        ex = self.exercise
        seconds = time.monotonic() - self._started
        assert ex is not None and self._json is not None
        if self.tty:
            self.out.write("\x1b[H\x1b[2J")  # a fresh screen for each result
        path = ex.relpath(self.tree)
        self.say(_t("watch.result", id=ex.id, path=path, run=run_id, seconds=seconds))
        results = load_results(self._json) if self._json.exists() else None
        mine = [r for r in results.tests if r.exercise == ex.id] if results else []
        if not mine:
            # pytest itself failed (a usage error, no broker, a broken conftest).
            self.say(explain_failed_run(code, output), "", *self.footer())
            self.prepare_next()
            return
        (scored,) = score(mine, self.catalog, {ex.id})
        self.remember(scored)
        if scored.status == DONE:
            self.say(_t("watch.done", id=ex.id, total=scored.total, points=ex.points))
            self.advance(after=ex)
            return
        reasons = explain(mine, pick_language(None), full_first=True)
        lesson = lesson_intro(ex, pick_language(None))
        if lesson:
            lesson.append(_t("watch.lesson", module=ex.module))
        self.say("", *lesson, "", *reasons, "", *self.hint_lines(), "", *self.footer())
        # Only now: a process starting during the run would slow it down.
        self.prepare_next()

    def remember(self, scored: ExerciseScore) -> None:
        """Keep `kata list`'s cache right, so it need not run this exercise again."""
        remember([scored], {scored.id: self._fingerprint}, self.tree)
        self.status[scored.id] = {"status": scored.status}

    def advance(self, after: Exercise | None = None) -> None:
        """Go to the first exercise (after `after`) not known to be done, and run it."""
        exercises = self.catalog.exercises()  # type: ignore[attr-defined]
        start = exercises.index(after) + 1 if after is not None else 0
        for ex in exercises[start:]:
            if self.status.get(ex.id, {}).get("status") != DONE:
                self.exercise, self.hint_level = ex, 1
                self.run_current()
                return
        self.exercise = None
        self.say("", _t("all_done"))
        if self.exit_when_done:
            self.stop.set()
        else:
            self.say(*self.footer())

    def hint_lines(self) -> list[str]:
        ex = self.exercise
        if ex is None:
            return []
        level = self.hint_level
        hints = ex.hints_in(pick_language(None))
        lines = [_t("watch.hint", level=level, count=len(hints), hint=hints[level - 1])]
        if level < len(hints):
            key = "watch.more_hints.key" if self.one_key else "watch.more_hints.line"
            lines.append(_t(key, module=ex.module, level=level + 1))
        return lines

    def footer(self) -> list[str]:
        keys = _t("watch.keys.key" if self.one_key else "watch.keys.line")
        return [_t("watch.footer", tree=self.tree, watching=self.watching, keys=keys)]

    # the loop --------------------------------------------------------------
    def on_key(self, key: str) -> None:
        if key in ("q", "quit", "exit"):
            self.stop.set()
        elif key == "h" and self.exercise is not None:
            self.hint_level = min(self.hint_level + 1, len(self.exercise.hints))
            self.say("", *self.hint_lines())
        elif key not in (ENTER, "r", " "):
            return  # a key that means nothing here
        elif self.exercise is not None:
            self.run_current()
        else:
            self.status = {}
            self.advance()

    def loop(self, status: dict[str, dict], start: Exercise | None = None) -> None:
        self.status = dict(status)
        watcher = start_watcher(self.root / self.tree, self.events, self.stop, self.watcher_mode)
        with contextlib.ExitStack() as stack:
            if self.keys is not None:
                self.one_key = stack.enter_context(single_keys(self.keys))
                start_keys(self.keys, self.events, self.one_key)
            try:
                self._loop(start)
            finally:
                self.stop.set()
                self.pytest.close()
                watcher.join(timeout=2)
                shutil.rmtree(self._tmp, ignore_errors=True)

    def _loop(self, start: Exercise | None) -> None:
        if start is not None:  # kata watch NAME
            self.exercise, self.hint_level = start, 1
            self.run_current()
        else:
            self.advance()
        while not self.stop.is_set():
            try:
                # Short waits: Ctrl-C reaches a thread blocked on a lock
                # only when the wait ends (Windows).
                event = self.events.get(timeout=0.2)
            except queue.Empty:
                continue
            if event.kind == "watcher":
                self.watching = str(event.value)
            elif event.kind == "change":
                if self.exercise is None:
                    self.status = {}  # something changed: look again from the start
                    self.advance()
                else:
                    self.run_current()
            elif event.kind == "key":
                self.on_key(str(event.value))
            elif event.kind == "finished":
                self.finished(*event.value)  # type: ignore[misc]


def start_shared_broker(mode: str) -> tuple[Broker | None, Callable[[], None]]:
    """The broker every run uses, and how to stop it. None: the runs find their own.

    An external broker (MQTT_BROKER_URL) costs nothing to reach, so each run
    uses it directly; a local or Docker one is started here once.
    """
    if brokers.choose(mode).kind == "external":
        return None, lambda: None
    workdir = Path(tempfile.mkdtemp(prefix="kata-watch-broker-"))
    broker, _ = brokers.open_session(mode, workdir)  # falls back from Docker like pytest

    def close() -> None:
        with contextlib.suppress(Exception):
            broker.close()
        brokers.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)

    return broker, close


def run(
    catalog: object,
    *,
    mode: str,
    tree: str = "exercises",
    watcher: str = "auto",
    exit_when_done: bool = False,
    out: TextIO = sys.stdout,
    keys: TextIO | None = sys.stdin,
    start: Exercise | None = None,
) -> int:
    """The `kata watch` command; returns the exit code."""
    undo = stop_cleanly_on_sigterm()
    close: Callable[[], None] = lambda: None  # noqa: E731
    saved_env = {BROKER_ENV: os.environ.get(BROKER_ENV)}
    try:
        try:
            broker, close = start_shared_broker(mode)
        except brokers.BrokerError as exc:
            print(_t("watch.no_broker", error=exc), file=out)
            return 2
        where = broker.describe() if broker else _t("watch.external_broker")
        print(_t("watch.broker", where=where), file=out)
        print(_t("watch.checking"), file=out, flush=True)
        # progress() runs pytest through progress.run_pytest, which passes
        # os.environ on: the shared broker is used there too.
        os.environ.update(shared_broker_env(broker))
        try:
            status = progress(catalog, tree)  # type: ignore[arg-type]
        except RunFailed as exc:
            print(exc, file=out)
            return 2
        watch = Watch(
            catalog,
            broker,
            tree=tree,
            out=out,
            keys=keys,
            watcher=watcher,
            exit_when_done=exit_when_done,
        )
        watch.loop(status, start)
        return 0
    except KeyboardInterrupt:
        print("\n" + _t("watch.stopped"), file=out, flush=True)
        return 0
    finally:
        close()
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        undo()
