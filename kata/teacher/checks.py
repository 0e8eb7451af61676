"""What the grader checks itself, without trusting what a run says about itself.

- the files: a learner's exercise that is the reference answer (modulo
  formatting, comments and docstrings), or that imports the reference answers;
- the run: the tests it reports are exactly the ones the grader's own tree
  defines (collected before any learner code could be imported), and a test
  the grader adds to every run, which must fail, did fail;
- the trees: the grader's own copy and the grading copy are the same after a
  run as before it.

A run's own integrity report (results.json's `integrity`, written by the
kata's pytest plugin) comes on top of these.
"""

from __future__ import annotations

import ast
import hashlib
import re
import secrets
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kata.core.catalog import Catalog
from kata.core.results import Outcome, Results, TestResult

MAX_NAMED = 3  # test ids named in one flag
# CPython 3.11's ast.parse is not safe in threads ("AST constructor recursion
# depth mismatch", gh-106905), and grade-all --jobs N reads files in N threads.
_PARSING = threading.Lock()


def _parse(source: str) -> ast.AST:
    with _PARSING:
        return ast.parse(source)


# --- the learner's files ------------------------------------------------------


def _drop_docstrings(tree: ast.AST) -> None:
    for node in list(ast.walk(tree)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]


def normalized(source: str) -> str | None:
    """The code of `source` without layout, comments and docstrings; None when it does not parse."""
    try:
        tree = _parse(source)
    except (SyntaxError, ValueError):
        return None
    _drop_docstrings(tree)
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def same_code(mine: str, reference: str) -> bool:
    a = normalized(mine)
    return a is not None and a == normalized(reference)


# "solutions" as a module or a path: solutions, solutions.ch03_clients, ../solutions/x.py
_SOLUTIONS_TEXT = re.compile(r"(^|[^A-Za-z0-9_])solutions($|[./\\])")


def imports_solutions(source: str) -> bool:
    """Whether the code imports or opens the reference answers (by name or by path)."""
    try:
        tree = _parse(source)
    except (SyntaxError, ValueError):
        return "solutions" in source and bool(_SOLUTIONS_TEXT.search(source))
    _drop_docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(_is_solutions(alias.name) for alias in node.names):
                return True
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and _is_solutions(node.module):
                return True
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _SOLUTIONS_TEXT.search(node.value)
        ):
            return True
    return False


def _is_solutions(module: str) -> bool:
    return module == "solutions" or module.startswith("solutions.")


# --- the run --------------------------------------------------------------------


def collected_ids(output: str, catalog: Catalog) -> dict[str, set[str]]:
    """Test ids per exercise from `pytest --collect-only -q` output."""
    files = {ex.tests: ex.id for ex in catalog.exercises()}
    found: dict[str, set[str]] = {ex.id: set() for ex in catalog.exercises()}
    for line in output.splitlines():
        line = line.strip()
        path = line.split("::", 1)[0]
        if "::" in line and path in files:
            found[files[path]].add(line)
    return found


def differing_tests(
    results: Results, expected: dict[str, set[str]], skip: Iterable[str] = ()
) -> list[str]:
    """What differs between the tests a run reports and the ones the grader's tree defines.

    `skip`: exercises whose tests could not run (their run crashed).
    """
    skipped = set(skip)
    want = {nodeid for ex_id, ids in expected.items() if ex_id not in skipped for nodeid in ids}
    known = {nodeid for ids in expected.values() for nodeid in ids}
    got = [t.nodeid for t in results.tests if t.exercise is not None or t.nodeid in known]
    seen = set(got)
    missing = sorted(want - seen)
    unexpected = sorted(seen - known)
    doubled = sorted({n for n in got if got.count(n) > 1})
    lines = []
    for word, ids in (("missing", missing), ("not in the grader's tests", unexpected)):
        if ids:
            named = ", ".join(ids[:MAX_NAMED]) + (", ..." if len(ids) > MAX_NAMED else "")
            lines.append(f"{len(ids)} tests {word} ({named})")
    if doubled:
        lines.append(f"{len(doubled)} tests reported twice ({', '.join(doubled[:MAX_NAMED])})")
    return lines


