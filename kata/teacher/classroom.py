"""`kata grade-all`: grade a whole class, tamper-proof, one isolated run per learner.

    kata grade-all SUBMISSIONS_DIR --out DIR [--jobs N] [--timeout S]

Every folder in SUBMISSIONS_DIR is one learner's copy of the kata. Each is
graded in a fresh temporary copy of the GRADER's kata (harness, tests,
conftest.py, pyproject.toml, docker/) into which only the learner's exercise
files are copied, by the same `kata grade` a learner runs. So a learner who
edits a test or the harness is graded with the pristine files, and flagged.
Each run starts its own broker on free ports and gets a hard time limit;
a broken submission gets a row with the reason and the batch goes on.

Writes DIR/class.csv (one row per learner), DIR/class.md (the table and the
per-exercise pass rate) and DIR/<learner>/{results.json,report.md,junit.xml}.

`kata classroom` rewrites the GitHub Classroom files
(.github/classroom/autograding.json, .github/workflows/classroom.yml) from
the catalog.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import os
import shutil
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kata.core import brokers
from kata.core.catalog import CATALOG_RELPATH, ROOT, Catalog, CatalogError, parse
from kata.core.results import DONE, Results
from kata.core.results import load as load_results

# What the grader's copy supplies to every run; the learner supplies only exercises/.
HARNESS_PARTS = ("kata", "tests", "docker", "conftest.py", "pyproject.toml")
# What a learner must not change: any difference is reported as tampering.
PROTECTED = ("kata", "tests", "conftest.py", "pyproject.toml", "tox.ini")
# The harness's own tests never grade anyone (and are not copied into a run):
# a kata updated after the class forked it must not flag everyone.
UNGRADED = ("tests/harness",)
# Generated on every run, never part of what was handed out.
JUNK_DIRS = {"__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache", ".kata", ".tox"}
JUNK_SUFFIXES = (".pyc", ".pyo")

DEFAULT_TIMEOUT = 600.0  # seconds per submission; the whole catalog takes ~20 s
DEFAULT_HANG_AFTER = 10.0  # seconds per test, as `kata grade`
MAX_FLAGS = 6  # per kind of problem, so that a wrecked tree still gives a readable row

# Row status, worst first: could not be graded, edited protected files, broken or
# missing exercise files (graded, the reasons in the flags), nothing to note.
ERROR, TAMPERED, BROKEN, OK = "error", "tampered", "broken", "ok"


@dataclass
class Row:
    """One learner's line in class.csv."""

    learner: str
    status: str  # error | tampered | broken | ok
    flags: list[str] = field(default_factory=list)
    total: int = 0
    exercises: dict[str, int] = field(default_factory=dict)  # exercise id -> points earned
    done: dict[str, bool] = field(default_factory=dict)
    first_failures: dict[str, str] = field(default_factory=dict)  # exercise id -> message
    graded: bool = False  # False: no results (the run could not finish)


@dataclass(frozen=True)
class Settings:
    grader: Path
    catalog: Catalog
    out: Path
    timeout: float = DEFAULT_TIMEOUT
    hang_after: float = DEFAULT_HANG_AFTER
    broker: str | None = None


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
    found: dict[str, Path] = {}
    for part in PROTECTED:
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
                    and not any(rel.is_relative_to(u) for u in UNGRADED)
                ):
                    found[rel.as_posix()] = path
    return found


def _digest(path: Path) -> str:
    # A Windows checkout (git autocrlf) has CRLF line ends: not a change.
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def tamper_report(grader: Path, submission: Path) -> list[str]:
    """One line per changed, added or deleted file among the protected ones."""
    mine, theirs = _protected_files(grader), _protected_files(submission)
    changed = [
        r for r in sorted(mine.keys() & theirs.keys()) if _digest(mine[r]) != _digest(theirs[r])
    ]
    added = sorted(theirs.keys() - mine.keys())
    deleted = sorted(mine.keys() - theirs.keys())
    lines: list[str] = []
    for word, rels in (("changed", changed), ("added", added), ("deleted", deleted)):
        lines += [f"tampered: {rel} {word}" for rel in rels[:MAX_FLAGS]]
        if len(rels) > MAX_FLAGS:
            lines.append(f"tampered: {len(rels) - MAX_FLAGS} more files {word}")
    return lines


