"""`kata grade-all`: grade a whole class, each submission in a box it cannot leave.

    kata grade-all SUBMISSIONS_DIR --out DIR [--jobs N] [--timeout S]
                   [--isolation auto|bwrap|none] [--trusted]

Every folder in SUBMISSIONS_DIR is one learner's copy of the kata. Each is
graded in a fresh temporary copy of the GRADER's kata (harness, tests,
conftest.py, pyproject.toml, docker/) into which only the learner's exercise
files are copied, by the same `kata grade` a learner runs, inside a box
(kata/teacher/box.py): its own processes, network (loopback only) and /tmp;
the grading copy read-only; no view of the teacher's files, environment or
other submissions; limits on time, CPU, memory and output. So a learner who
edits a test or the harness is graded with the pristine files, and flagged;
and the grader checks what a run reports without trusting it (checks.py).

Before the batch, one box run checks the environment: the grader's own tree
is collected (the test ids every run must report) and its broker starts.
When that fails, nothing is graded. Without a working box, grading refuses to
start unless the teacher says the work is trusted (--trusted).

Writes DIR/class.csv (one row per learner), DIR/class.md (the table and the
per-exercise pass rate) and DIR/<learner>/{results.json,report.md,junit.xml,grade.log}.

`kata classroom` rewrites the GitHub Classroom files
(.github/classroom/autograding.json, .github/workflows/classroom.yml) from
the catalog.
"""

from __future__ import annotations

import argparse
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
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kata.core import brokers
from kata.core.catalog import CATALOG_RELPATH, ROOT, Catalog, CatalogError, parse
from kata.core.i18n import pick_language, t
from kata.core.results import DONE, FAILING, ExerciseScore, Results, markdown_report, score
from kata.core.results import load as load_results
from kata.teacher import box as boxes
from kata.teacher import checks
from kata.teacher.box import OUT, PYTHON, Box, BoxResult, Limits

# What the grader's copy supplies to every run; the learner supplies only exercises/.
HARNESS_PARTS = ("kata", "tests", "docker", "conftest.py", "pyproject.toml")
# What a learner must not change: any difference is reported as tampering.
PROTECTED = ("kata", "tests", "conftest.py", "pyproject.toml", "tox.ini")
# The harness's own tests never grade anyone (and are not copied into a run):
# a kata updated after the class forked it must not flag everyone.
UNGRADED = ("tests/harness",)
# The grader's own tree: the same after every run as before the batch (not the
# seed broker's docker/data and docker/log, which a running compose may write).
GRADER_PARTS = (
    *(p for p in HARNESS_PARTS if p != "docker"),
    "docker/compose.yaml",
    "docker/config",
    "docker/offline",
    "tox.ini",
    "exercises",
    "solutions",
)
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
INTERRUPTED = "not graded: the batch was interrupted"


def _t(key: str, **fields: object) -> str:
    return t(key, pick_language(None), **fields)


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

    def run_limits(self) -> Limits:
        return dataclasses.replace(self.limits, wall=self.timeout)


class EnvironmentFailed(RuntimeError):
    """The grading environment does not work (no broker in the box, ...): grade no one."""


@dataclass
class Batch:
    """What every run of one batch shares."""

    box: Box
    expected: dict[str, set[str]]  # exercise id -> the test ids the grader's tree defines
    grader_files: dict[str, str]  # rel path -> digest, before the batch
    grader_changed: list[str] = field(default_factory=list)
    changed_during: list[str] = field(default_factory=list)  # learners whose run it was
    lock: threading.Lock = field(default_factory=threading.Lock)

    def grader_files_changed(self, settings: Settings, learner: str) -> list[str]:
        """After a run: the grader's files that are not as they were; then the batch stops."""
        changed = checks.changes(self.grader_files, settings.grader, GRADER_PARTS)
        if changed:
            with self.lock:
                self.grader_changed = self.grader_changed or changed
                self.changed_during.append(learner)
            boxes.stop_all()
        return changed


class GraderChanged(RuntimeError):
    """The grader's own files changed during the batch: every later result is suspect."""

    def __init__(self, files: list[str], learners: list[str]) -> None:
        super().__init__(", ".join(files))
        self.files = files
        self.learners = learners


# --- finding submissions ----------------------------------------------------


