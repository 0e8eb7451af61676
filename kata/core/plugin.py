"""The kata's pytest plugin: options, broker fixtures, friendly failure reports.

Loaded by the repository's conftest.py. What a learner sees:
- which broker runs the tests, printed before the first test;
- a stub as one line: "not done yet: exercises/ch03_clients/publisher.py: publish_messages";
- a hang as one line naming the function that did not return;
- an exception on paho's network thread as a failure of the test that caused it;
- a progress table per chapter at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from kata.core import brokers, diagnose, target
from kata.core.brokers import Broker, BrokerError, Choice
from kata.core.catalog import ROOT, CatalogError, Exercise
from kata.core.catalog import load as load_catalog
from kata.core.i18n import mark as mark_word
from kata.core.i18n import pick_language
from kata.core.i18n import row as table_row
from kata.core.i18n import t as translate
from kata.core.probe import Probe
from kata.core.results import (
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

# Fast start, fail-fast bookkeeping and the names of beginner mistakes.
pytest_plugins = ["kata.core.loop"]

# --- outcomes the harness recognises ----------------------------------------

NOT_DONE, BROKEN, HANG = Category.NOT_DONE, Category.BROKEN, Category.HANG
THREAD_CRASH, FAILED, BROKER_DIED = Category.THREAD_CRASH, Category.FAILED, Category.BROKER_DIED


class KataHang(BaseException):
    """Raised in the main thread when a test runs past its time.

    A BaseException, so that a learner's `except Exception:` cannot swallow it.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(_t("hang.did_not_finish", seconds=seconds))
        self.seconds = seconds


class ThreadCrash(AssertionError):
    """An exception escaped on a background thread (usually paho's) during the test."""


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
    broker_died: bool = False
    hung: dict[str, str] = field(default_factory=dict)  # exercise id -> its hang message

    def session_broker(self) -> Broker:
        if self.broker is None:
            if self.broker_error:
                raise BrokerError(self.broker_error)
            self.broker, self.choice = brokers.open_session(
                self.mode, self.workdir / "session-broker"
            )
        return self.broker


STATE = pytest.StashKey[KataState]()
# The language of what the harness says (--lang of `kata`, KATA_LANG, the locale).
_LANG = "en"


def _t(key: str, **fields: object) -> str:
    return translate(key, _LANG, **fields)


# --- options ----------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kata")
    group.addoption(
        "--target",
        default=None,
        help="tree under test: exercises (yours, default) or solutions (env KATA_TARGET)",
    )
    group.addoption(
        "--broker",
        default=None,
        help="where the broker comes from: auto (default), docker, local, external "
        "(env KATA_BROKER)",
    )
    group.addoption(
        "--stubs-must-fail",
        action="store_true",
        default=False,
        help="maintainers: pass only if every chapter test fails against the untouched "
        "stubs with 'not done yet'",
    )
    group.addoption(
        "--shuffle",
        type=int,
        default=None,
        metavar="SEED",
        help="run the tests in a random order drawn from SEED (isolation check)",
    )
    group.addoption(
        "--kata-json",
        default=None,
        metavar="PATH",
        help="write per-test and per-exercise results (results.json) to PATH",
    )
    parser.addini("kata_hang_after", "seconds before a test counts as hanging", default="15")


