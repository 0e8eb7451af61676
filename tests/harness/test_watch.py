"""`kata watch`: one broker for every run, a run on each save, on to the next exercise."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kata.core import results as kata_results
from kata.core.brokers import Broker, connack_code
from kata.core.catalog import load as load_catalog
from kata.core.peers import LineQueue, Peer
from kata.learner import watch as watch_module
from kata.learner.watch import (
    BROKER_ENV,
    WaitForGo,
    explain,
    poll_changes,
    shared_broker_env,
    watchfiles_changes,
)

# --- pieces -----------------------------------------------------------------------


def test_a_broker_survives_the_trip_through_the_environment(broker: Broker) -> None:
    again = Broker.from_json(broker.to_json())
    assert again == broker, "every field a test reads comes back"
    assert again.runner is None, "a pytest run must not stop the broker it was lent"
    env = shared_broker_env(broker)
    assert Broker.from_json(env[BROKER_ENV]) == broker
    assert shared_broker_env(None) == {}, "no broker to share: each run finds its own"


def test_pytest_runs_use_the_shared_broker_and_leave_it_running(sandbox, broker: Broker) -> None:
    if broker.kind == "external":
        pytest.skip("an external broker is used by each run directly")
    sandbox.env.update(shared_broker_env(broker))
    # The tests that need the auth listener: skipped on an external broker, not on a shared one.
    auth = ("tests/ch06_security/test_auth.py", "-m", "needs_listener")
    result = sandbox.run("--target", "solutions", *auth)
    assert result.returncode == 0, result.stdout[-2000:]
    assert f"kata broker: {broker.describe()}" in result.stdout, "no broker of its own"
    assert "skipped" not in result.stdout.splitlines()[-1], (
        "a shared kata broker has the auth listener: nothing is skipped as on an external one"
    )
    assert connack_code(broker.host, broker.port) == 0, "the run left the shared broker alone"


def _wait_for_change(changes, found: queue.Queue) -> threading.Thread:
    def take() -> None:
        found.put(next(changes))

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread


def test_polling_sees_a_save_a_new_file_and_a_removal(tmp_path: Path) -> None:
    stop = threading.Event()
    (tmp_path / "ch01").mkdir()
    kept, gone = tmp_path / "ch01" / "kept.py", tmp_path / "ch01" / "gone.py"
    kept.write_text("x = 1\n")
    gone.write_text("y = 1\n")
    changes = poll_changes(tmp_path, stop, interval=0.02)  # the first look is taken here
    found: queue.Queue[set[str]] = queue.Queue()
    _wait_for_change(changes, found)
    (tmp_path / "ch01" / "__pycache__").mkdir()
    (tmp_path / "ch01" / "__pycache__" / "kept.py").write_text("ignored")
    kept.write_text("x = 22\n")
    gone.unlink()
    (tmp_path / "ch01" / "new.py").write_text("z = 1\n")
    seen = found.get(timeout=5)
    stop.set()
    names = {Path(p).name for p in seen}
    assert names <= {"kept.py", "gone.py", "new.py"} and "kept.py" in names
    assert not any("__pycache__" in p for p in seen)


def test_polling_sees_every_save_even_two_in_one_second_of_the_same_size(tmp_path: Path) -> None:
    # watchfiles' own polling compares times to the second: it misses the second one.
    stop = threading.Event()
    target = tmp_path / "publisher.py"
    target.write_text("qos = 0\n")
    changes = poll_changes(tmp_path, stop, interval=0.02)
    found: queue.Queue[set[str]] = queue.Queue()
    for text in ("qos = 1\n", "qos = 2\n"):  # same size, well within one second
        _wait_for_change(changes, found)
        target.write_text(text)
        assert {Path(p).name for p in found.get(timeout=5)} == {"publisher.py"}
    stop.set()


def test_watchfiles_sees_a_save(tmp_path: Path) -> None:
    pytest.importorskip("watchfiles")
    stop = threading.Event()
    target = tmp_path / "publisher.py"
    target.write_text("x = 1\n")
    found: queue.Queue[set[str]] = queue.Queue()
    changes = watchfiles_changes(tmp_path, stop)
    _wait_for_change(changes, found)
    # watchfiles starts its watcher inside the first next(); write until it reports
    # (bounded: 50 tries, each waiting 0.1 s for an event).
    seen: set[str] = set()
    for n in range(50):
        target.write_text(f"x = {n}\n")
        try:
            seen = found.get(timeout=0.1)
            break
        except queue.Empty:
            continue
    stop.set()
    assert any(Path(p).name == "publisher.py" for p in seen)


def test_reasons_are_shown_once_with_how_many_tests_share_them() -> None:
    def result(name: str, status: str, message: str = "") -> kata_results.TestResult:
        return kata_results.TestResult(
            name, name, "ch03_clients.publisher", "ch03_clients", status, "", message
        )

    lines = explain(
        [
            result("test_a", "fail", "not done yet: exercises/x.py: f"),
            result("test_b", "fail", "not done yet: exercises/x.py: f"),
            result("test_c", "error", "hang: exercises/x.py: g did not return"),
            result("test_d", "pass"),
        ]
    )
    assert lines == [
        "1 of 4 tests pass.",
        "  x test_a (and 1 more test)",
        "      not done yet: exercises/x.py: f",
        "  x test_c",
        "      hang: exercises/x.py: g did not return",
    ]


def test_a_fail_fast_run_shows_its_first_failure_in_full_and_counts_what_did_not_run() -> None:
    def result(name: str, status: str, message: str = "", details: str = ""):
        return kata_results.TestResult(
            name, name, "ch03_clients.subscriber", "ch03_clients", status, "failed", message,
            details=details,
        )  # fmt: skip

    details = (
        "tests/x.py:12: in test_a\n    assert got == want, 'text, not bytes'\n"
        "E   AssertionError: text, not bytes\nE   assert b'a' == 'a'"
    )
    tests = [
        result("test_ok", "pass"),
        result("test_a", "fail", "AssertionError: text, not bytes", details),
        result("test_b", "not run"),
        result("test_c", "not run"),
    ]
    assert explain(tests, full_first=True) == [
        "1 of 4 tests pass.",
        "  x test_a",
        "      AssertionError: text, not bytes",
        "      tests/x.py:12: in test_a",
        "          assert got == want, 'text, not bytes'",
        "      E   assert b'a' == 'a'",
        "  2 more tests not run: they run once this one passes",
    ], "the reason once, then pytest's report of it; the tests -x did not reach, counted"
    one_left = explain(tests[:3])
    assert one_left[-1] == "  1 more test not run: it runs once this one passes"
    assert "tests/x.py:12: in test_a" not in "\n".join(one_left), "in full only when asked"


def test_a_warm_worker_runs_afresh_when_what_it_collected_is_stale(tmp_path: Path) -> None:
    test_file = tmp_path / "test_x.py"
    test_file.write_text("def test_x(): pass\n")
    worker = WaitForGo(["-q"], "exercises", commands=0)
    worker.stamps = {test_file: watch_module._stamp(test_file)}
    assert not worker.stale()
    test_file.write_text("def test_x(): assert False\n")
    assert worker.stale(), "a test file saved since the collection"
    worker.stamps = {test_file: watch_module._stamp(test_file)}
    sys.modules["exercises.ch99_fake"] = sys  # as if collecting had imported an exercise
    try:
        assert worker.stale(), "an exercise imported while collecting"
    finally:
        del sys.modules["exercises.ch99_fake"]


# --- the command, as a learner runs it ----------------------------------------------


class Watching(Peer):
    """`kata watch` in a sandbox; stdin is ours, stdout is read line by line."""

    def __init__(self, sandbox, *args: str) -> None:
        # As the sandbox runs the kata: none of this run's own choices leak in.
        drop = ("KATA_TARGET", "PYTEST_ADDOPTS", "PYTHONDONTWRITEBYTECODE")  # .pyc: faster reruns
        env = {k: v for k, v in os.environ.items() if k not in drop}
        argv = [sys.executable, "-m", "kata.cli", "watch", *args]
        env = {**env, **sandbox.env, "PYTHONUNBUFFERED": "1"}
        super().__init__(argv, sandbox.root, env=env, stdin=True)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        try:
            return self.wait_for_line(lambda line: text in line, timeout)
        except TimeoutError:
            seen = "\n".join(self.all_lines[-40:])
            why = f"kata watch never printed {text!r}; it printed:\n{seen}"
            raise AssertionError(why) from None

    def broker_port(self) -> int | None:
        lines = self.all_lines
        first = next((line for line in lines if line.startswith("kata watch: broker")), "")
        match = re.search(r"mqtt [\d.]+:(\d+)", first)
        return int(match.group(1)) if match else None

    def close(self) -> int:
        try:
            return self.process.wait(timeout=15)
        finally:
            self.stop()


@pytest.fixture
def ch03(sandbox, broker: Broker) -> object:
    sandbox.only_chapters("ch03_clients")
    # The same kind of broker as this run's; an external one is named by the environment.
    sandbox.env["KATA_BROKER"] = broker.kind
    return sandbox


def _assert_broker_gone(port: int | None) -> None:
    if port is None:
        return  # an external broker: not ours to stop
    with pytest.raises(OSError):
        connack_code("127.0.0.1", port, timeout=1)


def _hint(exercise_id: str, level: int) -> str:
    """How watch starts an exercise's hint, from the catalog as it is today."""
    hints = load_catalog().exercise(exercise_id).hints
    return f"hint {level} of {len(hints)}: {hints[level - 1][:40]}"


