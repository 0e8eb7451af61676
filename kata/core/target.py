"""Which tree is under test (exercises | solutions), and lazy handles into it.

Tests write `publisher = exercise("ch03_clients.publisher")` at module level; the
module is imported on first use, from the tree chosen by `--target` (or
KATA_TARGET), so one broken exercise fails its own tests and nothing else.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType

from kata.core.catalog import ROOT
from kata.core.i18n import t

TREES = ("exercises", "solutions")
_REAL_ROOT = ROOT.resolve()
_selected: str | None = None
# What tools ask any module-level object while collecting or reporting
# (pytest's mock and fixture checks, IPython, inspect): never a reason to run
# the learner's module, which may hang or exit at import.
_PROBES = re.compile(
    r"^(__.*__|_mock_.*|_?pytest.*|_fixture.*|_ipython.*|_repr_.*|_is_coroutine.*)$"
)


class TargetError(ValueError):
    """An unknown target name."""


class ExerciseBroken(Exception):
    """The exercise module cannot be used: syntax error, failing import, missing name."""


class ExitCalled(SystemExit):
    """The code under test called os._exit() in the test process (the guard raised this
    instead): a SystemExit, which `except Exception:` cannot swallow (threads ignore it)."""

    def __str__(self) -> str:
        return f"os._exit({self.code!r})"


def exit_text(exc: SystemExit) -> str:
    """'os._exit(0)' or 'sys.exit(3)': what the code under test called."""
    if isinstance(exc, ExitCalled):
        return str(exc)
    return f"sys.exit({exc.code!r})" if exc.code is not None else "sys.exit()"


def select(name: str | None) -> str:
    """Fix the tree for this process (called by the pytest plugin)."""
    global _selected
    name = name or os.environ.get("KATA_TARGET") or "exercises"
    if name not in TREES:
        raise TargetError(
            f"unknown target {name!r}: choose 'exercises' (your answers) "
            f"or 'solutions' (the reference answers)"
        )
    _selected = name
    return name


def current() -> str:
    return _selected or select(None)


def relative(filename: str | None) -> str | None:
    """`filename` relative to the repository root, or None outside it."""
    try:
        return Path(filename).resolve().relative_to(_REAL_ROOT).as_posix() if filename else None
    except (ValueError, OSError):
        return None


@functools.lru_cache(maxsize=4096)
def _in(filename: str, tree: str) -> str | None:
    rel = relative(filename)
    return rel if rel is not None and rel.startswith(f"{tree}/") else None


def in_tree(filename: str) -> str | None:
    """The relpath of `filename` ("exercises/ch01_basics/x.py") if it is in the tree under test."""
    return _in(filename, current())


def _import(tree: str, dotted: str) -> ModuleType:
    name = f"{tree}.{dotted}"
    relpath = f"{tree}/{dotted.replace('.', '/')}.py"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module(name)
    except SyntaxError as exc:
        # The broken file may be another exercise this one imports.
        broken = relative(exc.filename) or relpath
        where = f"{broken}:{exc.lineno}" if exc.lineno else broken
        raise ExerciseBroken(t("broken.syntax", where=where, error=exc.msg)) from None
    except ModuleNotFoundError as exc:
        if exc.name in (name, tree, f"{tree}.{dotted.split('.')[0]}"):
            raise ExerciseBroken(t("broken.missing", path=relpath)) from None
        raise ExerciseBroken(t("broken.cannot_import", path=relpath, error=exc)) from exc
    except (Exception, SystemExit) as exc:
        # sys.exit() or os._exit() at import would end the whole run: one
        # exercise's failure instead.
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if relpath in f.filename]
        where = f"{relpath}:{frames[-1].lineno}" if frames else relpath
        if isinstance(exc, SystemExit):
            error = t("broken.exit", call=exit_text(exc))
        else:
            error = f"{type(exc).__name__}: {exc}"
        raise ExerciseBroken(t("broken.import_failed", where=where, error=error)) from exc


class ExerciseHandle:
    """A module of the tree under test, imported when first used."""

    def __init__(self, dotted: str) -> None:
        self._dotted = dotted

    def __getattr__(self, attr: str) -> object:
        if _PROBES.match(attr):
            raise AttributeError(attr)
        tree = current()
        # Imported once, the module is in sys.modules: no import machinery per attribute.
        module = sys.modules.get(f"{tree}.{self._dotted}") or _import(tree, self._dotted)
        try:
            return getattr(module, attr)
        except AttributeError:
            path = f"{tree}/{self._dotted.replace('.', '/')}.py"
            raise ExerciseBroken(t("broken.no_name", path=path, name=attr)) from None

    def __repr__(self) -> str:
        return f"<exercise {self._dotted} from {current()}/>"


def exercise(dotted: str) -> ExerciseHandle:
    """A lazy handle on `<target>/<chapter>/<module>.py`, e.g. "ch03_clients.publisher"."""
    return ExerciseHandle(dotted)
