"""The learner loop's side of the pytest plugin: start fast, stop at the first failure.

Loaded by kata/core/plugin.py (its `pytest_plugins`). What it does:
- hypothesis is imported only when a collected test module uses it; its
  pytest plugin (which imports it at the end of every run) is put aside
  when no test needs it;
- the objects alive after collection (modules, the collected tests) are
  frozen out of the garbage collector: pytest runs gc.collect() five times
  at the end of a session, and each pass would walk all of them again;
- a failing test keeps pytest's own report of it (--tb=short, capped) in
  results.json, so `kata next` and `kata watch` can show it in full;
- tests that never ran because an earlier one failed (-x) are recorded as
  "not run", so that counts stay right;
- a classic beginner mistake (kata/core/diagnose.py) is named in the first
  line of the failure, and a test that waits on one is stopped early.
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from kata.core import diagnose
from kata.core.guards import traceback_in_tree
from kata.core.i18n import pick_language
from kata.core.i18n import t as translate
from kata.core.plugin import STATE, KataState, OneLine, new_result
from kata.core.results import DETAILS_CAP, MESSAGE_CAP, Outcome, TestResult, cap

# The name the hypothesis distribution registers its pytest plugin under.
HYPOTHESIS_PLUGIN = "hypothesispytest"
# What the learner's paho clients did during a test's call.
TEST_LOG = pytest.StashKey[diagnose.TestLog]()


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    diagnose.install()
    diagnose.WATCHDOG.start()
    if _distributing(config):
        config.pluginmanager.register(ResultsFromWorkers(config.stash[STATE]), "kata-results")


# --- pytest-xdist: the tests run in workers, the results are told here ----------


def _in_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _distributing(config: pytest.Config) -> bool:
    """This process hands the tests to pytest-xdist workers (-n N, N > 0)."""
    dist = getattr(config.option, "dist", "no")
    return not _in_worker(config) and dist not in (None, "no")


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


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    log = diagnose.start_test()
    item.stash[TEST_LOG] = log
    diagnose.WATCHDOG.arm(log)
    try:
        return (yield)
    finally:
        diagnose.WATCHDOG.disarm()
        diagnose.stop_test()


def _no_shrinking() -> None:
    """Scores and stub checks need pass or fail, not hypothesis's smallest failing example.

    Shrinking a stub's NotImplementedError costs ~2 s per property test for nothing;
    a learner's own `kata check` or pytest run still shrinks.
    """
    from hypothesis import Phase, settings

    settings.register_profile(
        "kata-no-shrink", phases=[phase for phase in Phase if phase is not Phase.shrink]
    )
    settings.load_profile("kata-no-shrink")


def _wants_no_shrinking(config: pytest.Config) -> bool:
    return bool(config.getoption("--stubs-must-fail") or config.getoption("--kata-json"))


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> None:
    """Before a test module that uses hypothesis is imported: the profile of this run.

    A @settings decorator copies the default profile when the module is
    imported, so the profile must be loaded before, and only then: importing
    hypothesis costs ~0.2 s that a run without property tests need not pay.
    """
    config = parent.config
    if "hypothesis" in sys.modules and getattr(config, "_kata_profile_loaded", False):
        return
    if not _wants_no_shrinking(config):
        return
    try:
        uses_hypothesis = b"hypothesis" in module_path.read_bytes()
    except OSError:
        return
    if uses_hypothesis:
        _no_shrinking()
        config._kata_profile_loaded = True  # type: ignore[attr-defined]


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    manager = session.config.pluginmanager
    if "hypothesis" not in sys.modules:
        # No collected test imported hypothesis; its plugin would import it
        # anyway in its terminal summary.
        plugin = manager.get_plugin(HYPOTHESIS_PLUGIN)
        if plugin is not None:
            manager.unregister(plugin)
    # Modules, fixtures and collected items live until the process ends.
    gc.freeze()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Keep pytest's own text of a failure (--tb=short) beside the one-line message."""
    report: pytest.TestReport = yield
    if report.failed:
        state = item.config.stash.get(STATE, None)
        result = state.outcomes.get(item.nodeid) if state is not None else None
        if call.when == "call" and result is not None:
            _name_the_mistake(item, call, report, result)
        text = str(report.longrepr or "").strip()
        # Only what the message does not already say ("Failed: why" says "why").
        if result is not None and not result.details and text and text not in result.message:
            result.details = cap(text, DETAILS_CAP)
    if _in_worker(item.config):
        state = item.config.stash.get(STATE, None)
        result = state.outcomes.get(item.nodeid) if state is not None else None
        if result is not None:
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
        frames = traceback_in_tree(exc)
        if frames:
            path, func, line = frames[-1]
            where = translate(
                "mistake.stopped_at", pick_language(None), path=path, func=func, line=line
            )
            mistake = f"{mistake}\n{where}"
        result.message = cap(mistake, MESSAGE_CAP)
        report.longrepr = OneLine(mistake)
        return
    before = str(report.longrepr or "").strip()
    result.message = cap(f"{mistake}\n{result.message}", MESSAGE_CAP)
    report.longrepr = OneLine(f"{mistake}\n{before}")


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> Iterator[None]:
    """Before results.json is written: the tests not run. After: a worker's integrity lines.

    The innermost wrapper: its end comes after the plugin's last integrity
    check and before xdist's own wrapper sends the worker's output.
    """
    state = session.config.stash.get(STATE, None)
    if state is not None:
        _record_not_run(session, state)
    try:
        return (yield)
    finally:
        if state is not None and _in_worker(session.config):
            output = session.config.workeroutput  # type: ignore[attr-defined]
            output[INTEGRITY_OUTPUT] = list(state.integrity)


def _record_not_run(session: pytest.Session, state: KataState) -> None:
    """Collected tests that never reported (stopped by -x or Ctrl-C): not run."""
    for item in session.items:
        if item.nodeid not in state.outcomes:
            state.outcomes[item.nodeid] = new_result(item, Outcome.NOT_RUN)
