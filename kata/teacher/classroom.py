"""`kata grade-all`: grade a whole class, each submission in a box it cannot leave.

Every folder in SUBMISSIONS_DIR is one learner's copy of the kata. Each is
graded by the same `kata grade` a learner runs, in a fresh copy of the
GRADER's harness that takes only the learner's exercise files, inside a box
(box.py) with limits on time, CPU, memory and output. So a learner who edits
a test or the harness is graded with the pristine files, and flagged; and the
grader checks what a run reports without trusting it (checks.py).

Before the batch, one box run checks the environment (the grader's tests are
collected: the ids every run must report; its broker starts); when that
fails, nothing is graded. Without a working box, grading refuses to start
unless the teacher says the work is trusted (--trusted).

Writes DIR/class.csv, DIR/class.md (the table, the per-exercise pass rate)
and DIR/<learner>/{results.json,report.md,junit.xml,grade.log}.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import csv
import dataclasses
import json
import os
import shutil
import statistics
import string
import sys
import tempfile
import threading
import time
import weakref
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kata.core import brokers
from kata.core.catalog import CATALOG_RELPATH, ROOT, Catalog, CatalogError, parse
from kata.core.i18n import pick_language, t
from kata.core.results import DONE, FAILING, Results, markdown_report, score
from kata.core.results import load as load_results
from kata.teacher import box as boxes
from kata.teacher import checks
from kata.teacher.box import OUT, PYTHON, Box, BoxResult, Limits
from kata.teacher.checks import Canary

# What the grader's copy supplies to every run; the learner supplies only exercises/.
HARNESS_PARTS = ("kata", "tests", "docker", "conftest.py", "pyproject.toml")
# What a learner must not change: any difference is reported as tampering.
PROTECTED = ("kata", "tests", "conftest.py", "pyproject.toml", "tox.ini")
# The harness's own tests never grade anyone (and are not copied into a run):
# a kata updated after the class forked it must not flag everyone.
UNGRADED = ("tests/harness",)
# The grader's own tree: the same after every run as before the batch (not the
# seed broker's docker/data and docker/log, which a running compose may write).
GRADER_PARTS = (*PROTECTED, "docker/compose.yaml", "docker/config", "docker/offline")
GRADER_PARTS += ("exercises", "solutions")
# A grading copy's files that no run may change.
COPY_PARTS = ("kata", "tests", "conftest.py", "pyproject.toml")

DEFAULT_TIMEOUT = 600.0  # seconds per submission; the whole catalog takes ~20 s
DEFAULT_HANG_AFTER = 10.0  # seconds per test, as `kata grade`
CHECK_TIMEOUT = 300.0  # seconds for the environment check before the batch
MAX_FLAGS = 6  # per kind of problem, so that a wrecked tree still gives a readable row

# Row status, worst first: could not be graded; changed protected files or the
# run (a tampered run's score is withheld); something only the teacher can
# judge (the reference answer handed in, the reference answers imported);
# broken or missing exercise files (graded, the reasons in the flags); nothing to note.
ERROR, TAMPERED, REVIEW, BROKEN, OK = "error", "tampered", "review", "broken", "ok"
WITHHELD = "score withheld: the run's results cannot be trusted"
IMPORTS_SOLUTIONS = "imports the reference answers (solutions/)"
# Categories (kata/core/plugin.py) that say the submission itself is broken, not unfinished.
BROKEN_CATEGORIES = ("broken", "hang", "broker died")
# How each limit of the box shows in a run's output (the output limit: RLIMIT_FSIZE, a full /tmp).
_LIMIT_MARKS = {
    "memory": ("MemoryError",),
    "CPU": ("SIGXCPU",),
    "output": ("SIGXFSZ", "File too large", "No space left on device"),
}


@dataclass
class Row:
    """One learner's line in class.csv."""

    learner: str
    status: str  # error | tampered | review | broken | ok
    flags: list[str] = field(default_factory=list)
    total: int = 0
    exercises: dict[str, int] = field(default_factory=dict)  # exercise id -> points earned
    done: dict[str, bool] = field(default_factory=dict)
    first_failures: dict[str, str] = field(default_factory=dict)  # exercise id -> message
    graded: bool = False  # False: no results (the run could not finish, or not trusted)