# --- one submission ---------------------------------------------------------


def build_workspace(grader: Path, submission: Path, catalog: Catalog, dest: Path) -> list[str]:
    """The grader's harness plus the learner's exercise files in `dest`; returns what is missing.

    Only the files the catalog knows are taken (and the packages' __init__.py),
    so nothing else the learner wrote can shadow the harness.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "harness", ".pytest_cache")
    for part in HARNESS_PARTS:
        source = grader / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, dest / part)
    missing: list[str] = []
    packages = ["__init__.py"] + [f"{c.id}/__init__.py" for c in catalog.chapters]
    for rel in packages:
        target = dest / "exercises" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        # A package file is boilerplate: the grader's stands in for a deleted one.
        for source in (submission / "exercises" / rel, grader / "exercises" / rel):
            if source.is_file():
                shutil.copyfile(source, target)
                break
        else:
            target.write_text('"""Exercises."""\n', encoding="utf-8")
    for ex in catalog.exercises():
        rel = ex.relpath("exercises")
        source = submission / rel
        if source.is_file():
            shutil.copyfile(source, dest / rel)
        else:
            missing.append(f"missing: {rel}")
    return missing


def _child_env(settings: Settings) -> dict[str, str]:
    drop = ("KATA_TARGET", "PYTEST_ADDOPTS", "MQTT_BROKER_URL")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONUTF8="1", MPLBACKEND="Agg")
    if settings.broker:
        env["KATA_BROKER"] = settings.broker
    return env


def _kill_tree(proc: subprocess.Popen) -> None:
    """Stop the grading run and everything it started (pytest, the broker)."""
    if os.name == "nt":
        subprocess.run(
            ["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True, check=False
        )
        proc.wait()
        return
    # SIGTERM first: the kata's pytest plugin turns it into a clean stop that
    # closes its brokers (a Docker container would otherwise outlive the run).
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    proc.wait()
    # No event tells when the grandchildren are gone: poll the group, bounded.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


# Grading runs in progress: their own sessions do not get the teacher's Ctrl-C,
# so grade_all stops them itself when it is interrupted.
_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()  # set: start no more runs


def _stop_running() -> None:
    with _RUNNING_LOCK:
        _STOPPING.set()
        running = list(_RUNNING)
    for proc in running:
        _kill_tree(proc)


def _run_grade(workdir: Path, out_dir: Path, settings: Settings) -> str | None:
    """`kata grade` in the workspace; None when it finished, else why not."""
    argv = [
        sys.executable,
        "-m",
        "kata.cli",
        "grade",
        "--out",
        str(out_dir),
        "--hang-after",
        f"{settings.hang_after:g}",
    ]
    kwargs: dict = {}
    if os.name == "nt":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True  # one process group to kill on a timeout
    log_path = out_dir / "grade.log"
    with log_path.open("w", encoding="utf-8") as log:
        # Started under the lock, so that an interrupted batch sees every run.
        with _RUNNING_LOCK:
            if _STOPPING.is_set():
                return "not graded: the batch was interrupted"
            proc = subprocess.Popen(
                argv,
                cwd=workdir,
                env=_child_env(settings),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                **kwargs,
            )
            _RUNNING.add(proc)
        try:
            code = proc.wait(timeout=settings.timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            return f"timed out after {settings.timeout:g} s (the whole grading run)"
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(proc)
    if _STOPPING.is_set():
        return "not graded: the batch was interrupted"
    if code != 0 or not (out_dir / "results.json").is_file():
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip()
        last = tail.splitlines()[-1] if tail else f"exit code {code}"
        return f"grading failed: {last[:200]}"
    return None


# Categories (kata/core/plugin.py) that say the submission itself is broken, not unfinished.
BROKEN_CATEGORIES = ("broken", "hang", "broker died")


def _problems(results: Results, skip: set[str]) -> list[str]:
    """Per exercise (but those in `skip`), the first reason it could not be tested properly."""
    lines: list[str] = []
    for score in results.exercises:
        if score.id in skip:
            continue
        if score.first_failure.startswith("crashed:"):
            lines.append(f"{score.id}: {score.first_failure}")
            continue
        for test in results.tests:
            if test.exercise == score.id and test.category in BROKEN_CATEGORIES:
                lines.append(f"{score.id}: {test.message.splitlines()[0]}")
                break
    return lines


def grade_submission(learner: str, folder: Path, settings: Settings) -> Row:
    """Grade one learner's folder; never raises for anything the learner did."""
    out_dir = settings.out / learner
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    root = submission_root(folder)
    if root is None:
        return Row(learner, ERROR, ["no exercises/ folder in this submission"])
    flags = tamper_report(settings.grader, root)
    workdir = Path(tempfile.mkdtemp(prefix="kata-grade-"))
    try:
        missing = build_workspace(settings.grader, root, settings.catalog, workdir)
        flags += missing[:MAX_FLAGS]
        if len(missing) > MAX_FLAGS:
            flags.append(f"missing: {len(missing) - MAX_FLAGS} more exercise files")
        failure = _run_grade(workdir, out_dir, settings)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if failure is not None:
        return Row(learner, ERROR, [*flags, failure])
    results = load_results(out_dir / "results.json")
    # A missing file is already flagged; its "is missing" failures say nothing more.
    absent = {
        ex.id
        for ex in settings.catalog.exercises()
        if not (root / ex.relpath("exercises")).is_file()
    }
    flags += _problems(results, skip=absent)
    tampered = any(f.startswith("tampered:") for f in flags)
    status = TAMPERED if tampered else (BROKEN if flags else OK)
    return Row(
        learner,
        status,
        flags,
        total=results.earned,
        exercises={e.id: e.earned for e in results.exercises},
        done={e.id: e.status == DONE for e in results.exercises},
        first_failures={e.id: e.first_failure for e in results.exercises if e.first_failure},
        graded=True,
    )


