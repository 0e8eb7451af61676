"""The kata's pytest plugin: options, hooks, friendly failure reports (fixtures: fixtures.py).

What a learner sees: the broker in use; a stub, a hang, a crash on paho's thread, or
what an exercise did to the test process (guards.py) as one line naming the exercise;
a progress table per chapter. Tampering at run time is put right where it can be and
listed in results.json's `integrity` (integrity.py). For a fast learner loop: hypothesis
only where a test uses it; a classic mistake named first (diagnose.py); pytest's full
text of a failure kept for `kata next`; tests an -x run never reached are "not run".
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType, SimpleNamespace

import pytest
from _pytest.junitxml import xml_key as junit_xml_key

from kata.core import brokers, diagnose, guards, integrity, results, target
from kata.core.brokers import Broker, BrokerError, Choice
from kata.core.catalog import CatalogError, Exercise
from kata.core.catalog import load as load_catalog
from kata.core.guards import traceback_in_tree
from kata.core.i18n import mark as mark_word
from kata.core.i18n import pick_language
from kata.core.i18n import row as table_row
from kata.core.i18n import t as translate
from kata.core.results import (
    DETAILS_CAP,
    MESSAGE_CAP,
    OUTPUT_CAP,
    Category,
    Outcome,
    Results,
    Status,
    TestResult,
    cap,
    score,
)

if sys.version_info < (3, 11):  # pragma: no cover - Python 3.10
    from exceptiongroup import BaseExceptionGroup

# Characters (start and end) of each captured output section a failure shows.
TERMINAL_OUTPUT_CAP = 2000
# Characters of an exception's text in a failure report (an exercise may raise megabytes).
EXCEPTION_CAP = 20_000
# The failures whose one-line message replaces pytest's traceback.
ONE_LINERS = {
    Category.NOT_DONE,
    Category.BROKEN,
    Category.HANG,
    Category.THREAD_CRASH,
    Category.BROKER_DIED,
    Category.RUNAWAY,
}


class KataHang(BaseException):
    """Raised in the main thread when a test runs past its time (a BaseException, so that
    a learner's `except Exception:` cannot swallow it)."""

    def __init__(self, seconds: float, phase: str = "call") -> None:
        super().__init__(_t("hang.did_not_finish", seconds=seconds))
        self.seconds = seconds
        self.phase = phase  # setup | call | teardown


class ThreadCrash(AssertionError):
    """An exception escaped on a background thread (usually paho's) during the test."""


class EarlierHang(Exception):
    """An earlier test of the same exercise hung: this one is not run (it would hang too)."""


class Runaway(AssertionError):
    """The code under test did something to the test process: a fork, a thread left running."""


@dataclass
class KataState:
    tree: str
    mode: str
    choice: Choice | None = None
    broker: Broker | None = None
    broker_error: str | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kata-")))
    outcomes: dict[str, TestResult] = field(default_factory=dict)
    stubs_must_fail: bool = False
    hang_after: float = 15.0
    fixture_hang_after: float = 60.0  # a test's setup or teardown (fixtures may start brokers)
    broker_died: bool = False
    hung: dict[str, str] = field(default_factory=dict)  # exercise id -> its hang message
    integrity: list[str] = field(default_factory=list)  # tampering found (results.json)
    sentinels: integrity.Sentinels | None = None
    test_replaced: bool = False  # a test's function was swapped (named once)
    exitstatus: int = 0
    undo: list[Callable[[], None]] = field(default_factory=list)
    listeners: tuple[str, ...] = ("mqtt", "auth", "tls")  # of the session broker

    def session_broker(self) -> Broker:
        if self.broker is None:
            if self.broker_error:
                raise BrokerError(self.broker_error)
            self.broker, self.choice = brokers.open_session(
                self.mode, self.workdir / "session-broker", listeners=self.listeners
            )
        return self.broker


STATE = pytest.StashKey[KataState]()
# Loaded by name: the fixtures (fixtures.py imports STATE from here).
pytest_plugins = ["kata.core.fixtures"]
# The name the hypothesis distribution registers its pytest plugin under.
HYPOTHESIS_PLUGIN = "hypothesispytest"
# What the learner's paho clients did during a test's call (diagnose.py).
TEST_LOG = pytest.StashKey[diagnose.TestLog]()
# The language of what the harness says (--lang of `kata`, KATA_LANG, the locale).
_LANG = "en"


def _t(key: str, **fields: object) -> str:
    return translate(key, _LANG, **fields)


# --- options and the session ----------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kata")
    group.addoption(
        "--target",
        help="tree under test: exercises (yours, default) or solutions (env KATA_TARGET)",
    )
    group.addoption(
        "--broker",
        help="where the broker comes from: auto (default), docker, local, external "
        "(env KATA_BROKER)",
    )
    group.addoption(
        "--stubs-must-fail",
        action="store_true",
        help="maintainers: pass only if every chapter test fails against the untouched "
        "stubs with 'not done yet'",
    )
    group.addoption(
        "--shuffle",
        type=int,
        metavar="SEED",
        help="run the tests in a random order drawn from SEED (isolation check)",
    )
    group.addoption(
        "--kata-json",
        metavar="PATH",
        help="write per-test and per-exercise results (results.json) to PATH",
    )
    parser.addini("kata_hang_after", "seconds before a test counts as hanging", default="15")
    parser.addini(
        "kata_fixture_hang_after",
        "seconds before a test's setup or teardown (its fixtures) counts as hanging",
        default="60",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    global _LANG
    _LANG = pick_language(None)
    mode = config.getoption("--broker") or os.environ.get("KATA_BROKER") or "auto"
    stubs = config.getoption("--stubs-must-fail")
    try:
        tree = target.select(config.getoption("--target"))
        load_catalog()
    except (target.TargetError, CatalogError) as exc:
        raise pytest.UsageError(str(exc)) from None
    if mode not in brokers.MODES:
        raise pytest.UsageError(
            _t("usage.unknown_broker", mode=mode, choices=", ".join(brokers.MODES))
        )
    if stubs and tree != "exercises":
        raise pytest.UsageError("--stubs-must-fail checks the exercises tree, not solutions")
    state = config.stash[STATE] = KataState(
        tree=tree,
        mode=mode,
        stubs_must_fail=stubs,
        hang_after=float(config.getini("kata_hang_after")),
        fixture_hang_after=float(config.getini("kata_fixture_hang_after")),
    )
    config.addinivalue_line(
        "markers",
        "slow: the test waits on a timer of about a second; a parallel run (pytest-xdist) "
        "starts it first, so that no worker is left with it at the end",
    )
    config.addinivalue_line(
        "markers",
        "uses_broker_login: the test reaches the broker only through the fixtures' own clients "
        "(probe, topic), so it also runs on an external broker with TLS or a password",
    )
    config.addinivalue_line(
        "markers",
        "kata_hang_after(seconds): this test's own hang limit, in place of kata_hang_after "
        "(the harness's tests, which run whole kata commands, take longer than an exercise's)",
    )
    # Where SIGALRM exists, the kata's timer is the one hang limit (it names the exercise
    # and the run goes on); pytest-timeout stays the limit on Windows, where it ends the
    # whole process. An explicit --timeout or PYTEST_TIMEOUT is still obeyed.
    no_timeout = config.getoption("timeout", None) is None and not os.environ.get("PYTEST_TIMEOUT")
    if hasattr(signal, "setitimer") and no_timeout:
        with contextlib.suppress(AttributeError):
            config.option.timeout = 0
    guards.arm()
    state.undo += [guards.disarm, guards.stop_on_signals()]
    own = [sys.modules[__name__], diagnose, results, target]  # diagnose words failures too
    state.sentinels = integrity.Sentinels([*own, integrity, guards])
    diagnose.install()
    if not _in_worker(config) and getattr(config.option, "dist", "no") not in (None, "no"):
        # The tests run in pytest-xdist workers (-n N, N > 0): their reports tell the results.
        config.pluginmanager.register(ResultsFromWorkers(state), "kata-results")


def pytest_report_header(config: pytest.Config) -> list[str]:
    state, seed = config.stash[STATE], config.getoption("--shuffle")
    order = _t("header.shuffled", seed=seed) if seed is not None else ""
    return [_t("header.target", tree=state.tree, mode=state.mode, order=order)]


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if config.stash[STATE].stubs_must_fail:
        # The harness's own tests do not touch the exercises.
        deselected = [i for i in items if _is_harness_test(i.nodeid)]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [i for i in items if not _is_harness_test(i.nodeid)]
    # Learners read the first failure first: keep catalog (chapter) order.
    order = {ex: n for n, ex in enumerate(load_catalog().exercises())}
    items.sort(key=lambda i: order.get(_exercise_of(i), len(order)))
    seed = config.getoption("--shuffle")
    if seed is not None:
        # The soak (bench/soak.py) proves that no test depends on another's order.
        random.Random(seed).shuffle(items)
    elif os.environ.get("PYTEST_XDIST_WORKER"):
        # Nobody reads a parallel run's first failure first: the slow tests go first.
        items.sort(key=lambda i: i.get_closest_marker("slow") is None)


def pytest_sessionstart(session: pytest.Session) -> None:
    # After pytest's own unraisable hook is in place: ours goes first.
    session.config.stash[STATE].undo += [
        guards.catch_lost_interrupts(),
        guards.drop_stopped_threads(),
    ]
    manager = session.config.pluginmanager
    if manager.has_plugin("dsession"):  # pytest-xdist's controller: no test runs here
        if not session.config.getoption("hypothesis_show_statistics", False):
            _put_hypothesis_aside(manager)
        gc.freeze()


def _put_hypothesis_aside(manager: pytest.PytestPluginManager) -> None:
    """Unless a test imported hypothesis: its plugin would at the end of the run (~0.2 s)."""
    if "hypothesis" not in sys.modules and manager.get_plugin(HYPOTHESIS_PLUGIN) is not None:
        manager.unregister(manager.get_plugin(HYPOTHESIS_PLUGIN))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the session broker now, outside any test's time limit."""
    state, manager = session.config.stash[STATE], session.config.pluginmanager
    _put_hypothesis_aside(manager)
    integrity.note_collected(session.items)
    # Modules, fixtures and collected items live until the process ends: out of the gc
    # (pytest collects five times at the end, and each pass would walk them all again).
    gc.freeze()
    if not any("broker" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    # A TLS listener costs its certificates (~0.1 s): only for a needs_listener("tls") test.
    marks = [m.args for item in session.items for m in item.iter_markers("needs_listener")]
    if not any("tls" in args for args in marks):
        state.listeners = ("mqtt", "auth")
    try:
        state.session_broker()
    except BrokerError as exc:
        state.broker_error = str(exc)
        pytest.exit(f"\n{exc}\n", returncode=pytest.ExitCode.USAGE_ERROR)
    reporter = manager.get_plugin("terminalreporter")
    if reporter is not None and state.broker is not None:
        fell_back = state.choice is not None and state.choice.reason.startswith("Docker")
        why = f"\n  ({state.choice.reason})" if fell_back else ""  # type: ignore[union-attr]
        reporter.write_line(_t("broker.using", broker=state.broker.describe()) + why)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> Iterator[object]:
    """Take the hook implementations as the tests will run them (at collection_finish
    plugins still settle: hypothesis's is put aside, which is not tampering)."""
    state = session.config.stash[STATE]
    if state.sentinels is not None:
        state.sentinels.watch_hooks(session.config.pluginmanager)
    return (yield)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None and state.broker is not None:
        with contextlib.suppress(Exception):
            state.broker.close()
    brokers.stop_all()
    if state is None:
        return
    # The session broker's files (one shared by `kata watch` keeps its own).
    shutil.rmtree(state.workdir, ignore_errors=True)
    for undo in reversed(state.undo):
        undo()
    state.undo.clear()
    blocking = guards.blocking_exit(wait=0.1)
    if blocking:
        # A non-daemon thread (named in the summary) would keep the process alive: end now.
        ours = any(where is not None for _, where in blocking)
        guards.hard_exit(state.exitstatus or (pytest.ExitCode.TESTS_FAILED if ours else 0))


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> None:
    """Before a module that uses hypothesis is imported (@settings copies the profile then):
    no shrinking for scores and stub checks, which need pass or fail only (~2 s a
    property test). Only then: importing hypothesis costs ~0.2 s."""
    config = parent.config
    wanted = config.getoption("--stubs-must-fail") or config.getoption("--kata-json")
    if not wanted or getattr(config, "_kata_profile_loaded", False):
        return
    with contextlib.suppress(OSError):
        if b"hypothesis" in module_path.read_bytes():
            from hypothesis import Phase, settings  # an optional dependency's cost

            phases = [phase for phase in Phase if phase is not Phase.shrink]
            settings.register_profile("kata-no-shrink", phases=phases)
            settings.load_profile("kata-no-shrink")
            config._kata_profile_loaded = True  # type: ignore[attr-defined]


# --- pytest-xdist: the tests run in workers, the results are told here ----------


def _in_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker per core, and one more. A chapter test spends most of its
    time waiting on a broker or a timer (about 60%), and an extra worker fills those
    waits: on 2 cores the chapters take ~20% less time with 3 workers than with 2."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cores or 1) + 1


RESULT_PROPERTY = "kata_result"  # a test's record, on each of its reports
INTEGRITY_OUTPUT = "kata_integrity"  # a worker's integrity lines, in its workeroutput


class ResultsFromWorkers:
    """The controller's record of every test, from what each worker's reports carry."""

    def __init__(self, state: KataState) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == RESULT_PROPERTY and isinstance(value, dict):
                self.state.outcomes[report.nodeid] = TestResult(**value)

    def pytest_testnodedown(self, node: object, error: object) -> None:
        """Tampering a worker found: a grader must see it in the controller's results.json."""
        said = getattr(node, "workeroutput", {}).get(INTEGRITY_OUTPUT, [])
        found = self.state.integrity
        found.extend(line for line in said if line not in found)


# --- running a test: hang limit, thread crashes, what it did to the process -------

THREADS_BEFORE = pytest.StashKey[set]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    item.stash[THREADS_BEFORE] = set(threading.enumerate())
    try:
        result = yield
    finally:
        _check_integrity(item.config.stash[STATE], item.config, item.nodeid)
        # hypothesis adds one base64 property per test to junit.xml: noise for graders.
        xml = item.config.stash.get(junit_xml_key, None)
        if xml is not None and xml.global_properties:
            xml.global_properties[:] = [
                (name, value)
                for name, value in xml.global_properties
                if not str(name).startswith("hypothesis-statistics-")
            ]
    if guards.interrupted():
        # Ctrl-C or SIGTERM came and something swallowed the KeyboardInterrupt: stop here.
        raise KeyboardInterrupt
    return result


def _check_integrity(state: KataState, config: pytest.Config, where: str) -> None:
    if state.sentinels is not None:
        for label in state.sentinels.check(config.pluginmanager):
            state.integrity.append(_t("integrity.replaced", what=label, where=where))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    state = item.config.stash[STATE]
    exercise = _exercise_of(item)
    if exercise is not None and exercise.id in state.hung:
        # A function that never returns would cost each test its full time limit: once is enough.
        raise EarlierHang(state.hung[exercise.id])
    if state.broker_died and state.broker is not None:
        # A test killed the session broker: the next gets it back (one fault, one test).
        state.broker_died = False
        with contextlib.suppress(BrokerError):
            state.broker.start()
    marker = item.get_closest_marker("needs_listener")
    broker = state.broker
    if broker is not None and broker.kind == "external":
        if marker is not None:
            pytest.skip(_t("skip.no_listener", name=marker.args[0]))
        # The test hands broker.host and broker.port to code that connects
        # plain and anonymous, unless it is marked uses_broker_login.
        plain = item.get_closest_marker("uses_broker_login") is None
        uses_broker = "broker" in getattr(item, "fixturenames", ())
        if (broker.tls or broker.username) and plain and uses_broker:
            pytest.skip(_t("skip.login_needed", url=broker.url))
    with _hang_limit(state.fixture_hang_after, "setup"):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    caught: list[threading.ExceptHookArgs] = []
    item.stash[TEST_LOG] = diagnose.start_test()
    try:
        own = item.get_closest_marker("kata_hang_after")
        limit = float(own.args[0]) if own else item.config.stash[STATE].hang_after
        with _hang_limit(limit, "call", caught) as timed:

            def on_thread_exception(args: threading.ExceptHookArgs) -> None:
                caught.append(args)
                if timed and len(caught) == 1:
                    # Do not wait for what the dead thread will never deliver.
                    guards.signal_main(signal.SIGALRM)

            previous_hook, threading.excepthook = threading.excepthook, on_thread_exception
            guards.take_forks()
            try:
                result = yield
            finally:
                threading.excepthook = previous_hook
                diagnose.stop_test()
    except (ThreadCrash, KataHang, KeyboardInterrupt):
        raise
    except BaseException as exc:
        found = _done_to_process(caught)
        if found is None:
            raise
        raise found from exc
    found = _done_to_process(caught)
    if found is not None:
        raise found
    return result


def _done_to_process(caught: list[threading.ExceptHookArgs]) -> BaseException | None:
    """A fork by the code under test (the child was ended), else a thread's crash."""
    forks = guards.take_forks()
    if forks:
        path, func, line = forks[0]
        func = _t("runaway.at_import") if func == "<module>" else func
        return Runaway(_t("runaway.fork", path=path, func=func, line=line))
    return _thread_crash(caught) if caught else None


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Iterator[None]:
    # A closure marks the test as run: one that passes unmarked never ran (integrity.py).
    original, replaced = integrity.run_marked(pyfuncitem)
    state = pyfuncitem.config.stash[STATE]
    if replaced and not state.test_replaced:  # once: the code that did it swaps them all
        state.test_replaced = True
        state.integrity.append(_t("integrity.test_replaced", nodeid=pyfuncitem.nodeid))
    try:
        return (yield)
    finally:
        pyfuncitem.obj = original


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    with _hang_limit(item.config.stash[STATE].fixture_hang_after, "teardown"):
        result = yield
    left = guards.left_running(item.stash.get(THREADS_BEFORE, set()))
    if left:
        raise Runaway("\n".join(_left_text(thread) for thread in left))
    return result


def _left_text(thread: guards.LeftThread) -> str:
    key = "runaway.thread_busy" if thread.busy else "runaway.thread_not_daemon"
    text = _t(key, name=thread.name, where=thread.where)
    return text + " " + _t("runaway.stopped" if thread.stopped else "runaway.not_stopped")


@contextlib.contextmanager
def _hang_limit(seconds: float, phase: str, caught: list | None = None) -> Iterator[bool]:
    """SIGALRM after `seconds`: KataHang (or the ThreadCrash in `caught`). Yields: armed.

    In a test's call it also rings every CHECK_EVERY s after EARLY_AFTER (diagnose.py):
    a classic mistake stops the test with its name instead of waiting it out.
    """
    if (
        seconds <= 0
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield False  # Windows: pytest-timeout's outer limit still applies
        return
    deadline = time.monotonic() + seconds
    early = phase == "call"

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        left = deadline - time.monotonic()
        if guards.unsafe_to_raise(frame):
            # In a gc callback or a __del__ it would be printed and dropped: ring again soon.
            signal.setitimer(signal.ITIMER_REAL, 0.01)
            return
        if guards.interrupted():
            raise KeyboardInterrupt
        if caught:
            raise _thread_crash(caught)
        if left <= 0:
            raise KataHang(seconds, phase)
        mistake = diagnose.early_mistake() if early else None
        if mistake is not None:
            raise diagnose.LearnerMistake(mistake)
        signal.setitimer(signal.ITIMER_REAL, min(diagnose.CHECK_EVERY, left))

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, min(seconds, diagnose.EARLY_AFTER) if early else seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _thread_crash(caught: list[threading.ExceptHookArgs]) -> ThreadCrash:
    first = caught[0]
    named = diagnose.callback_signature(first.exc_value)
    if named is not None:
        return ThreadCrash(named)  # the cause says it all; paho's traceback would not
    tb = "".join(traceback.format_exception(first.exc_type, first.exc_value, first.exc_traceback))
    where = traceback_in_tree(first.exc_value)
    place = _t("thread_crash.place", path=where[-1][0], func=where[-1][1]) if where else ""
    name = first.thread.name if first.thread is not None else "?"
    error = f"{first.exc_type.__name__}: {first.exc_value}"
    text = _t("thread_crash", name=name, place=place, error=error)
    hint = _t("thread_crash.hint")
    return ThreadCrash(f"{text}\n{hint}\n{tb}")


# --- reporting ----------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _exercise_for(path: str) -> Exercise | None:
    return load_catalog().for_test_file(target.relative(path) or path)


def _exercise_of(item: pytest.Item) -> Exercise | None:
    return _exercise_for(str(item.path))


def _is_harness_test(nodeid: str) -> bool:
    return "tests/harness/" in nodeid


def new_result(item: pytest.Item, status: Outcome) -> TestResult:
    """The record of one test, with its exercise and chapter."""
    ex = _exercise_of(item)
    return TestResult(
        item.nodeid, item.name, ex.id if ex else None, ex.chapter if ex else None, status
    )


def _is_not_implemented(exc: BaseException | None) -> bool:
    for one in guards.causes(exc):
        if isinstance(one, NotImplementedError):
            return True
        if isinstance(one, BaseExceptionGroup):
            return all(_is_not_implemented(e) for e in one.exceptions)
    return False


class OneLine:
    """A failure report that is just text; its first line also shows in the summary."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.reprcrash = SimpleNamespace(message=text.splitlines()[0] if text else "")

    def toterminal(self, tw) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


def _hang_text(exc: KataHang, frames: list, exercise: Exercise | None, tree: str) -> str:
    if frames:  # where it was called, and the line it waits on now
        (path, func, _), (where, _, line) = frames[0], frames[-1]
        key = "hang.import" if func == "<module>" else "hang.function"
        return _t(key, path=path, func=func, seconds=exc.seconds, line=line, where=where)
    if exc.phase in ("setup", "teardown"):
        return _t(f"hang.{exc.phase}", seconds=exc.seconds)
    where = exercise.relpath(tree) if exercise else _t("hang.the_test")
    return _t("hang.waited_on", where=where, seconds=exc.seconds)


def classify(exc: BaseException, exercise: Exercise | None, tree: str) -> tuple[str, str]:
    """(category, one-line message) for a failed test."""
    frames = traceback_in_tree(exc)
    if isinstance(exc, KataHang):
        return Category.HANG, _hang_text(exc, frames, exercise, tree)
    for kind, category in (
        (target.ExerciseBroken, Category.BROKEN),
        (EarlierHang, Category.HANG),
        (ThreadCrash, Category.THREAD_CRASH),
        (Runaway, Category.RUNAWAY),
    ):
        if isinstance(exc, kind):
            return category, str(exc)
    if isinstance(exc, SystemExit) and frames:
        path, func, _ = frames[0]
        call = target.exit_text(exc)
        return Category.RUNAWAY, _t(
            "runaway.exit", path=path, func=func, call=call, line=frames[-1][2]
        )
    if _is_not_implemented(exc):
        if frames:
            path, func, _ = frames[-1]
            return Category.NOT_DONE, _t("not_done.function", path=path, func=func)
        # Raised by a test on behalf of a stub it ran in a subprocess:
        # NotImplementedError("exercises/ch05_sensor/dashboard.py: main").
        said = str(exc).strip()
        if said.startswith(f"{tree}/"):
            return Category.NOT_DONE, _t("not_done.file", where=said.splitlines()[0])
        if exercise is not None:
            return Category.NOT_DONE, _t("not_done.file", where=exercise.relpath(tree))
    line = f"{type(exc).__name__}: {exc}".removesuffix(": ").strip().splitlines()
    return Category.FAILED, line[0] if line else type(exc).__name__


@pytest.hookimpl(tryfirst=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_one_line(
    item: pytest.Item, call: pytest.CallInfo
) -> pytest.TestReport | None:
    """The report of a failure the kata tells in one line (ONE_LINERS), without pytest's
    traceback text, which would be replaced: formatting it parses the source of every
    frame, ~25 ms a test, most of the time a run of the stubs takes."""
    exc = call.excinfo.value if call.excinfo is not None else None
    if exc is None:
        return None
    category, message = classify(exc, _exercise_of(item), item.config.stash[STATE].tree)
    if category not in ONE_LINERS:
        return None
    sections = [(f"Captured {key} {when}", text) for when, key, text in item._report_sections]
    return pytest.TestReport(
        item.nodeid,
        item.location,
        dict.fromkeys(item.keywords, 1),
        "failed",
        OneLine(message),
        call.when,  # type: ignore[arg-type]
        sections,
        call.duration,
        call.start,
        call.stop,
        user_properties=item.user_properties,
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    if call.when == "teardown":
        # Else hypothesis writes a patch "to add failing examples to your code" (misleading
        # here) with libcst, whose import warning can turn the failure into an INTERNALERROR.
        with contextlib.suppress(AttributeError):
            del item._hypothesis_failing_examples  # type: ignore[attr-defined]
    report: pytest.TestReport = yield
    state = item.config.stash[STATE]
    report.sections = [_capped_section(title, text) for title, text in report.sections]
    result = state.outcomes.get(item.nodeid)
    if result is None:
        result = state.outcomes[item.nodeid] = new_result(item, Outcome.PASS)
    result.duration = round(result.duration + report.duration, 4)
    if report.capstdout or report.capstderr:
        result.output = cap(result.output + report.capstdout + report.capstderr, OUTPUT_CAP)
    if report.skipped:
        if result.status == Outcome.PASS:
            result.status = Outcome.SKIP
            result.message = cap(_skip_reason(report), MESSAGE_CAP)
    elif report.when == "call" and report.passed and _body_skipped(item):
        message = _t("tampered.body")
        report.outcome = "failed"
        report.longrepr = OneLine(message)
        result.status, result.category, result.message = Outcome.FAIL, Category.TAMPERED, message
        state.integrity.append(_t("integrity.body", nodeid=item.nodeid))
        report.user_properties.append(("kata_category", Category.TAMPERED))
    elif report.failed:
        _record_failure(item, call, report, result, state)
    if report.failed:
        if call.when == "call":
            _name_the_mistake(item, call, report, result)
        # pytest's own text (--tb=short) for `kata next` and `watch`, unless the message says it.
        text = str(report.longrepr or "").strip()
        if not result.details and text and text not in result.message:
            result.details = cap(text, DETAILS_CAP)
    if _in_worker(item.config):
        # Each phase's report carries the record so far; the last one wins.
        report.user_properties.append((RESULT_PROPERTY, json.loads(json.dumps(asdict(result)))))
    return report


def _name_the_mistake(
    item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport, result: TestResult
) -> None:
    """The cause in the first line, when paho recorded a classic mistake."""
    exc = call.excinfo.value if call.excinfo is not None else None
    mistake = diagnose.name_mistake(exc, item.stash.get(TEST_LOG, None))
    if mistake is None:
        return
    if isinstance(exc, diagnose.LearnerMistake):
        # The test was stopped early: where the tree's code was waiting.
        frames = traceback_in_tree(exc)
        if frames:
            path, func, line = frames[-1]
            mistake += "\n" + _t("mistake.stopped_at", path=path, func=func, line=line)
    if isinstance(exc, diagnose.LearnerMistake) or diagnose.api_version1(exc) is not None:
        # The line says where; paho's traceback would say no more.
        result.message = cap(mistake, MESSAGE_CAP)
        report.longrepr = OneLine(mistake)
    else:
        before = str(report.longrepr or "").strip()
        result.message = cap(f"{mistake}\n{result.message}", MESSAGE_CAP)
        report.longrepr = OneLine(f"{mistake}\n{before}")


def _record_failure(
    item: pytest.Item,
    call: pytest.CallInfo,
    report: pytest.TestReport,
    result: TestResult,
    state: KataState,
) -> None:
    exc = call.excinfo.value if call.excinfo is not None else None
    if exc is None:
        said = str(report.longrepr).strip().splitlines()[-1:]
        category, message = Category.FAILED, said[0] if said else "failed"
    else:
        category, message = classify(exc, _exercise_of(item), state.tree)
    if category == Category.FAILED and state.broker is not None and not state.broker.alive():
        message = _t("broker_died", log=state.broker.log_tail(10))
        category = Category.BROKER_DIED
        state.broker_died = True
    if category == Category.FAILED and report.when == "call":
        # A bare "TimeoutError:" says little when a thread of the tree is stuck: say where.
        stuck = guards.stuck_threads(item.stash.get(THREADS_BEFORE, set()))[:2]
        meanwhile = [_t("runaway.meanwhile", name=name, where=where) for name, where in stuck]
        if meanwhile:
            message += "".join(f" {line}" for line in meanwhile)
            report.sections.append(("kata", "\n".join(meanwhile)))
        if exc is not None and len(str(exc)) > EXCEPTION_CAP:
            # An exception that carries megabytes: the terminal gets its start and end.
            text = f"{type(exc).__name__}: {exc}"
            report.longrepr = OneLine(guards.cap_middle(text, EXCEPTION_CAP, _cut))
    # What the code did to the test process outweighs an unfinished function.
    if result.status in (Outcome.PASS, Outcome.SKIP) or category == Category.RUNAWAY:
        result.status = Outcome.FAIL if report.when == "call" else Outcome.ERROR
        result.category, result.message = category, cap(message, MESSAGE_CAP)
    if category == Category.HANG and result.exercise and not isinstance(exc, EarlierHang):
        state.hung.setdefault(result.exercise, f"{message} (in {item.name})")
    if category in ONE_LINERS:
        report.longrepr = OneLine(message)
    report.user_properties.append(("kata_category", str(category)))  # plain text travels


def _body_skipped(item: pytest.Item) -> bool:
    """The test passed, but pytest never called its function (pytest was patched)."""
    return integrity.plain_function(item) and not integrity.body_ran(item)


def _cut(count: int) -> str:
    return "\n" + _t("output.cut", count=count) + "\n"


def _capped_section(title: str, text: str) -> tuple[str, str]:
    if not title.startswith("Captured"):
        return title, text
    return title, guards.cap_middle(text, TERMINAL_OUTPUT_CAP, _cut)


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


# --- the end of the run: summary, exit status, results.json -----------------------


def _stubs_problems(state: KataState) -> tuple[list[TestResult], list[TestResult]]:
    """(chapter tests, those that do not fail with 'not done yet' against the stubs)."""
    ran = [t for t in state.outcomes.values() if not _is_harness_test(t.nodeid)]
    wrong = [t for t in ran if t.status != Outcome.SKIP and t.category != Category.NOT_DONE]
    return ran, wrong


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash[STATE]
    write = terminalreporter.write_line
    for name, where in guards.blocking_exit():
        write(_t("runaway.blocks_exit", name=name, where=where or _t("runaway.unknown_code")))
    for line in state.integrity:
        write(_t("integrity.line", line=line))
    if state.stubs_must_fail:
        _stubs_summary(terminalreporter, state)
    tests = list(state.outcomes.values())
    ran_ids = {t.exercise for t in tests if t.exercise}
    if not ran_ids or state.broker_error:
        return  # no broker: the table would only say that nothing ran
    catalog = load_catalog()
    scores = score(tests, catalog, ran_ids)
    terminalreporter.section(_t("progress.title", tree=state.tree), sep="-")
    marks = {Status.DONE: "done", Status.TODO: "todo", Status.FAILING: "fail"}
    next_up = None
    for chapter in catalog.chapters:
        rows = [e for e in scores if e.chapter == chapter.id]
        if rows:
            write(f"{chapter.id}  {chapter.title_in(_LANG)}")
        for e in rows:
            note = _t("progress.not_done") if e.status == Status.TODO else e.first_failure
            counts = _t("progress.passed", passed=e.passed, total=e.total)
            if e.skipped:
                counts += _t("progress.skipped", count=e.skipped)
            head = f"  [{mark_word(marks.get(e.status, 'skip'), _LANG)}] {e.module:<16} {counts}"
            write(table_row(head, note.splitlines()[0] if note else ""))
            if e.status in (Status.TODO, Status.FAILING) and next_up is None:
                next_up = catalog.exercise(e.id)
    if next_up is not None and not state.stubs_must_fail and state.tree == "exercises":
        write(_t("progress.next", path=next_up.relpath(state.tree), module=next_up.module))


def _stubs_summary(terminalreporter, state: KataState) -> None:
    ran, wrong = _stubs_problems(state)
    terminalreporter.section("stubs must fail", sep="-")
    for t in wrong:
        why = "PASSES against the stub" if t.status == Outcome.PASS else t.message[:100]
        terminalreporter.write_line(f"  {t.nodeid}: {why}")
    if wrong:
        terminalreporter.write_line(
            f"{len(wrong)} of {len(ran)} tests do not fail with 'not done yet' against the stubs"
        )
    else:
        skipped = sum(t.status == Outcome.SKIP for t in ran)
        terminalreporter.write_line(
            f"all {len(ran) - skipped} tests fail against the stubs with 'not done yet'"
            + (f" ({skipped} skipped)" if skipped else "")
        )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(STATE, None)
    if state is None:
        return
    for item in session.items:
        # Collected tests that never reported (stopped by -x or Ctrl-C): not run.
        if item.nodeid not in state.outcomes:
            state.outcomes[item.nodeid] = new_result(item, Outcome.NOT_RUN)
    _check_integrity(state, session.config, _t("integrity.session"))
    if state.integrity and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    json_path = session.config.getoption("--kata-json")
    if _in_worker(session.config):  # xdist: the controller writes, with the worker's lines
        session.config.workeroutput[INTEGRITY_OUTPUT] = list(state.integrity)  # type: ignore[attr-defined]
    elif json_path:
        _write_results(Path(json_path), state)
    if state.stubs_must_fail and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        ran, wrong = _stubs_problems(state)
        if not ran:
            session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
        else:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED if wrong else pytest.ExitCode.OK
    state.exitstatus = int(session.exitstatus)


def _write_results(path: Path, state: KataState) -> None:
    tests = list(state.outcomes.values())
    passed = all(t.status in (Outcome.PASS, Outcome.SKIP) for t in tests)
    report = Results(
        version=1,
        target=state.tree,
        # Kind and version, not ports: two gradings of one tree write the same report.
        broker=f"{state.broker.kind} {state.broker.version}".strip() if state.broker else "none",
        status="pass" if tests and passed and not state.integrity else "fail",
        tests=tests,
        exercises=score(tests, load_catalog(), {t.exercise for t in tests if t.exercise}),
        error=state.broker_error or "",
        integrity=list(state.integrity),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.as_json(), encoding="utf-8")
