"""Which tree is under test (exercises | solutions), and lazy handles into it.

Tests never import `exercises.*` or `solutions.*` directly. They write

    publisher = exercise("ch03_clients.publisher")

at module level and call `publisher.publish_messages(...)` inside a test. The
module is imported on first use, from the tree chosen by `--target` (or the
`KATA_TARGET` environment variable), so one broken exercise fails its own
tests and nothing else.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType

from kata.core.catalog import ROOT
from kata.core.i18n import pick_language, t


def _t(key: str, **fields: object) -> str:
    return t(key, pick_language(None), **fields)


TREES = ("exercises", "solutions")
DEFAULT_TREE = "exercises"

_selected: str | None = None


class TargetError(ValueError):
    """An unknown target name."""


class ExerciseBroken(Exception):
    """The exercise module cannot be used: syntax error, failing import, missing name."""


class ExitCalled(SystemExit):
    """The code under test called os._exit() in the test process (the guard raised this instead).

    A SystemExit, so that a learner's `except Exception:` cannot swallow it and
    threading ignores it as it ignores sys.exit() on a thread.
    """

    def __init__(self, code: object) -> None:
        super().__init__(code)
        self.exit_code = code

    def __str__(self) -> str:
        return f"os._exit({self.exit_code!r})"


# What tools ask any module-level object while collecting or reporting
# (pytest's mock and fixture checks, IPython, inspect): never a reason to run
# the learner's module, which may hang or exit at import.
_PROBES = re.compile(
    r"^(__.*__|_mock_.*|_?pytest.*|_fixture.*|_ipython.*|_repr_.*|_is_coroutine.*)$"
)


def exit_text(exc: SystemExit) -> str:
    """'os._exit(0)' or 'sys.exit(3)': what the code under test called."""
    if isinstance(exc, ExitCalled):
        return str(exc)
    return f"sys.exit({exc.code!r})" if exc.code is not None else "sys.exit()"


def check_tree(name: str) -> str:
    if name not in TREES:
        raise TargetError(
            f"unknown target {name!r}: choose 'exercises' (your answers) "
            f"or 'solutions' (the reference answers)"
        )
    return name


def select(name: str | None) -> str:
    """Fix the tree for this process (called by the pytest plugin)."""
    global _selected
    _selected = check_tree(name or os.environ.get("KATA_TARGET") or DEFAULT_TREE)
    return _selected


def current() -> str:
    if _selected is None:
        return select(None)
    return _selected


def _import(tree: str, dotted: str) -> ModuleType:
    name = f"{tree}.{dotted}"
    relpath = f"{tree}/{dotted.replace('.', '/')}.py"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module(name)
    except SyntaxError as exc:
        # The broken file may be another exercise this one imports.
        broken = _relative(exc.filename) or relpath
        where = f"{broken}:{exc.lineno}" if exc.lineno else broken
        raise ExerciseBroken(_t("broken.syntax", where=where, error=exc.msg)) from None
    except ModuleNotFoundError as exc:
        if exc.name in (name, tree, f"{tree}.{dotted.split('.')[0]}"):
            raise ExerciseBroken(_t("broken.missing", path=relpath)) from None
        raise ExerciseBroken(_t("broken.cannot_import", path=relpath, error=exc)) from exc
    except (Exception, SystemExit) as exc:
        # sys.exit() or os._exit() at import would end the whole run: one
        # exercise's failure instead.
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if relpath in f.filename]
        where = f"{relpath}:{frames[-1].lineno}" if frames else relpath
        if isinstance(exc, SystemExit):
            error = _t("broken.exit", call=exit_text(exc))
        else:
            error = f"{type(exc).__name__}: {exc}"
        raise ExerciseBroken(_t("broken.import_failed", where=where, error=error)) from exc


def _relative(filename: str | None) -> str | None:
    if not filename:
        return None
    try:
        return Path(filename).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return None


class ExerciseHandle:
    """A module of the tree under test, imported when first used."""

    def __init__(self, dotted: str) -> None:
        self._dotted = dotted

    @property
    def relpath(self) -> str:
        return f"{current()}/{self._dotted.replace('.', '/')}.py"

    @property
    def module_name(self) -> str:
        return f"{current()}.{self._dotted}"

    def module(self) -> ModuleType:
        return _import(current(), self._dotted)

    def __getattr__(self, attr: str) -> object:
        if _PROBES.match(attr):
            raise AttributeError(attr)
        module = self.module()
        try:
            return getattr(module, attr)
        except AttributeError:
            raise ExerciseBroken(_t("broken.no_name", path=self.relpath, name=attr)) from None

    def __repr__(self) -> str:
        return f"<exercise {self._dotted} from {current()}/>"


def exercise(dotted: str) -> ExerciseHandle:
    """A lazy handle on `<target>/<chapter>/<module>.py`, e.g. "ch03_clients.publisher"."""
    return ExerciseHandle(dotted)


def tree_path(tree: str | None = None) -> Path:
    return ROOT / (tree or current())