# --- the class --------------------------------------------------------------


def grade_all(
    submissions: Path,
    settings: Settings,
    jobs: int = 1,
    on_row: Callable[[Row, float], None] | None = None,
) -> list[Row]:
    """Grade every submission (`jobs` at a time); rows sorted by learner name."""
    settings.out.mkdir(parents=True, exist_ok=True)
    found = find_submissions(submissions, skip=settings.out)
    _STOPPING.clear()

    def one(item: tuple[str, Path]) -> Row:
        started = time.monotonic()
        try:
            row = grade_submission(item[0], item[1], settings)
        except Exception as exc:  # the batch goes on whatever one folder holds
            row = Row(item[0], ERROR, [f"grading failed: {type(exc).__name__}: {exc}"])
        if on_row is not None:
            on_row(row, time.monotonic() - started)
        return row

    # Threads suffice: each one waits on its own grading subprocess.
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        rows = list(pool.map(one, found))
    except BaseException:  # Ctrl-C, SIGTERM: no grading run may outlive the batch
        pool.shutdown(wait=False, cancel_futures=True)
        _stop_running()
        raise
    finally:
        pool.shutdown(wait=True)
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
        f"{summary}; {counts[TAMPERED]} tampered, {counts[BROKEN]} with broken or missing "
        f"files, {counts[ERROR]} could not be graded.",
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
        help="where each run's broker comes from (default: KATA_BROKER, else auto)",
    )
    parser.add_argument(
        "--grader",
        default=str(ROOT),
        help="the pristine kata to grade with (default: this kata, %(default)s)",
    )


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
    settings = Settings(grader, catalog, out, args.timeout, args.hang_after, args.broker)
    count = len(find_submissions(submissions, skip=out))
    if not count:
        print(f"kata grade-all: no submission folders in {submissions}", file=sys.stderr)
        return 2
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

    brokers.stop_cleanly_on_sigterm()
    started = time.monotonic()
    try:
        rows = grade_all(submissions, settings, jobs=args.jobs, on_row=report)
    except KeyboardInterrupt:
        print("kata grade-all: interrupted; the runs in progress were stopped", file=sys.stderr)
        return 130
    elapsed = time.monotonic() - started
    rate = len(rows) / elapsed * 60 if elapsed > 0 else 0.0
    print(
        f"\ngraded {len(rows)} submissions in {elapsed:.0f} s ({rate:.1f} per minute, "
        f"--jobs {args.jobs})\nwritten: {out / 'class.csv'}, {out / 'class.md'}"
    )
    return 0