def submission_root(folder: Path) -> Path | None:
    """The kata checkout in `folder`: itself, or its only subfolder that has exercises/.

    Downloads from GitHub Classroom put each repository one level down
    (`alice/mqtt-kata-alice/exercises`).
    """
    if (folder / "exercises").is_dir():
        return folder
    inner = [p for p in _subfolders(folder) if (p / "exercises").is_dir()]
    return inner[0] if len(inner) == 1 else None


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def find_submissions(submissions: Path, skip: Path | None = None) -> list[tuple[str, Path]]:
    """(learner name, folder) per subfolder, sorted by name."""
    skip_resolved = skip.resolve() if skip is not None else None
    return [(p.name, p) for p in _subfolders(submissions) if p.resolve() != skip_resolved]


# --- tampering --------------------------------------------------------------


def _protected_files(root: Path) -> dict[str, Path]:
    return {
        rel: path
        for rel, path in checks.tree_files(root, PROTECTED).items()
        if not any(Path(rel).is_relative_to(u) for u in UNGRADED)
    }


def tamper_report(grader: Path, submission: Path) -> list[str]:
    """One line per changed, added or deleted file among the protected ones."""
    mine, theirs = _protected_files(grader), _protected_files(submission)
    changed = [
        r
        for r in sorted(mine.keys() & theirs.keys())
        if checks.digest(mine[r]) != checks.digest(theirs[r])
    ]
    added = sorted(theirs.keys() - mine.keys())
    deleted = sorted(mine.keys() - theirs.keys())
    lines: list[str] = []
    for word, rels in (("changed", changed), ("added", added), ("deleted", deleted)):
        lines += [f"tampered: {rel} {word}" for rel in rels[:MAX_FLAGS]]
        if len(rels) > MAX_FLAGS:
            lines.append(f"tampered: {len(rels) - MAX_FLAGS} more files {word}")
    return lines


def answer_flags(grader: Path, submission: Path, catalog: Catalog) -> list[str]:
    """Exercise files that are the reference answer, or that import the reference answers."""
    flags: list[str] = []
    for ex in catalog.exercises():
        mine = _read_text(submission / ex.relpath("exercises"))
        if mine is None:
            continue
        if checks.imports_solutions(mine):
            flags.append(f"{ex.id}: {IMPORTS_SOLUTIONS}")
            continue
        reference = _read_text(grader / ex.relpath("solutions"))
        if reference is not None and checks.same_code(mine, reference):
            flags.append(f"same as the reference answer: {ex.id}")
    return flags


def _read_text(path: Path, cap: int = 1 << 20) -> str | None:
    try:
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            return handle.read(cap).decode("utf-8", errors="replace")
    except OSError:
        return None


# --- one submission ---------------------------------------------------------


def build_workspace(grader: Path, submission: Path, catalog: Catalog, dest: Path) -> list[str]:
    """The grader's harness plus the learner's exercise files in `dest`; returns what is missing.

    Only the exercise modules the kata ships are taken (and the packages'
    __init__.py), so nothing else the learner wrote can shadow the harness.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "harness", ".pytest_cache")
    for part in HARNESS_PARTS:
        source = grader / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, dest / part)
    missing: list[str] = []
    # The modules the kata ships, also of chapters a shrunk catalog leaves out:
    # one exercise imports another's records (first_message and retain take
    # ch03's Message).
    shipped = sorted(
        path.relative_to(grader / "exercises").as_posix()
        for path in (grader / "exercises").glob("ch*/*.py")
    )
    graded = {ex.relpath("exercises").removeprefix("exercises/") for ex in catalog.exercises()}
    packages = ["__init__.py"] + [rel for rel in shipped if rel.endswith("/__init__.py")]
    for rel in packages:
        target = dest / "exercises" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        # A package file is boilerplate: the grader's stands in for a deleted one.
        for source in (submission / "exercises" / rel, grader / "exercises" / rel):
            if source.is_file() and not source.is_symlink():
                shutil.copyfile(source, target)
                break
        else:
            target.write_text('"""Exercises."""\n', encoding="utf-8")
    for rel in shipped:
        if rel.endswith("/__init__.py"):
            continue
        source = submission / "exercises" / rel
        # A link could point at any file of the teacher's: only plain files are taken.
        if source.is_file() and not source.is_symlink():
            shutil.copyfile(source, dest / "exercises" / rel)
        elif rel in graded:
            missing.append(f"missing: exercises/{rel}")
        else:
            # Not graded here, only imported by what is: the kata's own stub.
            shutil.copyfile(grader / "exercises" / rel, dest / "exercises" / rel)
    return missing


def _run_env(settings: Settings, box: Box) -> dict[str, str]:
    """What the run's `kata grade` is told: the broker (inside the box) and the language."""
    env = {"KATA_LANG": pick_language(None)}
    broker = settings.broker or os.environ.get("KATA_BROKER")
    if broker is None and isinstance(box, boxes.BwrapBox):
        broker = "local"  # no Docker engine is reachable from a box
    if broker:
        env["KATA_BROKER"] = broker
    return env


