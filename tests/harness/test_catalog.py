"""The catalog agrees with the trees: every exercise has a stub, a solution, tests, hints."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from shipped import shipped_stub

from kata.core.catalog import ROOT, CatalogError, load, parse
from kata.core.i18n import LANGUAGES

CATALOG = load()
EXERCISES = CATALOG.exercises()
IDS = [ex.id for ex in EXERCISES]


def _public_names(path: Path, text: str | None = None) -> dict[str, ast.AST]:
    source = path.read_text(encoding="utf-8") if text is None else text
    tree = ast.parse(source, filename=str(path))
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
    stub = _public_names(ex.source("exercises"), shipped_stub(ex.relpath("exercises")))
    solution = _public_names(ex.source("solutions"))
    assert sorted(stub) == sorted(solution)
    for name in stub:
        assert _signature(stub[name]) == _signature(solution[name]), (
            f"{ex.id}.{name}: the stub and the solution differ in their signature"
        )


def _functions(tree: ast.AST) -> dict[str, ast.FunctionDef]:
    """Every function and method, by qualified name ("Subscriber.start")."""
    found: dict[str, ast.FunctionDef] = {}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef):
                found[prefix + child.name] = child
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")

    walk(tree, "")
    return found


def _is_todo(func: ast.FunctionDef) -> bool:
    body = func.body[1:] if ast.get_docstring(func) else func.body
    if len(body) != 1 or not isinstance(body[0], ast.Raise):
        return False
    raised = body[0].exc
    return (
        isinstance(raised, ast.Call)
        and getattr(raised.func, "id", "") == "NotImplementedError"
        and bool(raised.args)
        and str(getattr(raised.args[0], "value", "")).startswith("TODO")
    )


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_every_stub_function_is_a_todo_or_given_as_in_the_solution(ex) -> None:
    """The learner writes the TODOs; code the kata gives is exactly the solution's."""
    stub_tree = ast.parse(shipped_stub(ex.relpath("exercises")))
    assert ast.get_docstring(stub_tree), f"{ex.relpath('exercises')} needs its docstring"
    stub = _functions(stub_tree)
    solution = _functions(ast.parse(ex.source("solutions").read_text(encoding="utf-8")))
    todos = [name for name, func in stub.items() if _is_todo(func)]
    assert todos, f"{ex.relpath('exercises')}: no function raises NotImplementedError('TODO: ...')"
    for name, func in stub.items():
        if name in todos:
            continue
        assert name in solution and ast.dump(func) == ast.dump(solution[name]), (
            f"{ex.relpath('exercises')}: {name} should raise NotImplementedError('TODO: ...') "
            "or be given exactly as in the solution"
        )


def test_every_chapter_and_hint_is_in_english_and_japanese() -> None:
    assert CATALOG.missing_translations() == [], (
        "kata/core/catalog.toml: add the missing texts (title_ja, summary_ja, hints_ja)"
    )
    for chapter in CATALOG.chapters:
        for lang in LANGUAGES:
            assert chapter.title_in(lang).strip() and chapter.summary_in(lang).strip()
        assert chapter.title_in("ja") != chapter.title or chapter.title == "MQTT 5", (
            f"{chapter.id}: title_ja repeats the English title"
        )
        assert chapter.summary_in("ja") != chapter.summary, f"{chapter.id}: summary_ja is English"
    for ex in EXERCISES:
        assert len(ex.hints_in("ja")) == len(ex.hints_in("en")) == len(ex.hints)


_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")  # kana and kanji
# What a hint shows as code: calls; quoted literals, `spans`, hex and other numbers.
# Two passes, because Japanese puts no space after "、": one pattern alone could
# read "')、ax.set_title(f'" as a quoted literal and miss the call in it.
_CODE = (
    re.compile(r"[A-Za-z_][\w.]*\("),
    re.compile(r"'[^'\s]*'|\"[^\"\s]*\"|`[^`]+`|\b0x[0-9A-Fa-f]+\b|\b\d[\d.]*\b"),
)


def _code(text: str) -> set[str]:
    return {token for pattern in _CODE for token in pattern.findall(text)}


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_japanese_hints_are_japanese_and_keep_the_code_of_the_english_ones(ex) -> None:
    for level, (english, japanese) in enumerate(zip(ex.hints, ex.hints_ja, strict=True), 1):
        assert _JAPANESE.search(japanese), f"{ex.id} hint {level}: hints_ja is not in Japanese"
        lost = sorted(_code(english) - _code(japanese))
        assert not lost, (
            f"{ex.id} hint {level}: the Japanese hint lost code the English one shows: {lost}"
        )


