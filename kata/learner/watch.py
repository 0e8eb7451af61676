"""`kata watch`: run the current exercise again on every save, move on when it passes.

The watch process starts one broker and keeps it for every run. Each run is
a fresh pytest process (so the edited exercise is imported anew) that finds
the broker through the environment: KATA_BROKER_JSON describes it, and
`brokers.open_session` uses it instead of starting one. The next pytest
process is started (and has imported paho, pytest and the harness) while
the learner is still typing, so a save is answered in about the time the
tests themselves take.

Files are watched with watchfiles when it is installed and works, else by
looking at modification times a few times a second; pressing Enter runs the
tests again in any case (file systems where neither sees a save).
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
from kata.core.i18n import pick_language
from kata.core.results import DONE, ExerciseScore, explain, score
from kata.core.results import load as load_results
from kata.learner.explore import enable_ansi
from kata.learner.progress import RunFailed, explain_failed_run, fingerprint, progress, remember

BROKER_ENV = brokers.SHARED_ENV
POLL_INTERVAL = 0.25  # seconds between two looks at the files when polling
WATCH_HANG_AFTER = 5  # seconds per test: a learner's hang should not stall watch for long


# --- sharing the broker with pytest processes ---------------------------------


def shared_broker_env(broker: Broker | None) -> dict[str, str]:
    """Environment for pytest processes that should use `broker` (None: their own)."""
    return {} if broker is None else {BROKER_ENV: broker.to_json()}


# --- running the tests: a pytest process warmed up before it is needed -------


def warm_worker() -> None:
    """Import what every run needs, then wait for pytest's arguments on stdin."""
    import paho.mqtt.client  # noqa: F401  (the slow imports, done before the save)

    with contextlib.suppress(ImportError):
        import hypothesis  # noqa: F401
    line = sys.stdin.readline()
    if not line.strip():
        return  # watch ended before it needed this worker
    raise SystemExit(pytest.main(json.loads(line)))


class WarmPytest:
    """Runs pytest in a process started ahead of time; one run at a time."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self._spare: subprocess.Popen | None = None
        self.current: subprocess.Popen | None = None

    def _spawn(self) -> subprocess.Popen:
        code = "from kata.learner.watch import warm_worker; warm_worker()"
        return subprocess.Popen(
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

    def warm(self) -> None:
        if self._spare is None or self._spare.poll() is not None:
            self._spare = self._spawn()

    def start(self, args: list[str]) -> subprocess.Popen:
        self.warm()
        proc, self._spare = self._spare, None
        assert proc is not None and proc.stdin is not None
        proc.stdin.write(json.dumps(args) + "\n")
        proc.stdin.close()
        self.current = proc
        return proc

    def cancel(self) -> None:
        if self.current is not None and self.current.poll() is None:
            self.current.kill()
            self.current.wait()
        self.current = None

    def close(self) -> None:
        self.cancel()
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.kill()
            spare.communicate()


# --- noticing saves -----------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(mtime, size) of every Python file under root."""
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
    """Paths changed, added or removed under root, checked every `interval` seconds.

    The first look is taken now, not when the first change is asked for.
    """
    return _poll(root, stop, interval, snapshot(root))


def _poll(
    root: Path, stop: threading.Event, interval: float, before: dict[str, tuple[int, int]]
) -> Iterator[set[str]]:
    # No file events in the standard library: look again at a short interval.
    while not stop.wait(interval):
        now = snapshot(root)
        changed = {p for p in before.keys() | now.keys() if before.get(p) != now.get(p)}
        before = now
        if changed:
            yield changed