@dataclass(frozen=True)
class Canary:
    """A test the grader adds to a run under a name made for that run: it must fail.

    A run that reports it passed did not run its tests as written (pytest or
    the harness was patched); one that does not report it did not run it.
    """

    filename: str
    function: str

    @classmethod
    def make(cls) -> Canary:
        token = secrets.token_hex(6)
        return cls(f"grader_check_{token}.py", f"test_grader_check_{token}")

    @property
    def nodeid(self) -> str:
        return f"{self.filename}::{self.function}"

    def write(self, workdir: Path) -> str:
        (workdir / self.filename).write_text(
            '"""The grader\'s check: this test must fail; if it passes, the tests did not run."""\n'
            f"\n\ndef {self.function}():\n"
            f'    raise AssertionError("{self.function} must fail")\n',
            encoding="utf-8",
        )
        return self.filename

    def verdict(self, tests: list[TestResult]) -> str | None:
        """None when the canary failed as it must, else what went wrong."""
        mine = [t for t in tests if t.nodeid == self.nodeid]
        if not mine:
            return "the grader's check test did not run"
        if any(t.status not in (Outcome.FAIL, Outcome.ERROR) for t in mine):
            return "a test that must fail passed: the tests did not run as written"
        return None

    def remove(self, tests: list[TestResult]) -> list[TestResult]:
        return [t for t in tests if t.nodeid != self.nodeid]


# "<path>:<line>: <reason>"; a Windows path has a colon of its own (C:\\...).
_SKIP_LOCATION = re.compile(r"(.*?):(\d+): ")


def skipped_by_learner(junit: Path) -> list[str]:
    """Tests that a learner's code skipped (pytest.skip in an exercise) or marked xfail.

    pytest's JUnit report says where each skip was raised: "<path>:<line>: <reason>".
    The kata's tests skip only from tests/ and the harness, and never xfail.
    """
    try:
        tree = ElementTree.parse(junit)
    except (ElementTree.ParseError, OSError):
        return []
    found = []
    for case in tree.iter("testcase"):
        for skipped in case.iter("skipped"):
            located = _SKIP_LOCATION.match(skipped.text or "")
            where = located.group(1).replace("\\", "/") if located else ""
            if skipped.get("type") == "pytest.xfail" or "exercises/" in where:
                found.append(f"{case.get('classname', '')}.{case.get('name', '')}")
    return found


# --- the trees --------------------------------------------------------------------

JUNK_DIRS = {"__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache", ".kata", ".tox"}
JUNK_SUFFIXES = (".pyc", ".pyo")


def digest(path: Path) -> str:
    # A Windows checkout (git autocrlf) has CRLF line ends: not a change.
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def tree_files(root: Path, parts: Iterable[str]) -> dict[str, Path]:
    """rel path -> file for every file under `parts` of `root`, generated files left out."""
    found: dict[str, Path] = {}
    for part in parts:
        base = root / part
        if base.is_file():
            found[part] = base
        elif base.is_dir():
            for path in base.rglob("*"):
                rel = path.relative_to(root)
                if (
                    path.is_file()
                    and not JUNK_DIRS.intersection(rel.parts)
                    and not path.name.endswith(JUNK_SUFFIXES)
                ):
                    found[rel.as_posix()] = path
    return found


def snapshot(root: Path, parts: Iterable[str]) -> dict[str, str]:
    return {rel: digest(path) for rel, path in tree_files(root, parts).items()}


def changes(before: dict[str, str], root: Path, parts: Iterable[str]) -> list[str]:
    """'tests/x.py changed' / 'added' / 'deleted' since `before`."""
    now = snapshot(root, parts)
    changed = sorted(r for r in before.keys() & now.keys() if before[r] != now[r])
    added = sorted(now.keys() - before.keys())
    deleted = sorted(before.keys() - now.keys())
    return (
        [f"{r} changed" for r in changed]
        + [f"{r} added" for r in added]
        + [f"{r} deleted" for r in deleted]
    )
