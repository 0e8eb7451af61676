"""The catalog agrees with the trees: every exercise has a stub, a solution, tests, hints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kata.catalog import ROOT, CatalogError, load, parse

CATALOG = load()
EXERCISES = CATALOG.exercises()
IDS = [ex.id for ex in EXERCISES]


def _public_names(path: Path) -> dict[str, ast.AST]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
    }


def _signature(node: ast.AST) -> str:
    if isinstance(node, ast.FunctionDef):
        return ast.unparse(node.args)
    assert isinstance(node, ast.ClassDef)
    methods = [
        f"{n.name}({ast.unparse(n.args)})"
        for n in node.body
        if isinstance(n, ast.FunctionDef) and (not n.name.startswith("_") or n.name == "__init__")
    ]
    return "; ".join(methods)


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_every_exercise_has_a_stub_a_solution_and_tests(ex) -> None:
    for tree in ("exercises", "solutions"):
        assert ex.source(tree).is_file(), f"{ex.relpath(tree)} is missing"
    assert (ROOT / ex.tests).is_file(), f"{ex.tests} is missing"


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_stub_and_solution_offer_the_same_public_names(ex) -> None:
    stub = _public_names(ex.source("exercises"))
    solution = _public_names(ex.source("solutions"))
    assert sorted(stub) == sorted(solution)
    for name in stub:
        assert _signature(stub[name]) == _signature(solution[name]), (
            f"{ex.id}.{name}: the stub and the solution differ in their signature"
        )


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_every_stub_function_raises_not_implemented_with_a_todo(ex) -> None:
    tree = ast.parse(ex.source("exercises").read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{ex.relpath('exercises')} needs its lesson docstring"
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    assert functions
    for func in functions:
        body = func.body[1:] if ast.get_docstring(func) else func.body
        assert len(body) == 1 and isinstance(body[0], ast.Raise), (
            f"{ex.relpath('exercises')}: {func.name} should only raise NotImplementedError"
        )
        raised = body[0].exc
        assert (
            isinstance(raised, ast.Call)
            and getattr(raised.func, "id", "") == "NotImplementedError"
            and raised.args
            and str(getattr(raised.args[0], "value", "")).startswith("TODO")
        ), f"{ex.relpath('exercises')}: {func.name} should raise NotImplementedError('TODO: ...')"


def test_no_orphan_files() -> None:
    listed_modules = {ex.relpath(tree) for ex in EXERCISES for tree in ("exercises", "solutions")}
    listed_tests = {ex.tests for ex in EXERCISES}
    chapters = {chapter.id for chapter in CATALOG.chapters}
    for tree in ("exercises", "solutions", "tests"):
        for path in sorted((ROOT / tree).glob("ch*/*.py")):
            rel = path.relative_to(ROOT).as_posix()
            assert path.parent.name in chapters, f"{rel}: chapter folder not in the catalog"
            helper = tree == "tests" and not path.name.startswith("test_")
            if path.name == "__init__.py" or helper:
                continue
            known = listed_tests if tree == "tests" else listed_modules
            assert rel in known, f"{rel} is not listed in kata/catalog.toml"


def test_chapter_folders_are_packages() -> None:
    for ex in EXERCISES:
        for tree in ("exercises", "solutions"):
            assert (ROOT / tree / ex.chapter / "__init__.py").is_file()


GOOD = """
version = 1
[[chapter]]
id = "ch01_x"
title = "t"
summary = "s"
[[chapter.exercise]]
module = "m"
tests = "tests/ch01_x/test_m.py"
points = 1
hints = ["a", "b"]
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("version = 1", "version = 2"), "'version = 1' expected"),
        (('id = "ch01_x"', 'id = "chapter1"'), "id must look like 'ch03_clients'"),
        (('hints = ["a", "b"]', 'hints = ["a"]'), "'hints' must list 2 or 3"),
        (("points = 1", "points = 0"), "points must be positive"),
        (("points = 1", 'points = "1"'), "'points' must be a whole number"),
        (('tests = "tests/ch01_x/test_m.py"', 'tests = "t.py"'), "tests must be a file"),
        (('title = "t"', ""), "missing key 'title'"),
        (("[[chapter]]", "[[chapter]"), "not valid TOML"),
    ],
)
def test_a_broken_catalog_is_one_clear_error(change, message) -> None:
    parse(GOOD)
    with pytest.raises(CatalogError) as raised:
        parse(GOOD.replace(*change))
    assert message in str(raised.value)
    assert str(raised.value).startswith("kata/catalog.toml")
