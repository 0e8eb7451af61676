"""Read and validate kata/core/catalog.toml, the single source of truth for chapters.

Texts come in English and Japanese (`title_ja`, ...); `title_in(lang)` and friends pick
one. A missing Japanese text falls back to English here (write first, translate next);
tests/harness/test_catalog.py fails until every entry has both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kata.core.i18n import known_language, tomllib

CATALOG_PATH = Path(__file__).with_name("catalog.toml")
ROOT = CATALOG_PATH.parents[2]
CATALOG_RELPATH = CATALOG_PATH.relative_to(ROOT).as_posix()  # "kata/core/catalog.toml"

_CHAPTER_ID = re.compile(r"^ch(\d\d)_[a-z0-9_]+$")
_MODULE = re.compile(r"^[a-z][a-z0-9_]*$")
PATHS = ("core", "deep")


class CatalogError(Exception):
    """catalog.toml is malformed; the message names the entry and the rule."""


@dataclass(frozen=True)
class Exercise:
    chapter: str
    module: str
    tests: str
    points: int
    hints: tuple[str, ...]
    hints_ja: tuple[str, ...] = ()
    path: str = "core"  # "core": the study plan's day, walked first; "deep": after it
    minutes: int = 30  # an honest estimate for a beginner

    @property
    def id(self) -> str:
        return f"{self.chapter}.{self.module}"

    def hints_in(self, lang: str) -> tuple[str, ...]:
        """The hints in `lang` ("en" or "ja"), English where no translation exists yet."""
        return _pick(lang, self.hints, self.hints_ja)

    def source(self, tree: str) -> Path:
        """The module's file in `tree` ("exercises" or "solutions")."""
        return ROOT / self.relpath(tree)

    def relpath(self, tree: str) -> str:
        return f"{tree}/{self.chapter}/{self.module}.py"

    def lesson(self, lang: str) -> Path:
        """The lesson's Markdown beside the exercise: NAME.md (English), NAME.ja.md (Japanese)."""
        suffix = ".md" if lang == "en" else f".{lang}.md"
        return ROOT / "exercises" / self.chapter / f"{self.module}{suffix}"


@dataclass(frozen=True)
class Chapter:
    id: str
    title: str
    summary: str
    exercises: tuple[Exercise, ...]
    title_ja: str = ""
    summary_ja: str = ""

    @property
    def number(self) -> int:
        return int(self.id[2:4])

    def title_in(self, lang: str) -> str:
        return _pick(lang, self.title, self.title_ja)

    def summary_in(self, lang: str) -> str:
        return _pick(lang, self.summary, self.summary_ja)


def _pick(lang: str, english, japanese):
    """The Japanese text for "ja" where it is written, else the English one."""
    return japanese if known_language(lang) == "ja" and japanese else english


@dataclass(frozen=True)
class Catalog:
    chapters: tuple[Chapter, ...]

    def exercises(self) -> list[Exercise]:
        """Every exercise in the order a learner walks them: the core path, then the deep one."""
        everything = [ex for chapter in self.chapters for ex in chapter.exercises]
        return [ex for p in PATHS for ex in everything if ex.path == p]

    def minutes(self, path: str | None = None) -> int:
        """The time estimate of a path ("core", "deep") or of everything, in minutes."""
        return sum(ex.minutes for ex in self.exercises() if path in (None, ex.path))

    def exercise(self, exercise_id: str) -> Exercise:
        for ex in self.exercises():
            if exercise_id in (ex.id, ex.module):
                return ex
        known = ", ".join(ex.id for ex in self.exercises())
        raise KeyError(f"no exercise {exercise_id!r} in the catalog (known: {known})")

    def chapter(self, key: str | int) -> Chapter:
        for chapter in self.chapters:
            if key in (chapter.id, chapter.number, str(chapter.number)):
                return chapter
        raise KeyError(f"no chapter {key!r} in the catalog")

    def missing_translations(self) -> list[str]:
        """Entries that lack a language, one line each ("ch03_clients: no title_ja")."""
        problems = []
        for chapter in self.chapters:
            for key in ("title_ja", "summary_ja"):
                if not getattr(chapter, key).strip():
                    problems.append(f"{chapter.id}: no {key}")
            for ex in chapter.exercises:
                if not ex.hints_ja:
                    problems.append(f"{ex.id}: no hints_ja")
        return problems

    def for_test_file(self, path: str | Path) -> Exercise | None:
        """The exercise whose tests live in `path` (absolute or relative to the root)."""
        path = Path(path)
        rel = path.resolve().relative_to(ROOT) if path.is_absolute() else path
        for ex in self.exercises():
            if Path(ex.tests) == rel:
                return ex
        return None