def watchfiles_changes(root: Path, stop: threading.Event) -> Iterator[set[str]]:
    import watchfiles

    for changes in watchfiles.watch(
        root,
        watch_filter=watchfiles.PythonFilter(),
        debounce=400,
        step=30,
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
    """Report changes as events; mode: auto (watchfiles, else polling) | poll | manual."""

    def run() -> None:
        if mode == "manual":
            events.put(Event("watcher", "not watching: press Enter to run again"))
            return
        if mode == "auto":
            try:
                events.put(Event("watcher", "watchfiles"))
                for changed in watchfiles_changes(root, stop):
                    events.put(Event("change", changed))
                return
            except ImportError:
                why = 'install the watch extra, pip install -e ".[watch]", for instant events'
                events.put(Event("watcher", f"polling every {POLL_INTERVAL:g} s; {why}"))
            except Exception as exc:  # a file system watchfiles cannot watch
                why = f"{type(exc).__name__}: {exc}"[:60]
                events.put(Event("watcher", f"polling every {POLL_INTERVAL:g} s ({why})"))
        else:
            events.put(Event("watcher", f"polling every {POLL_INTERVAL:g} s"))
        try:
            for changed in poll_changes(root, stop):
                events.put(Event("change", changed))
        except Exception as exc:
            events.put(Event("watcher", f"none ({exc}): press Enter to run again"))

    thread = threading.Thread(target=run, name="kata-watch-files", daemon=True)
    thread.start()
    return thread


def start_keys(stream: TextIO, events: queue.Queue[Event]) -> threading.Thread:
    """Each line typed is an event: '' (Enter) runs again, h shows a hint, q quits."""

    def run() -> None:
        with contextlib.suppress(OSError, ValueError):
            for line in stream:
                events.put(Event("key", line.strip().lower()))
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
        self.watching = "starting"
        self.exercise = None
        self.hint_level = 1
        self.runs = 0
        self._tmp = Path(tempfile.mkdtemp(prefix="kata-watch-"))
        self._started = 0.0
        self._fingerprint = ""
        self._json: Path | None = None

    def say(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.out, flush=True)

    # runs ------------------------------------------------------------------
    def run_current(self) -> None:
        self.pytest.cancel()
        ex = self.exercise
        assert ex is not None
        self.runs += 1
        self._json = self._tmp / f"run{self.runs}.json"
        self._fingerprint = fingerprint(ex, self.tree)  # before the run: a save may follow
        # Plugins imported early by the warm worker cannot have their asserts
        # rewritten; pytest warns (an error here), and nothing is lost.
        args = ["-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
        args += ["--target", self.tree, ex.tests, "-q"]
        args += ["-o", f"kata_hang_after={WATCH_HANG_AFTER}", "--kata-json", str(self._json)]
        self._started = time.monotonic()
        proc = self.pytest.start(args)
        run_id = self.runs
        self.say(f"\nrunning {ex.id} ...")

        def wait() -> None:
            output = ""
            try:
                assert proc.stdout is not None
                output = proc.stdout.read()  # until the process ends (or is killed)
            except (OSError, ValueError) as exc:
                output = f"could not read the test run's output: {exc}"
            finally:
                self.events.put(Event("finished", (run_id, proc.wait(), output)))

        threading.Thread(target=wait, name="kata-watch-run", daemon=True).start()
        # The next run's process imports while this one runs.
        self.pytest.warm()

    def finished(self, run_id: int, code: int, output: str) -> None:
        if run_id != self.runs:
            return  # a run cancelled by a newer save
        ex = self.exercise
        seconds = time.monotonic() - self._started
        assert ex is not None and self._json is not None
        if self.tty:
            self.out.write("\x1b[H\x1b[2J")  # a fresh screen for each result
        self.say(f"kata watch: {ex.id}  ({ex.relpath(self.tree)})  run {run_id}, {seconds:.1f} s")
        results = load_results(self._json) if self._json.exists() else None
        mine = [t for t in results.tests if t.exercise == ex.id] if results else []
        if not mine:
            # pytest itself failed (a usage error, no broker, a broken conftest).
            self.say(explain_failed_run(code, output), "", *self.footer())
            return
        (scored,) = score(mine, self.catalog, {ex.id})
        self.remember(scored)
        if scored.status == DONE:
            self.say(f"{ex.id}: all {scored.total} tests pass - done! (+{ex.points} points)")
            self.advance(after=ex)
            return
        reasons = explain(mine, pick_language(None))
        self.say("", *reasons, "", *self.hint_lines(), "", *self.footer())

    def remember(self, scored: ExerciseScore) -> None:
        """Keep `kata list`'s cache right, so it need not run this exercise again."""
        remember([scored], {scored.id: self._fingerprint}, self.tree)
        self.status[scored.id] = {"status": scored.status}

    def advance(self, after: object | None = None) -> None:
        """Go to the first exercise (after `after`) not known to be done, and run it."""
        exercises = self.catalog.exercises()  # type: ignore[attr-defined]
        start = exercises.index(after) + 1 if after is not None else 0
        for ex in exercises[start:]:
            if self.status.get(ex.id, {}).get("status") != DONE:
                self.exercise, self.hint_level = ex, 1
                self.run_current()
                return
        self.exercise = None
        self.say("\nevery exercise is done - well done!")
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
        lines = [f"hint {level} of {len(hints)}: {hints[level - 1]}"]
        if level < len(hints):
            lines.append(f"(more: press h and Enter, or kata hint {ex.module} --level {level + 1})")
        return lines

    def footer(self) -> list[str]:
        return [
            f"watching {self.tree}/ ({self.watching}) - "
            "Enter: run again, h: next hint, q: quit, Ctrl-C: stop"
        ]

    # the loop --------------------------------------------------------------
    def on_key(self, key: str) -> None:
        if key in ("q", "quit", "exit"):
            self.stop.set()
        elif key == "h" and self.exercise is not None:
            self.hint_level = min(self.hint_level + 1, len(self.exercise.hints))
            self.say("", *self.hint_lines())
        elif self.exercise is not None:
            self.run_current()
        else:
            self.status = {}
            self.advance()

    def loop(self, status: dict[str, dict], start: Exercise | None = None) -> None:
        self.status = dict(status)
        watcher = start_watcher(self.root / self.tree, self.events, self.stop, self.watcher_mode)
        if self.keys is not None:
            start_keys(self.keys, self.events)
        try:
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
        finally:
            self.stop.set()
            self.pytest.close()
            watcher.join(timeout=2)
            shutil.rmtree(self._tmp, ignore_errors=True)


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
            print(f"kata watch: {exc}", file=out)
            return 2
        where = broker.describe() if broker else "MQTT_BROKER_URL (each run connects to it)"
        print(f"kata watch: broker {where}", file=out)
        print("checking where you are (only changed exercises run) ...", file=out, flush=True)
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
        print("\nkata watch: stopped", file=out, flush=True)
        return 0
    finally:
        close()
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        undo()
