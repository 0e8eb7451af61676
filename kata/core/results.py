"""Results of a run, per test and per exercise: results.json and report.md for graders.

In the spirit of exercism's test-runner (version 3): one record per test with its
status and a one-line message, plus points per exercise, in catalog order.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from kata.core.catalog import Catalog
from kata.core.i18n import status_word, t, tn

OUTPUT_CAP = 500  # characters of captured output kept per test
MESSAGE_CAP = 300
DETAILS_CAP = 2000  # characters of pytest's own report of a failure (--tb=short)


class Word(str, Enum):
    """A word of results.json: compares, prints and serializes as its text."""

    __str__ = str.__str__
    __format__ = str.__format__


class Outcome(Word):
    """What became of one test."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"
    NOT_RUN = "not run"  # an earlier test of the exercise failed (kata's fail-fast runs)


class Category(Word):
    """Why a test failed, as far as the harness can tell."""

    NONE = ""
    NOT_DONE = "not done"  # the stub's NotImplementedError
    BROKEN = "broken"  # the exercise does not import
    HANG = "hang"
    THREAD_CRASH = "thread crash"
    FAILED = "failed"  # an assertion or an exception of the learner's code
    BROKER_DIED = "broker died"
    # The code under test did something to the test process: os._exit, fork,
    # a thread that never ends or spins.
    RUNAWAY = "runaway"
    TAMPERED = "tampered"  # passed without its body running (see Results.integrity)


class Status(Word):
    """An exercise's status, shown to learners and graders."""

    DONE = "done"
    TODO = "todo"
    FAILING = "failing"
    NOT_RUN = "not run"


# Kept for readers of the earlier names.
DONE, TODO, FAILING, NOT_RUN = Status.DONE, Status.TODO, Status.FAILING, Status.NOT_RUN


@dataclass
class TestResult:
    nodeid: str
    name: str
    exercise: str | None
    chapter: str | None
    status: Outcome
    category: Category = Category.NONE
    message: str = ""
    output: str = ""
    duration: float = 0.0
    # The failure as pytest reported it (assertion, short traceback), capped;
    # empty where the one-line message says it all.
    details: str = ""

    def __post_init__(self) -> None:
        self.status, self.category = Outcome(self.status), Category(self.category)


@dataclass
class ExerciseScore:
    id: str
    chapter: str
    module: str
    points: int
    earned: int
    passed: int
    total: int
    status: Status
    first_failure: str = ""
    skipped: int = 0

    def __post_init__(self) -> None:
        self.status = Status(self.status)


@dataclass
class Results:
    version: int
    target: str
    broker: str
    status: str  # pass | fail (every test passed or not)
    tests: list[TestResult] = field(default_factory=list)
    exercises: list[ExerciseScore] = field(default_factory=list)
    # The run could not test anything (no broker): never a score.
    error: str = ""
    # What the harness found tampered with at run time (pytest or the harness
    # patched, test bodies that never ran): a grader flags the submission.
    integrity: list[str] = field(default_factory=list)

    @property
    def earned(self) -> int:
        return sum(e.earned for e in self.exercises)

    @property
    def possible(self) -> int:
        return sum(e.points for e in self.exercises)

    def as_json(self) -> str:
        data = asdict(self)
        data["score"] = {"earned": self.earned, "possible": self.possible}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 15] + " ... (cut)"