def test_watch_reruns_on_save_moves_on_and_stops_cleanly(ch03, shipped_count) -> None:
    # Counts, points and hints come from the curriculum, which moves them.
    publisher = load_catalog().exercise("ch03_clients.publisher")
    pub_tests = shipped_count(publisher.tests)
    sub_tests = shipped_count("tests/ch03_clients/test_subscriber.py")
    watch = Watching(ch03)
    try:
        # The lesson's title on top, in the learner's language (English here).
        watch.wait_for(publisher.lesson("en").read_text(encoding="utf-8").splitlines()[0])
        watch.wait_for("(the whole lesson: kata lesson publisher)")
        watch.wait_for(f"0 of {pub_tests} tests pass.")
        watch.wait_for("not done yet: exercises/ch03_clients/publisher.py: make_client")
        watch.wait_for(f"{pub_tests - 1} more tests not run")  # fail fast: the first failure only
        watch.wait_for(_hint("ch03_clients.publisher", 1))
        watch.wait_for("watching exercises/ (")
        watch.type("h")
        watch.wait_for(_hint("ch03_clients.publisher", 2))

        saved = time.monotonic()
        ch03.solve("ch03_clients/publisher.py")
        done = f"all {pub_tests} tests pass - done! (+{publisher.points} points)"
        watch.wait_for(f"ch03_clients.publisher: {done}")
        # Measured, not asserted: CI machines vary.
        print(f"save -> result: {time.monotonic() - saved:.2f} s")
        watch.wait_for("kata watch: ch03_clients.subscriber")
        watch.wait_for(f"0 of {sub_tests} tests pass.")
        # A new exercise: its hint 1.
        watch.wait_for(_hint("ch03_clients.subscriber", 1))

        watch.type("")  # Enter: the same exercise again, whatever the watcher saw
        watch.wait_for("subscriber.py)  run 4,")
        watch.wait_for("watching exercises/ (")  # the run is shown in full
        if sys.platform == "win32":
            watch.type("q")
        else:
            watch.process.send_signal(signal.SIGINT)  # what Ctrl-C sends
            watch.wait_for("kata watch: stopped")
        assert watch.close() == 0
    finally:
        watch.close()
    assert not any("Traceback" in line for line in watch.all_lines), "\n".join(watch.all_lines)
    cache = json.loads(ch03.read(".kata/progress-exercises.json"))
    assert cache["ch03_clients.publisher"]["status"] == "done", "kata list sees what watch saw"
    _assert_broker_gone(watch.broker_port())