@dataclass(frozen=True)
class Settings:
    grader: Path
    catalog: Catalog
    out: Path
    timeout: float = DEFAULT_TIMEOUT
    hang_after: float = DEFAULT_HANG_AFTER
    broker: str | None = None
    isolation: str = "auto"  # auto | bwrap | none
    trusted: bool = False  # the teacher trusts the work: running it unboxed is allowed
    limits: Limits = field(default_factory=Limits)  # its wall time is `timeout`


class EnvironmentFailed(RuntimeError):
    """The grading environment does not work (no broker in the box, ...): grade no one."""


class GraderChanged(RuntimeError):
    """The grader's own files changed during the batch: every later result is suspect."""

    def __init__(self, files: list[str], learners: list[str]) -> None:
        super().__init__(", ".join(files))
        self.files, self.learners = files, learners


@dataclass
class Batch:
    """What every run of one batch shares."""

    box: Box
    expected: dict[str, set[str]]  # exercise id -> the test ids the grader's tree defines
    grader_files: dict[str, str]  # rel path -> digest, before the batch
    harness: Path  # the grader's harness, its bytecode made by the environment check
    grader_changed: list[str] = field(default_factory=list)
    changed_during: list[str] = field(default_factory=list)  # learners whose run it was
    lock: threading.Lock = field(default_factory=threading.Lock)


def submission_root(folder: Path) -> Path | None:
    """The kata checkout in `folder`: itself, or its only subfolder that has exercises/
    (GitHub Classroom's downloads: `alice/mqtt-kata-alice/exercises`)."""
    if (folder / "exercises").is_dir():
        return folder
    inner = [p for p in _subfolders(folder) if (p / "exercises").is_dir()]
    return inner[0] if len(inner) == 1 else None


def _subfolders(folder: Path, but: Path | None = None) -> list[Path]:
    found = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(p for p in found if but is None or p.resolve() != but.resolve())


def tamper_report(grader: Path, submission: Path) -> list[str]:
    """One line per changed, added or deleted file among the protected ones."""
    mine = checks.snapshot(grader, PROTECTED, UNGRADED)
    changed = checks.changes(mine, submission, PROTECTED, MAX_FLAGS, UNGRADED)
    return [f"tampered: {line}" for line in changed]


def answer_flags(grader: Path, submission: Path, catalog: Catalog) -> list[str]:
    """Exercise files that are the reference answer, or that import the reference answers."""
    flags: list[str] = []
    for ex in catalog.exercises():
        mine = _read_text(submission / ex.relpath("exercises"))
        reference = _read_text(grader / ex.relpath("solutions"))
        if mine is not None and checks.imports_solutions(mine):
            flags.append(f"{ex.id}: {IMPORTS_SOLUTIONS}")
        elif mine is not None and reference is not None and checks.same_code(mine, reference):
            flags.append(f"same as the reference answer: {ex.id}")
    return flags


def _read_text(path: Path, cap: int = 1 << 20) -> str | None:
    try:
        with path.open("rb") as handle:
            return handle.read(cap).decode("utf-8", errors="replace") if path.is_file() else None
    except OSError:
        return None


def build_workspace(
    grader: Path, submission: Path, catalog: Catalog, dest: Path, bytecode: bool = False
) -> list[str]:
    """The grader's harness plus the learner's exercise files in `dest`; returns what is missing.

    Only the exercise modules the kata ships are taken, so nothing else the learner wrote can
    shadow the harness. `bytecode`: `grader` is the batch's harness, its bytecode comes along.
    """
    junk = () if bytecode else ("__pycache__", "*.pyc")
    ignore = shutil.ignore_patterns(*junk, "harness", ".pytest_cache")
    for part in HARNESS_PARTS:
        if (grader / part).is_dir():
            shutil.copytree(grader / part, dest / part, ignore=ignore)
        elif (grader / part).is_file():
            shutil.copy2(grader / part, dest / part)
    # The modules the kata ships, also of chapters a shrunk catalog leaves out:
    # one exercise imports another's records (first_message and retain take ch03's Message).
    shipped = sorted(p.relative_to(grader).as_posix() for p in grader.glob("exercises/ch*/*.py"))
    graded = {ex.relpath("exercises") for ex in catalog.exercises()}
    missing: list[str] = []
    for rel in ["exercises/__init__.py", *shipped]:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        # A link could point at any file of the teacher's: only plain files are taken.
        if (submission / rel).is_file() and not (submission / rel).is_symlink():
            shutil.copyfile(submission / rel, dest / rel)
        elif rel in graded:
            missing.append(f"missing: {rel}")
        elif (grader / rel).is_file():
            # A package file is boilerplate, and a module not graded here is only imported
            # by one that is: the kata's own stands in.
            shutil.copyfile(grader / rel, dest / rel)
        else:
            (dest / rel).write_text('"""Exercises."""\n', encoding="utf-8")
    return missing


