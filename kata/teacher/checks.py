"""What the grader checks itself, without trusting what a run says about itself.

- the files: an exercise that is the reference answer (but for layout, comments and
  docstrings), or that imports the reference answers;
- the run: it reports exactly the tests the grader's own tree defines, and a test the
  grader adds to every run, which must fail, did fail;
- the trees: the grader's copy and the grading copy are the same after a run as before.

The run's own integrity report (results.json's `integrity`) comes on top of these.
"""

from __future__ import annotations

import ast
import hashlib
import re
import secrets
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from pathlib import Path

from kata.core.results import Outcome, Results, TestResult

MAX_NAMED = 3  # test ids named in one flag
# CPython 3.11's ast.parse is not safe in threads ("AST constructor recursion
# depth mismatch", gh-106905), and grade-all --jobs N reads files in N threads.
_PARSING = threading.Lock()
# "solutions" as a module or a path: solutions, solutions.ch03_clients, ../solutions/x.py
_SOLUTIONS_TEXT = re.compile(r"(^|[^A-Za-z0-9_])solutions($|[./\\])")


def _tree(source: str) -> ast.AST | None:
    """The code without its docstrings; None when it does not parse."""
    try:
        with _PARSING:
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for node in list(ast.walk(tree)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def same_code(mine: str, reference: str) -> bool:
    """The same code but for layout, comments and docstrings."""
    a, b = _tree(mine), _tree(reference)
    return a is not None and b is not None and ast.dump(a) == ast.dump(b)


def imports_solutions(source: str) -> bool:
    """Whether the code imports or opens the reference answers (by name or by path)."""
    tree = _tree(source)
    if tree is None:
        return bool(_SOLUTIONS_TEXT.search(source))
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        if any(n == "solutions" or n.startswith("solutions.") for n in names):
            return True
        if isinstance(node, ast.Constant) and _SOLUTIONS_TEXT.search(str(node.value)):
            return True
    return False


def differing_tests(results: Results, expected: dict[str, set[str]], skip: set[str]) -> list[str]:
    """What differs between the tests a run reports and the ones the grader's tree defines.

    `skip`: exercises whose tests could not run (their run crashed).
    """
    want = {nodeid for ex_id, ids in expected.items() if ex_id not in skip for nodeid in ids}
    known = set().union(*expected.values())
    got = [t.nodeid for t in results.tests if t.exercise is not None or t.nodeid in known]
    lines = []
    unexpected = set(got) - known
    for word, ids in (("missing", want - set(got)), ("not in the grader's tests", unexpected)):
        if ids:
            named = ", ".join(sorted(ids)[:MAX_NAMED]) + (", ..." if len(ids) > MAX_NAMED else "")
            lines.append(f"{len(ids)} tests {word} ({named})")
    doubled = sorted({n for n in got if got.count(n) > 1})
    if doubled:
        lines.append(f"{len(doubled)} tests reported twice ({', '.join(doubled[:MAX_NAMED])})")
    return lines


class Canary:
    """A test the grader adds to a run under a name made for that run: it must fail. A run
    that reports it passed did not run its tests as written (pytest or the harness was
    patched); one that does not report it did not run it."""

    def __init__(self, workdir: Path) -> None:
        token = secrets.token_hex(6)
        self.filename, self.function = f"grader_check_{token}.py", f"test_grader_check_{token}"
        self.nodeid = f"{self.filename}::{self.function}"
        (workdir / self.filename).write_text(
            '"""The grader\'s check: this test must fail; if it passes, the tests did not run."""\n'
            f'\n\ndef {self.function}():\n    raise AssertionError("{self.function} must fail")\n',
            encoding="utf-8",
        )

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


def _junit_key(nodeid: str) -> tuple[str, str]:
    """(classname, name) of a test in pytest's junit.xml (its mangle_test_address)."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def junit_disagrees(junit: Path, tests: Iterable[TestResult]) -> list[str]:
    """Where results.json and pytest's own junit.xml give a test different outcomes.

    Both are written inside the run, by different code: a results.json rewritten at
    exit, or written through a patched json module, no longer matches the other.
    """
    try:
        tree = ElementTree.parse(junit)
    except (ElementTree.ParseError, OSError):
        return ["the run's junit.xml is unreadable"]
    said: dict[tuple[str, str], str] = {}
    for case in tree.iter("testcase"):
        kinds = {child.tag for child in case}
        outcome = (
            "fail" if kinds & {"failure", "error"} else "skip" if "skipped" in kinds else "pass"
        )
        said[(case.get("classname", ""), case.get("name", ""))] = outcome
    plain = {Outcome.PASS: "pass", Outcome.SKIP: "skip"}
    differ = sorted(
        t.nodeid for t in tests if said.get(_junit_key(t.nodeid)) != plain.get(t.status, "fail")
    )
    if not differ:
        return []
    named = ", ".join(differ[:MAX_NAMED]) + (", ..." if len(differ) > MAX_NAMED else "")
    return [f"{len(differ)} tests have another outcome in junit.xml than in results.json ({named})"]


JUNK_DIRS = {"__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache", ".kata", ".tox"}


def snapshot(root: Path, parts: Iterable[str], skip: tuple[str, ...] = ()) -> dict[str, str]:
    """rel path -> digest of the files under `parts`, but generated ones and those under the
    folders in `skip`."""
    found, under = {}, tuple(f"{s}/" for s in skip)
    for base in (root / part for part in parts):
        for path in base.rglob("*") if base.is_dir() else [base]:
            rel = path.relative_to(root)
            junk = JUNK_DIRS & set(rel.parts) or path.suffix in (".pyc", ".pyo")
            if path.is_file() and not junk and not rel.as_posix().startswith(under):
                # A Windows checkout (git autocrlf) has CRLF line ends: not a change.
                data = path.read_bytes().replace(b"\r\n", b"\n")
                found[rel.as_posix()] = hashlib.sha256(data).hexdigest()
    return found


def changes(
    before: dict[str, str], root: Path, parts: Iterable[str], cap: int = 0, skip: tuple = ()
) -> list[str]:
    """'tests/x.py changed' / 'added' / 'deleted' since `before` (a snapshot); past `cap` of
    a kind, one line says how many more."""
    now = snapshot(root, parts, skip)
    lines: list[str] = []
    for word, rels in (
        ("changed", [r for r in before.keys() & now.keys() if before[r] != now[r]]),
        ("added", now.keys() - before.keys()),
        ("deleted", before.keys() - now.keys()),
    ):
        rels = sorted(rels)
        lines += [f"{rel} {word}" for rel in rels[: cap or None]]
        if cap and len(rels) > cap:
            lines.append(f"{len(rels) - cap} more files {word}")
    return lines