class WatchingOnATerminal:
    """`kata watch` whose standard input is a terminal (a pty): keys come one by one."""

    def __init__(self, sandbox, *args: str) -> None:
        import pty

        self.master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k not in ("KATA_TARGET", "PYTEST_ADDOPTS")}
        env = {**env, **sandbox.env, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kata.cli", "watch", *args],
            cwd=sandbox.root,
            env=env,
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        os.close(slave)
        self.output = LineQueue()
        self.all_lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.all_lines.append(line.rstrip("\n"))
            self.output.write(line)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        try:
            return self.output.wait_for(lambda line: text in line, timeout)
        except TimeoutError:
            seen = "\n".join(self.all_lines[-40:])
            why = f"kata watch never printed {text!r}; it printed:\n{seen}"
            raise AssertionError(why) from None

    def press(self, key: str) -> None:
        os.write(self.master, key.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        self._reader.join(5)
        assert self.process.stdout is not None
        self.process.stdout.close()
        os.close(self.master)


@pytest.mark.skipif(sys.platform == "win32", reason="a pty is POSIX; Windows reads keys by msvcrt")
def test_watch_name_starts_there_and_one_key_press_is_enough_on_a_terminal(ch03) -> None:
    watch = WatchingOnATerminal(ch03, "subscriber")
    try:
        watch.wait_for("kata watch: ch03_clients.subscriber")  # not the publisher, first in line
        watch.wait_for(_hint("ch03_clients.subscriber", 1))
        watch.wait_for("Enter: run again, h: next hint, q: quit")
        watch.press("h")  # no Enter
        watch.wait_for(_hint("ch03_clients.subscriber", 2))
        watch.wait_for("(more: press h, or kata hint subscriber --level 3)")
        watch.press("q")
        assert watch.process.wait(15) == 0
    finally:
        watch.close()
    assert not any("Traceback" in line for line in watch.all_lines), "\n".join(watch.all_lines)