def test_a_missing_translation_falls_back_to_english_and_is_reported() -> None:
    catalog = parse(GOOD)
    chapter = catalog.chapters[0]
    assert chapter.title_in("ja") == "t" and chapter.summary_in("ja") == "s"
    assert catalog.exercises()[0].hints_in("ja") == ("a", "b")
    assert catalog.missing_translations() == [
        "ch01_x: no title_ja",
        "ch01_x: no summary_ja",
        "ch01_x.m: no hints_ja",
    ]
    translated = parse(GOOD_JA)
    assert translated.missing_translations() == []
    assert translated.chapters[0].title_in("ja") == "章"
    assert translated.chapters[0].summary_in("en") == "s"
    assert translated.exercises()[0].hints_in("ja") == ("い", "ろ")
    assert translated.exercises()[0].hints == ("a", "b"), "the English attribute is unchanged"
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        translated.chapters[0].title_in("fr")


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
            assert rel in known, f"{rel} is not listed in kata/core/catalog.toml"


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
path = "core"
minutes = 15
points = 1
hints = ["a", "b"]
"""

GOOD_JA = (
    GOOD.replace('title = "t"', 'title = "t"\ntitle_ja = "章"').replace(
        'summary = "s"', 'summary = "s"\nsummary_ja = "概要"'
    )
    + 'hints_ja = ["い", "ろ"]\n'
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('hints_ja = ["い", "ろ"]', 'hints_ja = ["い"]'), "'hints_ja' has 1 hints and 'hints' 2"),
        (('hints_ja = ["い", "ろ"]', 'hints_ja = ["い", ""]'), "'hints_ja' must list non-empty"),
        (('title_ja = "章"', 'title_ja = ""'), "'title_ja' is empty"),
        (('summary_ja = "概要"', "summary_ja = 3"), "'summary_ja' must be a text"),
    ],
)
def test_a_broken_translation_is_one_clear_error(change, message) -> None:
    parse(GOOD_JA)
    with pytest.raises(CatalogError) as raised:
        parse(GOOD_JA.replace(*change))
    assert message in str(raised.value)
    assert "chapter 'ch01_x'" in str(raised.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("version = 1", "version = 2"), "'version = 1' expected"),
        (('id = "ch01_x"', 'id = "chapter1"'), "id must look like 'ch03_clients'"),
        (('hints = ["a", "b"]', 'hints = ["a"]'), "'hints' must list 2 or 3"),
        (("points = 1", "points = 0"), "points must be positive"),
        (("points = 1", 'points = "1"'), "'points' must be a whole number"),
        (('path = "core"', 'path = "extra"'), "path must be one of core, deep"),
        (("minutes = 15", "minutes = 0"), "minutes must be positive"),
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
    assert str(raised.value).startswith("kata/core/catalog.toml")


@pytest.mark.parametrize("ex", EXERCISES, ids=IDS)
def test_every_exercise_has_its_lesson_in_english_and_japanese(ex) -> None:
    english, japanese = ex.lesson("en"), ex.lesson("ja")
    for path in (english, japanese):
        assert path.is_file(), f"{path.relative_to(ROOT)} is missing: write the lesson"
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# "), f"{path.relative_to(ROOT)}: the first line is '# <title>'"
    text_ja = japanese.read_text(encoding="utf-8")
    assert _JAPANESE.search(text_ja), f"{japanese.relative_to(ROOT)} is not in Japanese"
    assert not _JAPANESE.search(english.read_text(encoding="utf-8").split("\n", 1)[0]), (
        f"{english.relative_to(ROOT)}: the English lesson's title is in Japanese"
    )
    for banned, better in (("元の教材", "元の講座"), ("コントエント", "コンテンツ")):
        assert banned not in text_ja, f"{japanese.relative_to(ROOT)}: write {better}, not {banned}"


def test_the_core_path_comes_first_and_fits_a_day() -> None:
    paths = [ex.path for ex in EXERCISES]
    assert paths == sorted(paths, key=["core", "deep"].index), "core exercises first"
    assert EXERCISES[0].module == "first_message", "the first step is a first message"
    for ex in EXERCISES:
        if ex.path == "core":
            assert 15 <= ex.minutes <= 45, f"{ex.id}: a core step takes 15-45 minutes"
