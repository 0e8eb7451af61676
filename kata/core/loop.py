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

import contextlib
import gc
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from kata.core import diagnose
from kata.core.guards import traceback_in_tree
from kata.core.i18n import pick_language, t
from kata.core.plugin import STATE, KataState, OneLine, new_result
from kata.core.results import DETAILS_CAP, MESSAGE_CAP, Outcome, TestResult, cap

# The name the hypothesis distribution registers its pytest plugin under.
HYPOTHESIS_PLUGIN = "hypothesispytest"
# What the learner's paho clients did during a test's call.
TEST_LOG = pytest.StashKey[diagnose.TestLog]()


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    diagnose.install()
    if not _in_worker(config) and getattr(config.option, "dist", "no") not in (None, "no"):
        # The tests run in pytest-xdist workers (-n N, N > 0): their reports tell the results.
        config.pluginmanager.register(ResultsFromWorkers(config.stash[STATE]), "kata-results")


# --- pytest-xdist: the tests run in workers, the results are told here ----------


def _in_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


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
    item.stash[TEST_LOG] = diagnose.start_test()
    try:
        return (yield)
    finally:
        diagnose.stop_test()


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> None:
    """Before a test module that uses hypothesis is imported: the profile of this run.

    Scores and stub checks need pass or fail, not hypothesis's smallest
    failing example: shrinking a stub's NotImplementedError costs ~2 s per
    property test for nothing (a learner's own run still shrinks). A
    @settings decorator copies the default profile when the module is
    imported, so the profile must be loaded before, and only then: importing
    hypothesis costs ~0.2 s that a run without property tests need not pay.
    """
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


@pytest.hookimpl(tryfirst=True)  # before the session broker starts, which may end the run
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
    state = item.config.stash.get(STATE, None)
    result = state.outcomes.get(item.nodeid) if state is not None else None
    if result is None:
        return report
    if report.failed:
        if call.when == "call":
            _name_the_mistake(item, call, report, result)
        text = str(report.longrepr or "").strip()
        # Only what the message does not already say ("Failed: why" says "why").
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
            lang = pick_language(None)
            mistake += "\n" + t("mistake.stopped_at", lang, path=path, func=func, line=line)
        result.message = cap(mistake, MESSAGE_CAP)
        report.longrepr = OneLine(mistake)
    else:
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
    for item in session.items if state is not None else ():
        # Collected tests that never reported (stopped by -x or Ctrl-C): not run.
        if item.nodeid not in state.outcomes:
            state.outcomes[item.nodeid] = new_result(item, Outcome.NOT_RUN)
    try:
        return (yield)
    finally:
        if state is not None and _in_worker(session.config):
            output = session.config.workeroutput  # type: ignore[attr-defined]
            output[INTEGRITY_OUTPUT] = list(state.integrity)