def score(tests: list[TestResult], catalog: Catalog, exercise_ids: set[str] | None = None):
    """Per-exercise scores: an exercise earns its points when all its tests pass."""
    scores = []
    for ex in catalog.exercises():
        if exercise_ids is not None and ex.id not in exercise_ids:
            continue
        mine = [r for r in tests if r.exercise == ex.id]
        ran = [r for r in mine if r.status not in (Outcome.SKIP, Outcome.NOT_RUN)]
        skipped = sum(r.status == Outcome.SKIP for r in mine)
        passed = sum(r.status == Outcome.PASS for r in ran)
        failing = [r for r in ran if r.status in (Outcome.FAIL, Outcome.ERROR)]
        if not ran:
            status = Status.NOT_RUN
        elif not failing:
            status = Status.DONE
        elif all(r.category == Category.NOT_DONE for r in failing):
            status = Status.TODO
        else:
            status = Status.FAILING
        scores.append(
            ExerciseScore(
                id=ex.id,
                chapter=ex.chapter,
                module=ex.module,
                points=ex.points,
                earned=ex.points if status == Status.DONE else 0,
                passed=passed,
                total=len(mine) - skipped,
                status=status,
                first_failure=failing[0].message.splitlines()[0] if failing else "",
                skipped=skipped,
            )
        )
    return scores


def explain(
    tests: list[TestResult], lang: str = "en", limit: int = 8, *, full_first: bool = False
) -> list[str]:
    """Why an exercise fails, in short lines; a reason shared by many tests is shown once.
    full_first: the first failure also in full, as `kata next` and `kata watch` show it."""
    failing = [r for r in tests if r.status in (Outcome.FAIL, Outcome.ERROR)]
    passed = sum(r.status == Outcome.PASS for r in tests)
    lines = [t("next.passed", lang, passed=passed, total=len(tests))]
    reasons: dict[str, list[TestResult]] = {}
    for r in failing:
        reason = r.message.splitlines()[0] if r.message else r.category
        reasons.setdefault(reason, []).append(r)
    for n, (reason, same) in enumerate(list(reasons.items())[:limit]):
        more = tn("next.more_tests", lang, len(same) - 1) if len(same) > 1 else ""
        lines += [f"  x {same[0].name}{more}", f"      {reason}"]
        if n == 0 and full_first:
            lines += [f"      {line}" for line in _full_text(same[0], reason)]
    if len(reasons) > limit:
        lines.append("  ...")
    not_run = sum(r.status == Outcome.NOT_RUN for r in tests)
    if not_run:
        lines.append(tn("next.not_run", lang, not_run))
    return lines


DETAILS_LINES = 30


def _full_text(result: TestResult, shown: str) -> list[str]:
    """The rest of a failure's text: its message and pytest's report, minus what is shown."""
    text = result.details or result.message
    lines = [line.rstrip() for line in text.strip().splitlines()]
    said = shown.strip()
    # pytest repeats the assertion message after "E": it is on the line above.
    lines = [line for line in lines if line.strip() and line.lstrip("E ").strip() != said]
    if len(lines) > DETAILS_LINES:
        lines = [*lines[: DETAILS_LINES - 1], "..."]
    return lines


def markdown_report(results: Results, catalog: Catalog, lang: str = "en") -> str:
    """report.md; its words follow `lang`, results.json stays in English."""
    lines = [
        t("report.title", lang),
        "",
        t("report.target", lang, target=results.target, broker=results.broker),
        "",
        t("report.score", lang, earned=results.earned, possible=results.possible),
        "",
        t("report.chapter_table", lang),
        "|---|---|",
    ]
    for chapter in catalog.chapters:
        mine = [e for e in results.exercises if e.chapter == chapter.id]
        earned, possible = sum(e.earned for e in mine), sum(e.points for e in mine)
        if mine:
            lines.append(f"| {chapter.id} {chapter.title_in(lang)} | {earned} / {possible} |")
    lines += [
        "",
        t("report.exercise_table", lang),
        "|---|---|---|---|---|",
    ]
    for e in results.exercises:
        why = e.first_failure.replace("|", "\\|")
        status = status_word(e.status, lang)
        lines.append(
            f"| {e.id} | {status} | {e.passed} / {e.total} | {e.earned} / {e.points} | {why} |"
        )
    return "\n".join(lines) + "\n"


def load(path: Path) -> Results:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("score", None)
    tests = [TestResult(**t) for t in data.pop("tests")]
    exercises = [ExerciseScore(**e) for e in data.pop("exercises")]
    return Results(tests=tests, exercises=exercises, **data)