def pytest_configure(config: pytest.Config) -> None:
    global _LANG
    _LANG = pick_language(None)
    try:
        tree = target.select(config.getoption("--target"))
    except target.TargetError as exc:
        raise pytest.UsageError(str(exc)) from None
    mode = config.getoption("--broker") or os.environ.get("KATA_BROKER") or "auto"
    if mode not in brokers.MODES:
        raise pytest.UsageError(
            _t("usage.unknown_broker", mode=mode, choices=", ".join(brokers.MODES))
        )
    try:
        load_catalog()
    except CatalogError as exc:
        raise pytest.UsageError(str(exc)) from None
    stubs = config.getoption("--stubs-must-fail")
    if stubs and tree != "exercises":
        raise pytest.UsageError("--stubs-must-fail checks the exercises tree, not solutions")
    config.stash[STATE] = KataState(
        tree=tree,
        mode=mode,
        stubs_must_fail=stubs,
        hang_after=float(config.getini("kata_hang_after")),
    )
    brokers.stop_cleanly_on_sigterm()


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash[STATE]
    seed = config.getoption("--shuffle")
    order = _t("header.shuffled", seed=seed) if seed is not None else ""
    return [_t("header.target", tree=state.tree, mode=state.mode, order=order)]


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = config.stash[STATE]
    if state.stubs_must_fail:
        # The harness's own tests do not touch the exercises.
        keep = [i for i in items if "tests/harness/" not in _relpath(i)]
        deselected = [i for i in items if i not in keep]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = keep
    # Learners read the first failure first: keep catalog (chapter) order.
    order = {ex.tests: n for n, ex in enumerate(load_catalog().exercises())}
    items.sort(key=lambda i: order.get(_relpath(i), len(order)))
    seed = config.getoption("--shuffle")
    if seed is not None:
        # The soak (bench/soak.py) proves that no test depends on another's order.
        random.Random(seed).shuffle(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the session broker now, outside any test's time limit."""
    state = session.config.stash[STATE]
    if not any("broker" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    try:
        state.session_broker()
    except BrokerError as exc:
        state.broker_error = str(exc)
        pytest.exit(f"\n{exc}\n", returncode=pytest.ExitCode.USAGE_ERROR)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and state.broker is not None:
        fell_back = state.choice is not None and state.choice.reason.startswith("Docker")
        why = f"\n  ({state.choice.reason})" if fell_back else ""
        reporter.write_line(_t("broker.using", broker=state.broker.describe()) + why)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None and state.broker is not None:
        with contextlib.suppress(Exception):
            state.broker.close()
    brokers.stop_all()
    if state is not None:
        # The session's config, certificates and log; a broker shared by
        # `kata watch` keeps its own directory.
        shutil.rmtree(state.workdir, ignore_errors=True)


# --- fixtures ---------------------------------------------------------------


@pytest.fixture(scope="session")
def broker(pytestconfig: pytest.Config) -> Broker:
    """The session's broker: anonymous `port`, plus `auth_port` and `tls_port`."""
    return pytestconfig.stash[STATE].session_broker()


@pytest.fixture
def broker_factory(
    broker: Broker, pytestconfig: pytest.Config, tmp_path: Path
) -> Iterator[Callable[..., Broker]]:
    """Start private brokers (same kind as the session's) for tests that stop one.

    broker_factory(listeners=("mqtt",), port=None, persistence=False,
                   users=None, acl=None, extra="", config_text=None, kind=None)

    Returns a Broker with stop(), start() (same ports), kill(), alive(),
    log_tail(); each is closed after the test. kind="local" asks for the
    mosquitto binary whatever the session uses (skips when it is missing).
    """
    if broker.kind == "external":
        pytest.skip(_t("skip.private_broker"))
    started: list[Broker] = []

    def start(kind: str | None = None, **kwargs: object) -> Broker:
        if kind == "local" and brokers.find_mosquitto() is None:
            pytest.skip(_t("skip.needs_mosquitto"))
        choice = Choice(kind or broker.kind, "private")
        kwargs.setdefault("listeners", ("mqtt",))
        private = brokers.start(choice, tmp_path / f"broker{len(started)}", **kwargs)
        started.append(private)
        return private

    yield start
    for private in started:
        with contextlib.suppress(Exception):
            private.close()


def _test_key(request: pytest.FixtureRequest) -> str:
    return hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]


@pytest.fixture
def topic(request: pytest.FixtureRequest, broker: Broker) -> Iterator[str]:
    """A topic prefix no other test uses; retained messages under it are cleared after."""
    prefix = f"kata/{_test_key(request)}/{uuid.uuid4().hex[:6]}"
    yield prefix
    if broker.kind == "external" and broker.username is None and broker.tls:
        return
    with contextlib.suppress(Exception), _probe_for(broker) as cleaner:
        for name in cleaner.retained_under(f"{prefix}/#", prefix):
            cleaner.publish(name, b"", qos=1, retain=True)


@pytest.fixture
def client_id(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """client_id("sub") -> an id unique to this test and call."""
    key = _test_key(request)

    def make(role: str = "client") -> str:
        return f"kata-{key}-{role}-{uuid.uuid4().hex[:6]}"

    return make


def _probe_for(broker: Broker, **kwargs: object) -> Probe:
    if broker.kind == "external":
        kwargs.setdefault("username", broker.username)
        kwargs.setdefault("password", broker.password)
        kwargs.setdefault("tls", broker.tls)
    return Probe(broker.host, broker.port, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def probe_factory(broker: Broker) -> Iterator[Callable[..., Probe]]:
    """probe_factory(**Probe kwargs) -> a connected recording client, closed after the test."""
    made: list[Probe] = []

    def make(**kwargs: object) -> Probe:
        port = kwargs.pop("port", None)
        # On another listener of the session broker, or on the anonymous one.
        p = (
            Probe(broker.host, port, **kwargs)  # type: ignore[arg-type]
            if port is not None
            else _probe_for(broker, **kwargs)
        )
        made.append(p)
        return p

    yield make
    for p in made:
        with contextlib.suppress(Exception):
            p.close()


@pytest.fixture
def probe(probe_factory: Callable[..., Probe]) -> Probe:
    """A connected recording client on the session broker (like caplog, for MQTT)."""
    return probe_factory()


@pytest.fixture
def no_thread_leak() -> Iterator[Callable[[], None]]:
    """Call the yielded check after the code under test returned: no new paho thread may live."""
    before = set(threading.enumerate())

    def check(grace: float = 1.0) -> None:
        leaked = [
            t
            for t in threading.enumerate()
            if t not in before and t.name.startswith("paho-mqtt-client")
        ]
        for thread in leaked:
            thread.join(grace / max(1, len(leaked)))
        alive = [thread.name for thread in leaked if thread.is_alive()]
        assert not alive, _t("thread_leak", alive=alive)

    yield check


class EarlierHang(Exception):
    """An earlier test of the same exercise hung: this one is not run (it would hang too)."""


def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash[STATE]
    exercise = load_catalog().for_test_file(_relpath(item))
    if exercise is not None and exercise.id in state.hung:
        # A function that never returns would cost every test of the exercise
        # its full time limit; once is enough to say so.
        raise EarlierHang(state.hung[exercise.id])
    if state.broker_died and state.broker is not None:
        # One test killed the session broker; the next ones get it back on
        # the same ports, so one fault costs one test.
        state.broker_died = False
        with contextlib.suppress(BrokerError):
            state.broker.start()
    marker = item.get_closest_marker("needs_listener")
    if marker is None:
        return
    name = marker.args[0]
    if state.broker is not None and state.broker.kind == "external":
        pytest.skip(_t("skip.no_listener", name=name))


# --- running a test: hang limit and thread crashes ----------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    state = item.config.stash[STATE]
    caught: list[threading.ExceptHookArgs] = []
    timer = _arm_hang_timer(state.hang_after, caught)

    def on_thread_exception(args: threading.ExceptHookArgs) -> None:
        caught.append(args)
        if timer is not None and len(caught) == 1:
            # Wake the test now instead of letting it wait for what the dead
            # thread will never deliver: the alarm handler raises ThreadCrash.
            diagnose.wake_main(signal.SIGALRM)

    previous_hook = threading.excepthook
    threading.excepthook = on_thread_exception
    try:
        try:
            result = yield
        finally:
            _disarm_hang_timer(timer)
            threading.excepthook = previous_hook
    except (ThreadCrash, KataHang, KeyboardInterrupt):
        raise
    except BaseException as exc:
        if caught:
            raise _thread_crash(caught) from exc
        raise
    if caught:
        raise _thread_crash(caught)
    return result


def _arm_hang_timer(seconds: float, caught: list) -> object | None:
    if (
        seconds <= 0
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        return None  # Windows: pytest-timeout's outer limit still applies

    def on_alarm(signum: int, frame: object) -> None:
        if caught:
            raise _thread_crash(caught)
        raise KataHang(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return previous


def _disarm_hang_timer(previous: object | None) -> None:
    if previous is None:
        return
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)  # type: ignore[arg-type]


def _thread_crash(caught: list[threading.ExceptHookArgs]) -> ThreadCrash:
    first = caught[0]
    tb = "".join(traceback.format_exception(first.exc_type, first.exc_value, first.exc_traceback))
    name = first.thread.name if first.thread is not None else "?"
    where = _target_frames(first.exc_value)
    place = _t("thread_crash.place", path=where[-1][0], func=where[-1][1]) if where else ""
    named = diagnose.callback_signature(first.exc_value)
    if named is not None:
        return ThreadCrash(named)  # the cause says it all; paho's traceback would not
    hint = _t("thread_crash.hint")
    error = f"{first.exc_type.__name__}: {first.exc_value}"
    return ThreadCrash(_t("thread_crash", name=name, place=place, error=error) + f"\n{hint}\n{tb}")


# --- reporting ----------------------------------------------------------------


def _relpath(item: pytest.Item) -> str:
    try:
        return Path(str(item.path)).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(item.path)


def _target_frames(exc: BaseException | None) -> list[tuple[str, str, int]]:
    """(relpath, qualified function, line) of every frame in the tree under test."""
    frames: list[tuple[str, str, int]] = []
    tree_root = target.tree_path()
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        tb = exc.__traceback__
        chain: list[tuple[str, str, int]] = []
        while tb is not None:
            code = tb.tb_frame.f_code
            try:
                rel = Path(code.co_filename).resolve().relative_to(tree_root.parent)
            except ValueError:
                rel = None
            if rel is not None and rel.parts and rel.parts[0] == tree_root.name:
                name = getattr(code, "co_qualname", code.co_name)
                chain.append((rel.as_posix(), name, tb.tb_lineno))
            tb = tb.tb_next
        frames = chain + frames
        exc = exc.__cause__ or exc.__context__
    return frames


def _is_not_implemented(exc: BaseException | None) -> bool:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, NotImplementedError):
            return True
        if isinstance(exc, BaseExceptionGroup):
            return all(_is_not_implemented(e) for e in exc.exceptions)
        exc = exc.__cause__ or exc.__context__
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


def classify(exc: BaseException, exercise: Exercise | None, tree: str) -> tuple[str, str]:
    """(category, one-line message) for a failed test."""
    frames = _target_frames(exc)
    if isinstance(exc, target.ExerciseBroken):
        return BROKEN, str(exc)
    if isinstance(exc, KataHang):
        if frames:
            path, func, _ = frames[0]
            message = _t(
                "hang.function",
                path=path,
                func=func,
                seconds=exc.seconds,
                line=frames[-1][2],
                where=frames[-1][0],
            )
            return HANG, message
        where = exercise.relpath(tree) if exercise else _t("hang.the_test")
        return HANG, _t("hang.waited_on", where=where, seconds=exc.seconds)
    if isinstance(exc, EarlierHang):
        return HANG, str(exc)
    if isinstance(exc, ThreadCrash):
        return THREAD_CRASH, str(exc)
    if _is_not_implemented(exc):
        if frames:
            path, func, _ = frames[-1]
            return NOT_DONE, _t("not_done.function", path=path, func=func)
        # Raised by a test on behalf of a stub it ran in a subprocess:
        # NotImplementedError("exercises/ch05_sensor/dashboard.py: main").
        said = str(exc).strip()
        if said.startswith(f"{tree}/"):
            return NOT_DONE, _t("not_done.file", where=said.splitlines()[0])
        if exercise is not None:
            return NOT_DONE, _t("not_done.file", where=exercise.relpath(tree))
    line = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return FAILED, line[0] if line else type(exc).__name__


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    if call.when == "teardown":
        # After a failing hypothesis test, hypothesis's plugin writes a patch
        # "to add failing examples to your code" (misleading for a learner)
        # and imports libcst for it where installed; some libcst versions warn
        # on import, and with warnings as errors the learner's failure would
        # become an INTERNALERROR. The report already names the failing example.
        with contextlib.suppress(AttributeError):
            del item._hypothesis_failing_examples  # type: ignore[attr-defined]
    report: pytest.TestReport = yield
    state = item.config.stash[STATE]
    result = state.outcomes.get(item.nodeid)
    if result is None:
        exercise = load_catalog().for_test_file(_relpath(item))
        result = TestResult(
            nodeid=item.nodeid,
            name=item.name,
            exercise=exercise.id if exercise else None,
            chapter=exercise.chapter if exercise else None,
            status=Outcome.PASS,
        )
        state.outcomes[item.nodeid] = result
    result.duration = round(result.duration + report.duration, 4)
    if report.capstdout or report.capstderr:
        result.output = cap(result.output + report.capstdout + report.capstderr, OUTPUT_CAP)
    if report.skipped:
        if result.status == Outcome.PASS:
            result.status = Outcome.SKIP
            result.message = cap(_skip_reason(report), MESSAGE_CAP)
        return report
    if not report.failed:
        return report
    exc = call.excinfo.value if call.excinfo is not None else None
    status = Outcome.FAIL if report.when == "call" else Outcome.ERROR
    if exc is None:
        category, message = FAILED, str(report.longrepr).strip().splitlines()[-1:]
        message = message[0] if message else "failed"
    else:
        exercise = load_catalog().for_test_file(_relpath(item))
        category, message = classify(exc, exercise, state.tree)
    if category == FAILED and state.broker is not None and not state.broker.alive():
        message = _t("broker_died", log=state.broker.log_tail(10))
        category = BROKER_DIED
        state.broker_died = True
    if result.status in (Outcome.PASS, Outcome.SKIP):
        result.status, result.category = status, category
        result.message = cap(message, MESSAGE_CAP)
    if category == HANG and result.exercise and not isinstance(exc, EarlierHang):
        state.hung.setdefault(result.exercise, f"{message} (in {item.name})")
    if category in (NOT_DONE, BROKEN, HANG, THREAD_CRASH, BROKER_DIED):
        report.longrepr = OneLine(message)
    report.user_properties.append(("kata_category", str(category)))  # plain text travels
    return report


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


def _chapter_results(state: KataState) -> list[TestResult]:
    return [t for t in state.outcomes.values() if "tests/harness/" not in t.nodeid]


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash[STATE]
    if state.stubs_must_fail:
        _stubs_summary(terminalreporter, state)
    tests = list(state.outcomes.values())
    ran_ids = {t.exercise for t in tests if t.exercise}
    if not ran_ids:
        return
    catalog = load_catalog()
    scores = score(tests, catalog, ran_ids)
    write = terminalreporter.write_line
    terminalreporter.section(_t("progress.title", tree=state.tree), sep="-")
    marks = {
        Status.DONE: "done",
        Status.TODO: "todo",
        Status.FAILING: "fail",
        Status.NOT_RUN: "skip",
    }
    next_up = None
    for chapter in catalog.chapters:
        rows = [e for e in scores if e.chapter == chapter.id]
        if not rows:
            continue
        write(f"{chapter.id}  {chapter.title_in(_LANG)}")
        for e in rows:
            note = _t("progress.not_done") if e.status == Status.TODO else e.first_failure
            counts = _t("progress.passed", passed=e.passed, total=e.total)
            head = f"  [{mark_word(marks[e.status], _LANG)}] {e.module:<16} {counts}"
            write(table_row(head, note.splitlines()[0] if note else ""))
            if e.status in (Status.TODO, Status.FAILING) and next_up is None:
                next_up = catalog.exercise(e.id)
    if next_up is not None and not state.stubs_must_fail and state.tree == "exercises":
        write(_t("progress.next", path=next_up.relpath(state.tree), module=next_up.module))


def _stubs_problems(state: KataState) -> list[TestResult]:
    return [
        t for t in _chapter_results(state) if t.status != Outcome.SKIP and t.category != NOT_DONE
    ]


def _stubs_summary(terminalreporter, state: KataState) -> None:
    ran = _chapter_results(state)
    wrong = _stubs_problems(state)
    terminalreporter.section("stubs must fail", sep="-")
    if wrong:
        for t in wrong:
            why = "PASSES against the stub" if t.status == Outcome.PASS else t.message[:100]
            terminalreporter.write_line(f"  {t.nodeid}: {why}")
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
    json_path = session.config.getoption("--kata-json")
    if json_path and not hasattr(session.config, "workerinput"):  # xdist: the controller writes
        _write_results(Path(json_path), state, exitstatus)
    if not state.stubs_must_fail:
        return
    if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return
    if not _chapter_results(state):
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
        return
    failed = bool(_stubs_problems(state))
    session.exitstatus = pytest.ExitCode.TESTS_FAILED if failed else pytest.ExitCode.OK


def _write_results(path: Path, state: KataState, exitstatus: int) -> None:
    catalog = load_catalog()
    tests = list(state.outcomes.values())
    ran_ids = {t.exercise for t in tests if t.exercise}
    results = Results(
        version=1,
        target=state.tree,
        # Kind and version, not ports: two gradings of one tree write the same report.
        broker=f"{state.broker.kind} {state.broker.version}".strip() if state.broker else "none",
        status="pass"
        if tests and all(t.status in (Outcome.PASS, Outcome.SKIP) for t in tests)
        else "fail",
        tests=tests,
        exercises=score(tests, catalog, ran_ids),
        error=state.broker_error or "",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(results.as_json(), encoding="utf-8")