def _run_env(settings: Settings, box: Box) -> dict[str, str]:
    """What the run's `kata grade` is told: the broker (inside the box) and the language."""
    # In a box no Docker engine is reachable: the local broker.
    broker = settings.broker or os.environ.get("KATA_BROKER") or ("local" if box.sealed else "")
    return {"KATA_LANG": pick_language(None)} | ({"KATA_BROKER": broker} if broker else {})


def prepare(settings: Settings) -> Batch:
    """The box, and one check of the environment in it; raises IsolationUnavailable (no box
    and not trusted) or EnvironmentFailed (no broker, a broken tree): grading cannot start."""
    box = boxes.choose(settings.isolation, trusted=settings.trusted)
    grader_files = checks.snapshot(settings.grader, GRADER_PARTS)
    harness = Path(tempfile.mkdtemp(prefix="kata-grade-harness-"))
    batch = Batch(box, {}, grader_files, harness / "kata")
    weakref.finalize(batch, shutil.rmtree, harness, True)  # also when the check fails
    batch.expected = _check_environment(settings, box, batch.harness)
    return batch


def _check_environment(settings: Settings, box: Box, work: Path) -> dict[str, set[str]]:
    """Collect the grader's own tests in a box (its broker starts for it): the ids to expect.

    The same run leaves the bytecode of the harness and of its assertion-rewritten
    tests in `work`, which every grading copy then takes along: a run in a box,
    which cannot write its copy, does not compile them again (~1 s of CPU).
    """
    work.mkdir()
    build_workspace(settings.grader, settings.grader, settings.catalog, work)
    # The box's interpreter is this one; importing fixes a module's file name.
    compileall.compile_dir(work / "kata", quiet=2)
    with tempfile.TemporaryDirectory(prefix="kata-grade-check-") as tmp:
        argv = [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--collect-only"]
        argv += ["--target", "exercises", "--kata-json", f"{OUT}/check.json"]
        argv += [ex.tests for ex in settings.catalog.exercises()]
        log, results = Path(tmp) / "check.log", Path(tmp) / "results"
        limits = dataclasses.replace(settings.limits, wall=CHECK_TIMEOUT)
        env = {**_run_env(settings, box), "PYTHONDONTWRITEBYTECODE": ""}
        result = box.run(argv, work, limits, collect=results, log=log, env=env, writable=True)
        output = "\n".join(boxes.log_tail(log, 12))
        checked = None
        with contextlib.suppress(ValueError, TypeError, KeyError, OSError):
            checked = load_results(results / "check.json") if "check.json" in result.files else None
    if result.stopped:
        raise KeyboardInterrupt
    error = checked.error.strip() if checked else ""
    if error or not result.finished or result.code != 0 or checked is None:
        raise EnvironmentFailed(
            error or result.limit or result.note or output or f"exit {result.code}"
        )
    # The test ids each exercise has in the grader's tree: what every run must report.
    tests = [(t.exercise, t.nodeid) for t in checked.tests]
    expected = {ex.id: {n for e, n in tests if e == ex.id} for ex in settings.catalog.exercises()}
    if not any(expected.values()):
        raise EnvironmentFailed(f"no test was collected:\n{output}")
    return expected


def grade_submission(
    learner: str, folder: Path, settings: Settings, batch: Batch | None = None
) -> Row:
    """Grade one learner's folder; never raises for anything the learner did."""
    batch = batch if batch is not None else prepare(settings)
    out_dir = settings.out / learner
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    root = submission_root(folder)
    if root is None:
        return Row(learner, ERROR, ["no exercises/ folder in this submission"])
    flags = tamper_report(settings.grader, root)
    flags += answer_flags(settings.grader, root, settings.catalog)
    with tempfile.TemporaryDirectory(prefix="kata-grade-", ignore_cleanup_errors=True) as tmp:
        work, collected = Path(tmp) / "kata", Path(tmp) / "results"
        missing = build_workspace(batch.harness, root, settings.catalog, work, batch.box.sealed)
        flags += missing[:MAX_FLAGS]
        if len(missing) > MAX_FLAGS:
            flags.append(f"missing: {len(missing) - MAX_FLAGS} more exercise files")
        row = Row(learner, OK, flags)
        canary = Canary(work)
        copy_parts = (*COPY_PARTS, canary.filename)
        copy_before = checks.snapshot(work, copy_parts)
        argv = [PYTHON, "-m", "kata.cli", "grade", "--out", OUT, "--canary", canary.filename]
        argv += ["--hang-after", f"{settings.hang_after:g}"]
        limits = dataclasses.replace(settings.limits, wall=settings.timeout)
        log, env = out_dir / "grade.log", _run_env(settings, batch.box)
        result = batch.box.run(argv, work, limits, collect=collected, log=log, env=env)
        # After a run: the grader's files must be as they were; else the batch stops.
        grader_changed = checks.changes(batch.grader_files, settings.grader, GRADER_PARTS)
        if grader_changed:
            with batch.lock:
                batch.grader_changed = batch.grader_changed or grader_changed
                batch.changed_during.append(learner)
            boxes.stop_all()
            written = ", ".join(grader_changed[:MAX_FLAGS])
            return _failed(row, TAMPERED, f"wrote to the grader's files: {written}")
        if result.stopped:
            return _failed(row, ERROR, "not graded: the batch was interrupted")
        copy_changed = checks.changes(copy_before, work, copy_parts)
        if copy_changed:
            written = ", ".join(copy_changed[:MAX_FLAGS])
            said = f"tampered at run time: changed the grading copy: {written}"
            return _failed(row, TAMPERED, said, WITHHELD)
        return _row_from_run(row, result, collected, settings, batch, canary)


def _failed(row: Row, status: str, *flags: str) -> Row:
    return dataclasses.replace(row, status=status, flags=[*row.flags, *flags])


def _row_from_run(
    row: Row, result: BoxResult, collected: Path, settings: Settings, batch: Batch, canary: Canary
) -> Row:
    out_dir = settings.out / row.learner
    if not result.finished:
        return _failed(row, ERROR, result.limit or f"grading failed: {result.note}")
    if result.code != 0 or "results.json" not in result.files:
        tail = boxes.log_tail(out_dir / "grade.log")
        said = (tail or [f"exit code {result.code}"])[-1][:200]
        limits = _limit_flags(tail, result, settings.limits)
        return _failed(row, ERROR, *limits, f"grading failed: {said}")
    try:
        results = load_results(collected / "results.json")
    except (ValueError, TypeError, KeyError, AttributeError):
        return _failed(row, ERROR, "grading failed: the run's results.json is unreadable")
    crashed = {e.id: e.first_failure for e in results.exercises}
    crashed = {ex_id: why for ex_id, why in crashed.items() if why.startswith("crashed:")}
    # What the run says about itself, then what the grader checks without trusting it.
    tests = canary.remove(results.tests)
    integrity = list(results.integrity)
    reported = dataclasses.replace(results, tests=tests)
    integrity += checks.differing_tests(reported, batch.expected, set(crashed))
    if results.tests and (verdict := canary.verdict(results.tests)):
        integrity.append(verdict)
    if "junit.xml" not in result.files:
        integrity.append("the run wrote no junit.xml to check its results.json against")
    else:
        integrity += checks.junit_disagrees(collected / "junit.xml", results.tests)
        skipped = checks.skipped_by_learner(collected / "junit.xml")
        if skipped:
            integrity.append(f"{len(skipped)} tests skipped by the learner's code ({skipped[0]})")
        _write_junit(collected / "junit.xml", out_dir / "junit.xml", canary)
    # Scored by the grader, not by the run; an exercise whose run crashed earns nothing.
    exercises = score(tests, settings.catalog)
    for e in exercises:
        if e.id in crashed:
            e.earned, e.status, e.first_failure = 0, FAILING, crashed[e.id][:300]
    status = "pass" if all(e.status == DONE for e in exercises) else "fail"
    graded = dataclasses.replace(reported, exercises=exercises, status=status, integrity=integrity)
    (out_dir / "results.json").write_text(graded.as_json(), encoding="utf-8")
    report = markdown_report(graded, settings.catalog, pick_language(None))
    (out_dir / "report.md").write_text(report, encoding="utf-8")
    if integrity:
        lines = [f"tampered at run time: {line}" for line in integrity[:MAX_FLAGS]]
        return _failed(row, TAMPERED, *lines, WITHHELD)
    # A missing file is already flagged; its "is missing" failures say nothing more.
    missing = {flag.removeprefix("missing: ") for flag in row.flags}
    missing = {e.id for e in settings.catalog.exercises() if e.relpath("exercises") in missing}
    texts = [t.message for t in graded.tests] + [e.first_failure for e in graded.exercises]
    flags = [p for p in _problems(graded, skip=missing) if p not in row.flags]
    flags = [*row.flags, *flags, *_limit_flags(texts, result, settings.limits)]
    status = OK
    if any(f.startswith("tampered:") for f in flags):
        status = TAMPERED
    elif any(IMPORTS_SOLUTIONS in f or f.startswith("same as the reference") for f in flags):
        status = REVIEW
    elif flags:
        status = BROKEN
    return Row(
        row.learner,
        status,
        flags,
        total=graded.earned,
        exercises={e.id: e.earned for e in graded.exercises},
        done={e.id: e.status == DONE for e in graded.exercises},
        first_failures={e.id: e.first_failure for e in graded.exercises if e.first_failure},
        graded=True,
    )


def _problems(results: Results, skip: set[str]) -> list[str]:
    """Per exercise (but those in `skip`), the first reason it could not be tested properly."""
    lines: list[str] = []
    for e in results.exercises:
        said = [
            t.message.splitlines()[0] if t.message else t.category
            for t in results.tests
            if t.exercise == e.id and t.category in BROKEN_CATEGORIES
        ]
        # The reference answers are not in the grading copy: say what was tried.
        said = [IMPORTS_SOLUTIONS if "No module named 'solutions" in s else s for s in said]
        if e.first_failure.startswith("crashed:"):
            said = [e.first_failure]
        if e.id not in skip and said:
            lines.append(f"{e.id}: {said[0]}")
    return lines


def _limit_flags(texts: list[str], result: BoxResult, limits: Limits) -> list[str]:
    """The box's limits that stopped part of a run, by name (each process has its own)."""
    texts = [*texts, result.signal, "No space left on device" if result.full else ""]
    return [
        limits.text(which)
        for which, marks in _LIMIT_MARKS.items()
        if any(mark in text for text in texts for mark in marks)
    ]


def _write_junit(source: Path, dest: Path, canary: Canary) -> None:
    """The run's junit.xml without the grader's check test."""
    try:
        tree = ElementTree.parse(source)
    except (ElementTree.ParseError, OSError):
        return
    module = canary.filename.removesuffix(".py")
    for suite in tree.iter("testsuite"):
        for case in list(suite):
            if case.tag == "testcase" and case.get("classname", "").startswith(module):
                suite.remove(case)
                for key in ("tests", "failures"):
                    if (suite.get(key) or "").isdigit():
                        suite.set(key, str(max(0, int(suite.get(key, "0")) - 1)))
    tree.write(dest, encoding="utf-8", xml_declaration=True)


def grade_all(
    submissions: Path,
    settings: Settings,
    jobs: int = 1,
    on_row: Callable[[Row, float], None] | None = None,
    batch: Batch | None = None,
) -> list[Row]:
    """Grade every submission (`jobs` at a time); rows sorted by learner name.

    Raises IsolationUnavailable or EnvironmentFailed before grading anyone, and
    GraderChanged (after stopping the batch) when a run changed the grader's files.
    """
    settings.out.mkdir(parents=True, exist_ok=True)
    found = _subfolders(submissions, but=settings.out)
    batch = batch if batch is not None else prepare(settings)
    boxes.allow_runs()

    def work(folder: Path) -> int:
        """How many exercises are not the shipped stub: those run all their tests."""
        root = submission_root(folder)
        rels = [ex.relpath("exercises") for ex in settings.catalog.exercises()]
        if root is None:
            return 0
        return sum(_read_text(root / rel) != _read_text(settings.grader / rel) for rel in rels)

    def one(folder: Path) -> Row:
        started = time.monotonic()
        try:
            row = grade_submission(folder.name, folder, settings, batch)
        except Exception as exc:  # the batch goes on whatever one folder holds
            row = Row(folder.name, ERROR, [f"grading failed: {type(exc).__name__}: {exc}"])
        if on_row is not None:
            on_row(row, time.monotonic() - started)
        return row

    # The longest first, so that no job waits alone for one at the end.
    if jobs > 1:
        found.sort(key=work, reverse=True)
    # Threads suffice: each one waits on its own box.
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        rows = list(pool.map(one, found))
    except BaseException:  # Ctrl-C, SIGTERM: no grading run may outlive the batch
        pool.shutdown(wait=False, cancel_futures=True)
        boxes.stop_all()
        raise
    finally:
        pool.shutdown(wait=True)
    if batch.grader_changed:
        raise GraderChanged(batch.grader_changed, batch.changed_during)
    # Every box is gone (each run ended with its processes): nothing of a
    # learner's can write these files.
    rows.sort(key=lambda r: r.learner)
    write_class_csv(rows, settings.catalog, settings.out / "class.csv")
    (settings.out / "class.md").write_text(class_markdown(rows, settings.catalog), encoding="utf-8")
    return rows


def _chapter_points(row: Row, catalog: Catalog) -> dict[str, int]:
    return {c.id: sum(row.exercises.get(ex.id, 0) for ex in c.exercises) for c in catalog.chapters}


def write_class_csv(rows: Sequence[Row], catalog: Catalog, path: Path) -> None:
    """One row per learner; no timing, so a serial and a parallel run write the same file."""
    chapters, exercises = [c.id for c in catalog.chapters], [e.id for e in catalog.exercises()]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["learner", "total", *chapters, *exercises, "status", "flags"])
        for row in rows:
            points = {**_chapter_points(row, catalog), **row.exercises}
            # An ungraded row has empty cells: "not graded" is not "earned 0".
            cells = [points.get(i, 0) if row.graded else "" for i in chapters + exercises]
            writer.writerow([row.learner, row.total, *cells, row.status, "; ".join(row.flags)])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def class_markdown(rows: Sequence[Row], catalog: Catalog) -> str:
    possible = sum(ex.points for ex in catalog.exercises())
    graded = [r for r in rows if r.graded]
    summary = f"{len(rows)} submissions, {len(graded)} graded"
    if graded:
        summary += f"; median {statistics.median(r.total for r in graded):g} / {possible} points"
    counts = Counter(r.status for r in rows)
    lines = [
        "# MQTT kata: class results",
        "",
        f"{summary}; {counts[TAMPERED]} tampered, {counts[REVIEW]} to review, "
        f"{counts[BROKEN]} with broken or missing files, {counts[ERROR]} could not be graded.",
        "",
        f"| learner | total | {' | '.join(c.id for c in catalog.chapters)} | status | notes |",
        "|---" * (len(catalog.chapters) + 4) + "|",
    ]
    for row in rows:
        chapters = _chapter_points(row, catalog)
        cells = " | ".join(str(chapters[c.id]) if row.graded else "-" for c in catalog.chapters)
        notes = _cell("; ".join(row.flags))
        lines.append(f"| {row.learner} | {row.total} | {cells} | {row.status} | {notes} |")
    lines += ["", "## Per exercise", ""]
    lines += ["Pass rate: the share of graded learners who earned the exercise's points.", ""]
    lines += ["| exercise | points | done | pass rate | most common first failure |"]
    lines += ["|---|---|---|---|---|"]
    rates: list[tuple[float, str]] = []
    for ex in catalog.exercises():
        done = sum(r.done.get(ex.id, False) for r in graded)
        rate = done / len(graded) if graded else 0.0
        rates.append((rate, ex.id))
        reasons = Counter(r.first_failures[ex.id] for r in graded if ex.id in r.first_failures)
        # Most common first; ties by text, so that the report does not depend on the order.
        common = min(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[0] if reasons else ""
        cells = f"{ex.id} | {ex.points} | {done} / {len(graded)} | {rate:.0%}"
        lines.append(f"| {cells} | {_cell(common[:120])} |")
    hardest = [f"{ex_id} ({rate:.0%})" for rate, ex_id in sorted(rates) if rate < 1][:3]
    if graded and hardest:
        lines += ["", "Hardest for this class: " + ", ".join(hardest) + "."]
    return "\n".join(lines) + "\n"


# --- GitHub Classroom -------------------------------------------------------

AUTOGRADING_JSON = Path(".github/classroom/autograding.json")
CLASSROOM_WORKFLOW = Path(".github/workflows/classroom.yml")
SETUP_COMMAND = (
    "sudo apt-get update -qq && sudo apt-get install -y -qq mosquitto mosquitto-clients"
    " && python -m pip install -q -e ."
)
TEST_TIMEOUT_MINUTES = 10


def exercise_command(tests: str) -> str:
    """The command that grades one exercise as `kata grade` does (same per-test hang limit)."""
    return (
        f"python -m pytest {tests} --target exercises --broker local -q -p no:cacheprovider"
        f" -o kata_hang_after={DEFAULT_HANG_AFTER:g}"
    )


def autograding_config(catalog: Catalog) -> dict:
    """education/autograding's .github/classroom/autograding.json: one test per exercise.

    Per exercise, not per chapter: `kata grade` awards an exercise's points
    when all its tests pass, and so does a test here (pytest exits 0).
    """
    same = {"input": "", "output": "", "comparison": "included", "timeout": TEST_TIMEOUT_MINUTES}
    tests = [
        {
            "name": f"{ex.chapter}: {ex.module}",
            # The tests run one after the other: install once, first.
            "setup": "" if index else SETUP_COMMAND,
            "run": exercise_command(ex.tests),
            **same,
            "points": ex.points,
        }
        for index, ex in enumerate(catalog.exercises())
    ]
    return {"tests": tests}


def classroom_workflow(catalog: Catalog) -> str:
    """GitHub Classroom's workflow (classroom.yml.in beside this file) with the command
    grader, one step per exercise (classroom-step.yml.in), filled in from the catalog."""
    here = Path(__file__).parent
    step = string.Template((here / "classroom-step.yml.in").read_text(encoding="utf-8"))
    ids = [f"{ex.chapter[:4]}_{ex.module}" for ex in catalog.exercises()]
    graders = [
        step.substitute(
            dataclasses.asdict(ex),
            step=s,
            timeout=TEST_TIMEOUT_MINUTES,
            command=exercise_command(ex.tests),
        )
        for ex, s in zip(catalog.exercises(), ids, strict=True)
    ]
    results = [f'          {s.upper()}_RESULTS: "${{{{steps.{s}.outputs.result}}}}"' for s in ids]
    workflow = string.Template((here / "classroom.yml.in").read_text(encoding="utf-8"))
    graded = {"graders": "".join(graders).rstrip("\n"), "results": "\n".join(results)}
    return workflow.substitute(graded, setup=SETUP_COMMAND, runners=",".join(ids))


def write_github_files(root: Path, catalog: Catalog) -> list[Path]:
    config, workflow = root / AUTOGRADING_JSON, root / CLASSROOM_WORKFLOW
    for path, text in (
        (config, json.dumps(autograding_config(catalog), indent=2) + "\n"),
        (workflow, classroom_workflow(catalog)),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [config, workflow]


# --- command line -----------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kata grade-all`."""
    add = parser.add_argument
    add("submissions", metavar="SUBMISSIONS_DIR", help="one folder per learner")
    add("--out", default="class-results", help="folder for class.csv, class.md")
    add("--jobs", type=int, default=1, help="submissions graded at once")
    add("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per submission")
    add("--hang-after", type=float, default=DEFAULT_HANG_AFTER, help="seconds per test")
    modes = [m for m in brokers.MODES if m != "external"]
    add("--broker", choices=modes, help="each run's broker (default KATA_BROKER; in a box local)")
    add("--grader", default=str(ROOT), help="the pristine kata to grade with (%(default)s)")
    isolation = t("help.grade_all.isolation")
    add("--isolation", choices=boxes.MECHANISMS, default="auto", help=isolation)
    add("--trusted", action="store_true", help=t("help.grade_all.trusted"))


def run(args: argparse.Namespace) -> int:
    """`kata grade-all`: grade every submission, write class.csv and class.md."""
    grader, submissions = Path(args.grader).resolve(), Path(args.submissions)
    out, catalog_file = Path(args.out).resolve(), grader / CATALOG_RELPATH
    try:
        if not submissions.is_dir():
            raise ValueError(f"{submissions} is not a folder")
        if args.jobs < 1 or args.timeout <= 0:
            raise ValueError("--jobs and --timeout must be positive")
        if not (grader / "tests").is_dir():
            raise ValueError(f"{grader} has no tests/: give a copy of the kata with --grader")
        try:
            catalog = parse(catalog_file.read_text(encoding="utf-8"), source=str(catalog_file))
        except (OSError, CatalogError) as exc:
            raise ValueError(f"the grader's catalog: {exc}") from None
        count = len(_subfolders(submissions, but=out))
        if not count:
            raise ValueError(f"no submission folders in {submissions}")
    except ValueError as exc:
        print(f"kata grade-all: {exc}", file=sys.stderr)
        return 2
    settings = Settings(grader, catalog, out, args.timeout, args.hang_after, args.broker)
    settings = dataclasses.replace(settings, isolation=args.isolation, trusted=args.trusted)
    brokers.stop_cleanly_on_sigterm()
    possible, finished, started = sum(ex.points for ex in catalog.exercises()), 0, 0.0

    def report(row: Row, seconds: float) -> None:
        nonlocal finished
        finished += 1
        note = f"  {row.flags[0]}" if row.flags else ""
        line = f"[{finished}/{count}] {row.learner:<24} {row.total:>4} / {possible}  "
        print(f"{line}{row.status:<8} ({seconds:.1f} s){note}"[:160], flush=True)

    try:
        batch = prepare(settings)
        print(t("grade_all.isolation", box=batch.box.describe()), flush=True)
        started = time.monotonic()
        rows = grade_all(submissions, settings, jobs=args.jobs, on_row=report, batch=batch)
    except KeyboardInterrupt:
        print("kata grade-all: interrupted; the runs in progress were stopped", file=sys.stderr)
        return 130
    except (boxes.IsolationUnavailable, EnvironmentFailed, GraderChanged) as exc:
        if isinstance(exc, GraderChanged):
            files, learners = ", ".join(exc.files[:MAX_FLAGS]), ", ".join(exc.learners)
            said = t("grade_all.grader_changed", files=files, learners=learners)
        elif isinstance(exc, EnvironmentFailed):
            said = t("grade_all.environment_failed", reason=exc)
        else:
            keys = {"none": "none_needs_trusted", "auto": "no_isolation"}
            key = keys.get(args.isolation, "isolation_unavailable")
            said = t(f"grade_all.{key}", why=exc, isolation=args.isolation)
        print(said, file=sys.stderr)
        return 2
    elapsed = time.monotonic() - started
    rate = len(rows) / elapsed * 60 if elapsed > 0 else 0.0
    print(
        f"\ngraded {len(rows)} submissions in {elapsed:.0f} s ({rate:.1f} per minute, "
        f"--jobs {args.jobs})\nwritten: {out / 'class.csv'}, {out / 'class.md'}"
    )
    return 0