def _get(table: dict, key: str, kind: type, where: str, ok=None, rule: str = ""):
    """table[key], of type `kind`; `ok(value)` must hold, else a CatalogError says `rule`."""
    if key not in table:
        raise CatalogError(f"{where}: missing key {key!r}")
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        kind_name = {int: "whole number", str: "text", list: "list"}[kind]
        raise CatalogError(f"{where}: {key!r} must be a {kind_name}, not {value!r}")
    if ok is not None and not ok(value):
        raise CatalogError(f"{where}: {rule}")
    return value


def _translation(table: dict, key: str, kind: type, where: str, ok, rule: str):
    """A Japanese text: absent until it is written (then English stands in), never empty."""
    return _get(table, key, kind, where, ok, rule) if key in table else kind()


def _texts(values: list) -> bool:
    return all(isinstance(text, str) and text.strip() for text in values)


def _positive(value: int) -> bool:
    return value > 0


def _exercise(raw: dict, chapter_id: str, where: str) -> Exercise:
    module = _get(raw, "module", str, where)
    where = f"{where}, exercise {module!r}"
    if not _MODULE.match(module):
        raise CatalogError(f"{where}: module must be a Python module name")
    tests = _get(raw, "tests", str, where)
    if not tests.startswith(f"tests/{chapter_id}/test_") or not tests.endswith(".py"):
        rule = f"tests must be a file tests/{chapter_id}/test_*.py, not {tests!r}"
        raise CatalogError(f"{where}: {rule}")
    rule = "'hints' must list 2 or 3 non-empty texts"
    hints = _get(raw, "hints", list, where, lambda v: 2 <= len(v) <= 3 and _texts(v), rule)
    rule = "'hints_ja' must list non-empty texts"
    hints_ja = _translation(raw, "hints_ja", list, where, _texts, rule)
    if "hints_ja" in raw and len(hints_ja) != len(hints):
        counts = f"'hints_ja' has {len(hints_ja)} hints and 'hints' {len(hints)}"
        raise CatalogError(f"{where}: {counts}: translate each hint, in the same order")
    path = _get(
        raw, "path", str, where, PATHS.__contains__, f"path must be one of {', '.join(PATHS)}"
    )
    return Exercise(
        chapter_id,
        module,
        tests,
        _get(raw, "points", int, where, _positive, "points must be positive"),
        tuple(hints),
        tuple(hints_ja),
        path,
        _get(raw, "minutes", int, where, _positive, "minutes must be positive"),
    )


def parse(text: str, source: str = "kata/core/catalog.toml") -> Catalog:
    """Parse catalog text; every problem is a CatalogError naming the entry."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML: {exc}") from None
    if data.get("version") != 1:
        raise CatalogError(f"{source}: 'version = 1' expected at the top")
    if not isinstance(data.get("chapter"), list) or not data["chapter"]:
        raise CatalogError(f"{source}: no [[chapter]] tables")
    chapters: list[Chapter] = []
    for index, raw in enumerate(data["chapter"], start=1):
        rule = "id must look like 'ch03_clients'"
        chapter_id = _get(raw, "id", str, f"{source}: chapter #{index}", _CHAPTER_ID.match, rule)
        where = f"{source}: chapter {chapter_id!r}"
        if chapters and int(chapter_id[2:4]) <= chapters[-1].number:
            raise CatalogError(f"{where}: chapters must be listed in increasing order")
        exercises = [_exercise(ex, chapter_id, where) for ex in raw.get("exercise", [])]
        modules = [ex.module for ex in exercises]
        for module in modules:
            if modules.count(module) > 1:
                raise CatalogError(f"{where}, exercise {module!r}: listed twice")
        empty = "is empty (leave the key out until it is written)"
        title_ja, summary_ja = (
            _translation(raw, key, str, where, str.strip, f"{key!r} {empty}")
            for key in ("title_ja", "summary_ja")
        )
        title, summary = _get(raw, "title", str, where), _get(raw, "summary", str, where)
        chapters.append(Chapter(chapter_id, title, summary, tuple(exercises), title_ja, summary_ja))
    return Catalog(tuple(chapters))


@lru_cache(maxsize=1)
def load(path: Path = CATALOG_PATH) -> Catalog:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read {path.name}: {exc.strerror}") from None
    return parse(text, source=CATALOG_RELPATH if path == CATALOG_PATH else str(path))