def prepare(settings: Settings) -> Batch:
    """The box, and one check of the environment in it; raises when grading cannot start.

    IsolationUnavailable: no box and not trusted; EnvironmentFailed: the box
    cannot run the grader's own tests (no broker, a broken tree).
    """
    box = boxes.choose(settings.isolation, trusted=settings.trusted)
    grader_files = checks.snapshot(settings.grader, GRADER_PARTS)
    expected = _check_environment(settings, box)
    return Batch(box, expected, grader_files)


def _check_environment(settings: Settings, box: Box) -> dict[str, set[str]]:
    """Collect the grader's own tests in a box (its broker starts for it): the ids to expect."""
    work_root = Path(tempfile.mkdtemp(prefix="kata-grade-check-"))
    try:
        work = work_root / "kata"
        work.mkdir()
        build_workspace(settings.grader, settings.grader, settings.catalog, work)
        files = [ex.tests for ex in settings.catalog.exercises()]
        argv = [PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--collect-only"]
        argv += ["--target", "exercises", "--kata-json", f"{OUT}/check.json", *files]
        limits = dataclasses.replace(settings.limits, wall=CHECK_TIMEOUT)
        log = work_root / "check.log"
        result = box.run(
            argv,
            work,
            limits,
            collect=work_root / "results",
            log=log,
            env=_run_env(settings, box),
        )
        output = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        error = ""
        if "check.json" in result.files:
            try:
                error = load_results(work_root / "results" / "check.json").error
            except (ValueError, TypeError, KeyError):
                error = ""
        if result.stopped:
            raise KeyboardInterrupt
        if error or not result.finished or result.code != 0:
            tail = "\n".join(output.strip().splitlines()[-12:])
            reason = error.strip() or result.limit or result.note or tail or f"exit {result.code}"
            raise EnvironmentFailed(reason)
        expected = checks.collected_ids(output, settings.catalog)
        if not any(expected.values()):
            raise EnvironmentFailed("no test was collected:\n" + output[-2000:])
        return expected
    finally:
        shutil.rmtree(work_root, ignore_errors=True)


# Categories (kata/core/plugin.py) that say the submission itself is broken, not unfinished.
BROKEN_CATEGORIES = ("broken", "hang", "broker died")
_NO_SOLUTIONS = "No module named 'solutions"


def _problems(results: Results, skip: set[str]) -> list[str]:
    """Per exercise (but those in `skip`), the first reason it could not be tested properly."""
    lines: list[str] = []
    for ex_score in results.exercises:
        if ex_score.id in skip:
            continue
        if ex_score.first_failure.startswith("crashed:"):
            lines.append(f"{ex_score.id}: {ex_score.first_failure}")
            continue
        for test in results.tests:
            if test.exercise == ex_score.id and test.category in BROKEN_CATEGORIES:
                message = test.message.splitlines()[0] if test.message else test.category
                # The reference answers are not in the grading copy: say what was tried.
                if _NO_SOLUTIONS in message:
                    message = IMPORTS_SOLUTIONS
                lines.append(f"{ex_score.id}: {message}")
                break
    return lines


# How a write past the output limit shows (RLIMIT_FSIZE, the box's full /tmp).
_OUTPUT_FULL = ("SIGXFSZ", "File too large", "No space left on device")


def _limit_flags(texts: list[str], result: BoxResult, limits: Limits) -> list[str]:
    """The box's limits that stopped part of a run, by name (each process has its own)."""
    flags = []
    if result.full:
        texts = [*texts, "No space left on device"]
    if any("MemoryError" in text for text in texts):
        flags.append(limits.memory_text())
    if result.signal == "SIGXCPU" or any("SIGXCPU" in text for text in texts):
        flags.append(limits.cpu_text())
    if result.signal == "SIGXFSZ" or any(
        marker in text for text in texts for marker in _OUTPUT_FULL
    ):
        flags.append(limits.output_text())
    return flags


def _rescored(results: Results, canary: checks.Canary, catalog: Catalog) -> Results:
    """The run's tests without the grader's check, scored by the grader (not by the run)."""
    tests = canary.remove(results.tests)
    crashed = {e.id: e for e in results.exercises if e.first_failure.startswith("crashed:")}
    exercises: list[ExerciseScore] = []
    for ex_score in score(tests, catalog):
        if ex_score.id in crashed:
            why = crashed[ex_score.id].first_failure
            ex_score = dataclasses.replace(
                ex_score, earned=0, status=FAILING, first_failure=why[:300]
            )
        exercises.append(ex_score)
    status = "pass" if all(e.status == DONE for e in exercises) else "fail"
    return dataclasses.replace(results, tests=tests, exercises=exercises, status=status)


def _write_junit(source: Path, dest: Path, canary: checks.Canary) -> None:
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
    work_root = Path(tempfile.mkdtemp(prefix="kata-grade-"))
    try:
        work = work_root / "kata"
        work.mkdir()
        missing = build_workspace(settings.grader, root, settings.catalog, work)
        flags += missing[:MAX_FLAGS]
        if len(missing) > MAX_FLAGS:
            flags.append(f"missing: {len(missing) - MAX_FLAGS} more exercise files")
        canary = checks.Canary.make()
        canary.write(work)
        copy_parts = (*COPY_PARTS, canary.filename)
        copy_before = checks.snapshot(work, copy_parts)
        argv = [PYTHON, "-m", "kata.cli", "grade", "--out", OUT]
        argv += ["--hang-after", f"{settings.hang_after:g}", "--canary", canary.filename]
        limits = settings.run_limits()
        collected = work_root / "results"
        result = batch.box.run(
            argv,
            work,
            limits,
            collect=collected,
            log=out_dir / "grade.log",
            env=_run_env(settings, batch.box),
        )
        grader_changed = batch.grader_files_changed(settings, learner)
        if grader_changed:
            written = ", ".join(grader_changed[:MAX_FLAGS])
            return Row(learner, TAMPERED, [*flags, f"wrote to the grader's files: {written}"])
        if result.stopped:
            return Row(learner, ERROR, [*flags, INTERRUPTED])
        copy_changed = checks.changes(copy_before, work, copy_parts)
        if copy_changed:
            written = ", ".join(copy_changed[:MAX_FLAGS])
            changed_flag = f"tampered at run time: changed the grading copy: {written}"
            return Row(learner, TAMPERED, [*flags, changed_flag, WITHHELD])
        return _row_from_run(learner, flags, result, collected, out_dir, settings, batch, canary)
    finally:
        shutil.rmtree(work_root, ignore_errors=True)


def _row_from_run(
    learner: str,
    flags: list[str],
    result: BoxResult,
    collected: Path,
    out_dir: Path,
    settings: Settings,
    batch: Batch,
    canary: checks.Canary,
) -> Row:
    limits = settings.run_limits()
    if result.limit:
        return Row(learner, ERROR, [*flags, result.limit])
    if not result.finished:
        return Row(learner, ERROR, [*flags, f"grading failed: {result.note}"])
    if result.code != 0 or "results.json" not in result.files:
        said = _last_line(out_dir / "grade.log") or f"exit code {result.code}"
        limit = _limit_flags(_tail(out_dir / "grade.log"), result, limits)
        return Row(learner, ERROR, [*flags, *limit, f"grading failed: {said[:200]}"])
    try:
        results = load_results(collected / "results.json")
    except (ValueError, TypeError, KeyError, AttributeError):
        return Row(learner, ERROR, [*flags, "grading failed: the run's results.json is unreadable"])
    crashed = {e.id for e in results.exercises if e.first_failure.startswith("crashed:")}
    # What the run says about itself, then what the grader checks without trusting it.
    integrity = list(results.integrity)
    integrity += checks.differing_tests(
        dataclasses.replace(results, tests=canary.remove(results.tests)), batch.expected, crashed
    )
    verdict = canary.verdict(results.tests) if results.tests else None
    if verdict:
        integrity.append(verdict)
    if "junit.xml" in result.files:
        skipped = checks.skipped_by_learner(collected / "junit.xml")
        if skipped:
            integrity.append(f"{len(skipped)} tests skipped by the learner's code ({skipped[0]})")
    graded = _rescored(results, canary, settings.catalog)
    graded.integrity = integrity
    (out_dir / "results.json").write_text(graded.as_json(), encoding="utf-8")
    report = markdown_report(graded, settings.catalog, pick_language(None))
    (out_dir / "report.md").write_text(report, encoding="utf-8")
    if "junit.xml" in result.files:
        _write_junit(collected / "junit.xml", out_dir / "junit.xml", canary)
    if integrity:
        lines = [f"tampered at run time: {line}" for line in integrity[:MAX_FLAGS]]
        return Row(learner, TAMPERED, [*flags, *lines, WITHHELD])
    # A missing file is already flagged; its "is missing" failures say nothing more.
    absent = {
        ex.id
        for ex in settings.catalog.exercises()
        if f"missing: {ex.relpath('exercises')}" in flags
    }
    problems = [p for p in _problems(graded, skip=absent) if p not in flags]
    texts = [t.message for t in graded.tests] + [e.first_failure for e in graded.exercises]
    flags += problems + _limit_flags(texts, result, limits)
    status = OK
    if any(f.startswith("tampered:") for f in flags):
        status = TAMPERED
    elif any(IMPORTS_SOLUTIONS in f or f.startswith("same as the reference") for f in flags):
        status = REVIEW
    elif flags:
        status = BROKEN
    return Row(
        learner,
        status,
        flags,
        total=graded.earned,
        exercises={e.id: e.earned for e in graded.exercises},
        done={e.id: e.status == DONE for e in graded.exercises},
        first_failures={e.id: e.first_failure for e in graded.exercises if e.first_failure},
        graded=True,
    )


def _tail(log: Path, lines: int = 200) -> list[str]:
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - 64 * 1024))
            return handle.read().decode("utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def _last_line(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


# --- the class --------------------------------------------------------------


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
    found = find_submissions(submissions, skip=settings.out)
    batch = batch if batch is not None else prepare(settings)
    boxes.allow_runs()

    def one(item: tuple[str, Path]) -> Row:
        started = time.monotonic()
        try:
            row = grade_submission(item[0], item[1], settings, batch)
        except Exception as exc:  # the batch goes on whatever one folder holds
            row = Row(item[0], ERROR, [f"grading failed: {type(exc).__name__}: {exc}"])
        if on_row is not None:
            on_row(row, time.monotonic() - started)
        return row

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


def csv_header(catalog: Catalog) -> list[str]:
    return [
        "learner",
        "total",
        *(c.id for c in catalog.chapters),
        *(ex.id for ex in catalog.exercises()),
        "status",
        "flags",
    ]


def write_class_csv(rows: Sequence[Row], catalog: Catalog, path: Path) -> None:
    """One row per learner; no timing, so a serial and a parallel run write the same file."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(csv_header(catalog))
        for row in rows:
            chapters = _chapter_points(row, catalog)
            # An ungraded row has empty cells: "not graded" is not "earned 0".
            cells = [
                *(chapters[c.id] if row.graded else "" for c in catalog.chapters),
                *(row.exercises.get(ex.id, 0) if row.graded else "" for ex in catalog.exercises()),
            ]
            writer.writerow([row.learner, row.total, *cells, row.status, "; ".join(row.flags)])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def class_markdown(rows: Sequence[Row], catalog: Catalog) -> str:
    possible = sum(ex.points for ex in catalog.exercises())
    graded = [r for r in rows if r.graded]
    lines = ["# MQTT kata: class results", ""]
    summary = f"{len(rows)} submissions, {len(graded)} graded"
    if graded:
        summary += f"; median {statistics.median(r.total for r in graded):g} / {possible} points"
    counts = Counter(r.status for r in rows)
    lines += [
        f"{summary}; {counts[TAMPERED]} tampered, {counts[REVIEW]} to review, "
        f"{counts[BROKEN]} with broken or missing files, {counts[ERROR]} could not be graded.",
        "",
    ]
    chapter_heads = " | ".join(c.id for c in catalog.chapters)
    lines += [
        f"| learner | total | {chapter_heads} | status | notes |",
        "|---" * (len(catalog.chapters) + 4) + "|",
    ]
    for row in rows:
        chapters = _chapter_points(row, catalog)
        cells = " | ".join(str(chapters[c.id]) if row.graded else "-" for c in catalog.chapters)
        notes = _cell("; ".join(row.flags))
        lines.append(f"| {row.learner} | {row.total} | {cells} | {row.status} | {notes} |")
    lines += [
        "",
        "## Per exercise",
        "",
        "Pass rate: the share of graded learners who earned the exercise's points.",
        "",
        "| exercise | points | done | pass rate | most common first failure |",
        "|---|---|---|---|---|",
    ]
    rates: list[tuple[float, str]] = []
    for ex in catalog.exercises():
        done = sum(r.done.get(ex.id, False) for r in graded)
        rate = done / len(graded) if graded else 0.0
        rates.append((rate, ex.id))
        reasons = Counter(r.first_failures[ex.id] for r in graded if ex.id in r.first_failures)
        # Most common first; ties by text, so that the report does not depend on the order.
        common = min(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[0] if reasons else ""
        lines.append(
            f"| {ex.id} | {ex.points} | {done} / {len(graded)} | {rate:.0%} | "
            f"{_cell(common[:120])} |"
        )
    hardest = [(rate, ex_id) for rate, ex_id in sorted(rates) if rate < 1][:3]
    if graded and hardest:
        lines += [
            "",
            "Hardest for this class: "
            + ", ".join(f"{ex_id} ({rate:.0%})" for rate, ex_id in hardest)
            + ".",
        ]
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


def _step_id(chapter: str, module: str) -> str:
    return f"{chapter[:4]}_{module}"


def autograding_config(catalog: Catalog) -> dict:
    """education/autograding's .github/classroom/autograding.json: one test per exercise.

    Per exercise, not per chapter: `kata grade` awards an exercise's points
    when all its tests pass, and so does a test here (pytest exits 0).
    """
    tests = []
    for index, ex in enumerate(catalog.exercises()):
        tests.append(
            {
                "name": f"{ex.chapter}: {ex.module}",
                # The tests run one after the other: install once, first.
                "setup": SETUP_COMMAND if index == 0 else "",
                "run": exercise_command(ex.tests),
                "input": "",
                "output": "",
                "comparison": "included",
                "timeout": TEST_TIMEOUT_MINUTES,
                "points": ex.points,
            }
        )
    return {"tests": tests}


def _template(name: str) -> string.Template:
    return string.Template((Path(__file__).parent / name).read_text(encoding="utf-8"))


def classroom_workflow(catalog: Catalog) -> str:
    """GitHub Classroom's workflow with the command grader, one step per exercise.

    The workflow is classroom.yml.in beside this file; each exercise is a
    classroom-step.yml.in filled in from the catalog.
    """
    step = _template("classroom-step.yml.in")
    ids = [_step_id(ex.chapter, ex.module) for ex in catalog.exercises()]
    graders = [
        step.substitute(
            chapter=ex.chapter,
            module=ex.module,
            step=step_id,
            command=exercise_command(ex.tests),
            timeout=TEST_TIMEOUT_MINUTES,
            points=ex.points,
        )
        for ex, step_id in zip(catalog.exercises(), ids, strict=True)
    ]
    results = [f'          {s.upper()}_RESULTS: "${{{{steps.{s}.outputs.result}}}}"' for s in ids]
    return _template("classroom.yml.in").substitute(
        setup=SETUP_COMMAND,
        graders="".join(graders).rstrip("\n"),
        results="\n".join(results),
        runners=",".join(ids),
    )


def write_github_files(root: Path, catalog: Catalog) -> list[Path]:
    config = root / AUTOGRADING_JSON
    workflow = root / CLASSROOM_WORKFLOW
    config.parent.mkdir(parents=True, exist_ok=True)
    workflow.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps(autograding_config(catalog), indent=2) + "\n", encoding="utf-8")
    workflow.write_text(classroom_workflow(catalog), encoding="utf-8")
    return [config, workflow]


# --- command line -----------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `kata grade-all`."""
    parser.add_argument("submissions", metavar="SUBMISSIONS_DIR", help="one folder per learner")
    parser.add_argument("--out", default="class-results", help="folder for class.csv, class.md")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds one submission may take in all (default %(default)g)",
    )
    parser.add_argument(
        "--hang-after",
        type=float,
        default=DEFAULT_HANG_AFTER,
        help="seconds per test before it counts as hanging (default %(default)g)",
    )
    parser.add_argument(
        "--broker",
        choices=tuple(m for m in brokers.MODES if m != "external"),
        default=None,
        help="where each run's broker comes from (default: KATA_BROKER, else local in a box)",
    )
    parser.add_argument(
        "--grader",
        default=str(ROOT),
        help="the pristine kata to grade with (default: this kata, %(default)s)",
    )
    parser.add_argument(
        "--isolation",
        choices=boxes.MECHANISMS,
        default="auto",
        help=_t("help.grade_all.isolation"),
    )
    parser.add_argument("--trusted", action="store_true", help=_t("help.grade_all.trusted"))


