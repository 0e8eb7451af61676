"""Read and validate kata/core/catalog.toml, the single source of truth for chapters.

Titles, summaries and hints come in English (`title`, `summary`, `hints`) and
Japanese (`title_ja`, `summary_ja`, `hints_ja`); `title_in(lang)` and friends pick
one. A missing Japanese text falls back to English here (so a chapter can be
written first and translated next), and tests/harness/test_catalog.py fails
until every entry has both: see `Catalog.missing_translations()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from kata.core.i18n import LANGUAGES, tomllib

CATALOG_PATH = Path(__file__).with_name("catalog.toml")
ROOT = CATALOG_PATH.parents[2]
CATALOG_RELPATH = CATALOG_PATH.relative_to(ROOT).as_posix()  # "kata/core/catalog.toml"

_CHAPTER_ID = re.compile(r"^ch(\d\d)_[a-z0-9_]+$")
_MODULE = re.compile(r"^[a-z][a-z0-9_]*$")
_T = TypeVar("_T", str, tuple[str, ...])


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
        return ROOT / tree / self.chapter / f"{self.module}.py"

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


def _pick(lang: str, english: _T, japanese: _T) -> _T:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return japanese if lang == "ja" and japanese else english


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


def _require(table: dict, key: str, kind: type, where: str) -> object:
    if key not in table:
        raise CatalogError(f"{where}: missing key {key!r}")
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        kind_name = {int: "whole number", str: "text", list: "list"}.get(kind, kind.__name__)
        raise CatalogError(f"{where}: {key!r} must be a {kind_name}, not {value!r}")
    return value


def _optional_text(table: dict, key: str, where: str) -> str:
    if key not in table:
        return ""
    value = _require(table, key, str, where)
    if not value.strip():
        raise CatalogError(f"{where}: {key!r} is empty (leave the key out until it is written)")
    return value


def _translated_hints(table: dict, count: int, where: str) -> tuple[str, ...]:
    if "hints_ja" not in table:
        return ()
    hints_ja = _require(table, "hints_ja", list, where)
    if not all(isinstance(h, str) and h.strip() for h in hints_ja):
        raise CatalogError(f"{where}: 'hints_ja' must list non-empty texts")
    if len(hints_ja) != count:
        raise CatalogError(
            f"{where}: 'hints_ja' has {len(hints_ja)} hints and 'hints' {count}: "
            "translate each hint, in the same order"
        )
    return tuple(hints_ja)


def parse(text: str, source: str = "kata/core/catalog.toml") -> Catalog:
    """Parse catalog text; every problem is a CatalogError naming the entry."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML: {exc}") from None
    if data.get("version") != 1:
        raise CatalogError(f"{source}: 'version = 1' expected at the top")
    raw_chapters = data.get("chapter")
    if not isinstance(raw_chapters, list) or not raw_chapters:
        raise CatalogError(f"{source}: no [[chapter]] tables")

    chapters: list[Chapter] = []
    seen_ids: set[str] = set()
    last_number = 0
    for index, raw in enumerate(raw_chapters, start=1):
        where = f"{source}: chapter #{index}"
        chapter_id = _require(raw, "id", str, where)
        where = f"{source}: chapter {chapter_id!r}"
        match = _CHAPTER_ID.match(chapter_id)
        if not match:
            raise CatalogError(f"{where}: id must look like 'ch03_clients'")
        number = int(match.group(1))
        if number <= last_number:
            raise CatalogError(f"{where}: chapters must be listed in increasing order")
        last_number = number
        if chapter_id in seen_ids:
            raise CatalogError(f"{where}: listed twice")
        seen_ids.add(chapter_id)
        title = _require(raw, "title", str, where)
        summary = _require(raw, "summary", str, where)
        title_ja = _optional_text(raw, "title_ja", where)
        summary_ja = _optional_text(raw, "summary_ja", where)
        exercises = []
        modules: set[str] = set()
        for ex_raw in raw.get("exercise", []):
            module = _require(ex_raw, "module", str, where)
            ex_where = f"{where}, exercise {module!r}"
            if not _MODULE.match(module):
                raise CatalogError(f"{ex_where}: module must be a Python module name")
            if module in modules:
                raise CatalogError(f"{ex_where}: listed twice")
            modules.add(module)
            tests = _require(ex_raw, "tests", str, ex_where)
            if not tests.startswith(f"tests/{chapter_id}/test_") or not tests.endswith(".py"):
                raise CatalogError(
                    f"{ex_where}: tests must be a file tests/{chapter_id}/test_*.py, not {tests!r}"
                )
            points = _require(ex_raw, "points", int, ex_where)
            if points <= 0:
                raise CatalogError(f"{ex_where}: points must be positive")
            hints = _require(ex_raw, "hints", list, ex_where)
            if not 2 <= len(hints) <= 3 or not all(isinstance(h, str) and h.strip() for h in hints):
                raise CatalogError(f"{ex_where}: 'hints' must list 2 or 3 non-empty texts")
            hints_ja = _translated_hints(ex_raw, len(hints), ex_where)
            path = _require(ex_raw, "path", str, ex_where)
            if path not in PATHS:
                raise CatalogError(f"{ex_where}: path must be one of {', '.join(PATHS)}")
            minutes = _require(ex_raw, "minutes", int, ex_where)
            if minutes <= 0:
                raise CatalogError(f"{ex_where}: minutes must be positive")
            exercises.append(
                Exercise(chapter_id, module, tests, points, tuple(hints), hints_ja, path, minutes)
            )
        chapters.append(Chapter(chapter_id, title, summary, tuple(exercises), title_ja, summary_ja))
    return Catalog(tuple(chapters))


@lru_cache(maxsize=1)
def load(path: Path = CATALOG_PATH) -> Catalog:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read {path.name}: {exc.strerror}") from None
    return parse(text, source=CATALOG_RELPATH if path == CATALOG_PATH else str(path))
