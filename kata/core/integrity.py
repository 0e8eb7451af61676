"""Did pytest and the harness run the tests as written? Tampering found at run time.

An exercise runs inside the pytest process and can replace anything there
(`_pytest.python.Function.runtest = lambda self: None` makes every later test "pass"):
- Sentinels: the callables that run and report a test (pytest's, pluggy's, the kata's)
  and the hooks' implementations, compared after every test; a replaced one is put
  back and named in results.json's `integrity` list (a grader flags the submission);
- Body proof: each test function is called through a closure that marks it as run;
  the function is the one collected (an exercise's code runs later, at first use, and
  could swap a test's function for one that passes: it is put back and named).
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Iterable
from types import ModuleType

import pluggy
import pytest
from _pytest.unittest import TestCaseFunction

# The path from collecting a test to its report: per module, its functions
# and Class.method names.
_PYTEST_PATHS = {
    "_pytest.python": "Function.runtest Function.setup pytest_pyfunc_call",
    "_pytest.runner": "runtestprotocol call_and_report call_runtest_hook "
    "pytest_runtest_makereport check_interactive_exception CallInfo.from_call SetupState.setup",
    "_pytest.reports": "TestReport.from_item_and_call TestReport.__init__ "
    "BaseReport.passed BaseReport.failed BaseReport.skipped",
    "_pytest.skipping": "pytest_runtest_makereport",
    "_pytest.main": "pytest_runtestloop Session.perform_collect",
    "_pytest.terminal": "TerminalReporter.pytest_runtest_logreport",
    "_pytest.junitxml": "LogXML.pytest_runtest_logreport",
    "_pytest.outcomes": "fail skip",
    "pluggy._hooks": "HookCaller.__call__",
    "pluggy._manager": "PluginManager._hookexec",
    "pluggy._callers": "_multicall",
}
# The hooks whose implementations decide what runs and what is reported.
WATCHED_HOOKS = (
    "pytest_runtestloop",
    "pytest_runtest_protocol",
    "pytest_runtest_setup",
    "pytest_runtest_call",
    "pytest_runtest_teardown",
    "pytest_pyfunc_call",
    "pytest_runtest_makereport",
    "pytest_runtest_logreport",
    "pytest_report_teststatus",
    "pytest_terminal_summary",
    "pytest_sessionfinish",
)


def _owners(modules: Iterable[ModuleType]) -> list[tuple[object, str, str]]:
    """(owner, attribute, label) for every function and method defined in `modules`."""
    found: list[tuple[object, str, str]] = []
    for module in modules:
        for name, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == module.__name__:
                found.append((module, name, f"{module.__name__}.{name}"))
            elif inspect.isclass(value) and value.__module__ == module.__name__:
                for attr, member in vars(value).items():
                    if inspect.isfunction(member) or isinstance(
                        member, (classmethod, staticmethod, property)
                    ):
                        found.append((value, attr, f"{module.__name__}.{name}.{attr}"))
    return found


class Sentinels:
    """What must stay as it was while tests run, and what changed."""

    def __init__(self, own_modules: Iterable[ModuleType]) -> None:
        places: list[tuple[object, str, str]] = []
        for module_name, names in _PYTEST_PATHS.items():
            module = sys.modules.get(module_name)  # each is loaded by pytest before plugins
            for name in names.split() if module is not None else ():
                class_name, _, attr = name.rpartition(".")
                owner = getattr(module, class_name, None) if class_name else module
                if owner is not None and attr in vars(owner):
                    places.append((owner, attr, f"{module_name}.{name}"))
        places += _owners(own_modules)
        self._expected = [(owner, attr, label, vars(owner)[attr]) for owner, attr, label in places]
        self._hooks: dict[str, tuple[object, ...]] = {}
        self._reported: set[str] = set()

    def watch_hooks(self, pluginmanager: pluggy.PluginManager) -> None:
        """Take the hook implementations now (every plugin and conftest is registered)."""
        self._hooks = {name: self._impls(pluginmanager, name) for name in WATCHED_HOOKS}

    @staticmethod
    def _impls(pluginmanager: pluggy.PluginManager, name: str) -> tuple[object, ...]:
        caller = getattr(pluginmanager.hook, name, None)
        return tuple(impl.function for impl in caller.get_hookimpls()) if caller else ()

    def check(self, pluginmanager: pluggy.PluginManager) -> list[str]:
        """Labels of what changed since the start; replaced callables are put back."""
        changed = []
        for owner, attr, label, original in self._expected:
            if vars(owner).get(attr) is not original:
                # Put it back: the tests after this one run as written.
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(owner, attr, original)
                changed.append(label)
        for name, before in self._hooks.items():
            now = self._impls(pluginmanager, name)
            if now != before:
                added = [_name_of(f) for f in now if f not in before]
                removed = [_name_of(f) for f in before if f not in now]
                parts = [f"+{n}" for n in added] + [f"-{n}" for n in removed]
                changed.append(f"hook {name} ({', '.join(parts) or 'reordered'})")
                self._hooks[name] = now
        new = [label for label in changed if label not in self._reported]
        self._reported.update(new)
        return new


def _name_of(function: object) -> str:
    module = getattr(function, "__module__", "?")
    return f"{module}.{getattr(function, '__qualname__', repr(function))}"


BODY_RAN = pytest.StashKey[bool]()
AS_COLLECTED = pytest.StashKey[tuple[object, object]]()  # (the test's function, its code)


def plain_function(item: pytest.Item) -> bool:
    """A test whose body pytest runs through pytest_pyfunc_call (not unittest, not doctest)."""
    return isinstance(item, pytest.Function) and not isinstance(item, TestCaseFunction)


def _code_of(function: object) -> object:
    return getattr(getattr(function, "__func__", function), "__code__", None)


def note_collected(items: Iterable[pytest.Item]) -> None:
    """Each test's function and its code, as collected (before the exercises' code runs)."""
    for item in items:
        if plain_function(item):
            item.stash[AS_COLLECTED] = (item.obj, _code_of(item.obj))


def run_marked(item: pytest.Function) -> tuple[object, bool]:
    """Call the test function through a closure that marks the test as run.

    Returns the function as collected, and whether it had been replaced (it is put back).
    """
    original, replaced = item.obj, False
    collected = item.stash.get(AS_COLLECTED, None)
    if collected is not None:
        function, code = collected
        if original is not function or _code_of(function) is not code:
            original, replaced = function, True
            with contextlib.suppress(AttributeError, TypeError):
                getattr(function, "__func__", function).__code__ = code

    def body(*args: object, **kwargs: object) -> object:
        item.stash[BODY_RAN] = True
        return original(*args, **kwargs)

    item.stash[BODY_RAN] = False
    item.obj = body
    return original, replaced


def body_ran(item: pytest.Item) -> bool:
    return item.stash.get(BODY_RAN, False)