def _refusal(isolation: str, why: str) -> str:
    if isolation == "none":
        return _t("grade_all.none_needs_trusted")
    if isolation == "auto":
        return _t("grade_all.no_isolation", why=why)
    return _t("grade_all.isolation_unavailable", isolation=isolation, why=why)


def run(args: argparse.Namespace) -> int:
    """`kata grade-all`: grade every submission, write class.csv and class.md."""
    grader = Path(args.grader).resolve()
    submissions = Path(args.submissions)
    if not submissions.is_dir():
        print(f"kata grade-all: {submissions} is not a folder", file=sys.stderr)
        return 2
    if args.jobs < 1 or args.timeout <= 0:
        print("kata grade-all: --jobs and --timeout must be positive", file=sys.stderr)
        return 2
    if not (grader / "tests").is_dir():
        print(
            f"kata grade-all: {grader} has no tests/: give a copy of the kata with --grader",
            file=sys.stderr,
        )
        return 2
    try:
        catalog_file = grader / CATALOG_RELPATH
        catalog = parse(catalog_file.read_text(encoding="utf-8"), source=str(catalog_file))
    except (OSError, CatalogError) as exc:
        print(f"kata grade-all: the grader's catalog: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    settings = Settings(
        grader,
        catalog,
        out,
        args.timeout,
        args.hang_after,
        args.broker,
        isolation=args.isolation,
        trusted=args.trusted,
    )
    count = len(find_submissions(submissions, skip=out))
    if not count:
        print(f"kata grade-all: no submission folders in {submissions}", file=sys.stderr)
        return 2
    brokers.stop_cleanly_on_sigterm()
    try:
        batch = prepare(settings)
    except boxes.IsolationUnavailable as exc:
        print(_refusal(args.isolation, str(exc)), file=sys.stderr)
        return 2
    except EnvironmentFailed as exc:
        print(_t("grade_all.environment_failed", reason=exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kata grade-all: interrupted; the runs in progress were stopped", file=sys.stderr)
        return 130
    print(_t("grade_all.isolation", box=batch.box.describe()), flush=True)
    possible = sum(ex.points for ex in catalog.exercises())
    finished = 0

    def report(row: Row, seconds: float) -> None:
        nonlocal finished
        finished += 1
        note = f"  {row.flags[0]}" if row.flags else ""
        print(
            f"[{finished}/{count}] {row.learner:<24} {row.total:>4} / {possible}  "
            f"{row.status:<8} ({seconds:.1f} s){note}"[:160],
            flush=True,
        )

    started = time.monotonic()
    try:
        rows = grade_all(submissions, settings, jobs=args.jobs, on_row=report, batch=batch)
    except KeyboardInterrupt:
        print("kata grade-all: interrupted; the runs in progress were stopped", file=sys.stderr)
        return 130
    except GraderChanged as exc:
        files = ", ".join(exc.files[:MAX_FLAGS])
        learners = ", ".join(exc.learners)
        print(_t("grade_all.grader_changed", files=files, learners=learners), file=sys.stderr)
        return 2
    elapsed = time.monotonic() - started
    rate = len(rows) / elapsed * 60 if elapsed > 0 else 0.0
    print(
        f"\ngraded {len(rows)} submissions in {elapsed:.0f} s ({rate:.1f} per minute, "
        f"--jobs {args.jobs})\nwritten: {out / 'class.csv'}, {out / 'class.md'}"
    )
    return 0
