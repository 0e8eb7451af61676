"""`kata grade-all` on a synthetic class, and the GitHub Classroom files.

The grader is a copy of the kata shrunk to chapter 3 (as the sandbox
fixture's only_chapters does), so that grading a learner takes seconds. The
class is graded once per module, three at a time; a part of it again, one at
a time through the command line.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shipped import copy_kata

from kata import cli
from kata.core import brokers
from kata.core.catalog import CATALOG_RELPATH, ROOT, load, parse
from kata.teacher import classroom

CHAPTER = "ch03_clients"
PUB = f"exercises/{CHAPTER}/publisher.py"
SUB = f"exercises/{CHAPTER}/subscriber.py"
PUB_TEST = f"tests/{CHAPTER}/test_publisher.py"
# Seconds per test before it hangs: above the slowest solution test (a broker
# restart waits on paho's 1 s reconnect), and paid once by the broken learner.
HANG_AFTER = 3.0


@pytest.fixture(scope="module")
def grader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if brokers.find_mosquitto() is None:
        pytest.skip("grading runs need the mosquitto program")
    return copy_kata(tmp_path_factory.mktemp("grader"), (CHAPTER,))


def _learner(grader: Path, folder: Path) -> Path:
    """A learner's checkout: the whole kata as handed out."""
    shutil.copytree(grader, folder)
    return folder


def _solve(learner: Path, rel: str) -> None:
    """The learner's own answer: the reference's code, plus a line of their own.

    (The reference answer handed in as it is gets flagged: test_hostile_grading.py.)
    """
    answer = (learner / rel.replace("exercises/", "solutions/", 1)).read_text(encoding="utf-8")
    (learner / rel).write_text(answer + f'\n\nAUTHOR = "{learner.name}"\n', encoding="utf-8")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def klass(grader: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All solutions, mixed, broken, deleted files, tampered, and no kata at all.

    (No learner with stubs only: carol's stub and pristine tree show the same.)
    """
    root = tmp_path_factory.mktemp("class")
    alice = _learner(grader, root / "alice_solved")
    _solve(alice, PUB)
    _solve(alice, SUB)
    # A Windows checkout (CRLF line ends) is not tampering.
    test_file = alice / PUB_TEST
    test_file.write_bytes(test_file.read_bytes().replace(b"\n", b"\r\n"))

    # GitHub Classroom downloads put the repository one level down.
    carol = _learner(grader, root / "carol_mixed" / "mqtt-kata-carol")
    _solve(carol, PUB)

    dave = _learner(grader, root / "dave_broken")
    _solve(dave, PUB)
    # An endless wait on the path that only one test takes (no broker listening);
    # asleep, it burns no CPU while the hang limit runs out (twice: jobs 3, then 1).
    _edit(dave / PUB, "        return 1\n", "        while True:\n            time.sleep(1)\n")
    (dave / SUB).write_text("def collect_messages(:\n", encoding="utf-8")

    erin = _learner(grader, root / "erin_deleted")
    _solve(erin, SUB)
    (erin / PUB).unlink()
    (erin / "exercises" / CHAPTER / "__init__.py").unlink()

    frank = _learner(grader, root / "frank_tampered")
    # A reference answer passed off as his own: solutions/ is not in the grading copy.
    (frank / PUB).write_text(
        "from solutions.ch03_clients.publisher import *  # noqa: F403\n", encoding="utf-8"
    )
    # Every test of the publisher made to pass, whatever the code does.
    (frank / PUB_TEST).write_text(
        "def test_make_client_uses_the_version2_callback_api():\n    assert True\n",
        encoding="utf-8",
    )

    (root / "gina_empty").mkdir()
    (root / "gina_empty" / "notes.txt").write_text("I lost my copy", encoding="utf-8")
    return root


def _settings(grader: Path, out: Path, timeout: float = 120) -> classroom.Settings:
    catalog = parse((grader / CATALOG_RELPATH).read_text(encoding="utf-8"))
    # auto: a box where one works; --trusted lets the class run unboxed where none does.
    return classroom.Settings(
        grader, catalog, out, timeout=timeout, hang_after=HANG_AFTER, broker="local", trusted=True
    )


@pytest.fixture(scope="module")
def batch(grader: Path, tmp_path_factory: pytest.TempPathFactory) -> classroom.Batch:
    """The box and one check of the grading environment, for this module's gradings."""
    return classroom.prepare(_settings(grader, tmp_path_factory.mktemp("check")))


@pytest.fixture(scope="module")
def graded_rows(
    grader: Path, klass: Path, batch: classroom.Batch, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[classroom.Row]]:
    """The class, three at a time: (out dir, rows)."""
    out = tmp_path_factory.mktemp("graded")
    rows = classroom.grade_all(klass, _settings(grader, out), jobs=3, batch=batch)
    return out, rows


@pytest.fixture(scope="module")
def graded(graded_rows: tuple[Path, list[classroom.Row]]) -> Path:
    return graded_rows[0]


# Each learner is graded on their own: a part of the class, with a nested
# checkout, a hang and no kata at all, is enough to compare the serial batch
# with the parallel one.
SERIAL_PART = ("carol_mixed", "dave_broken", "gina_empty")


@pytest.fixture(scope="module")
def serial(grader: Path, klass: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A part of the class again, through the command line, one at a time."""
    part = tmp_path_factory.mktemp("part")
    for learner in SERIAL_PART:
        shutil.copytree(klass / learner, part / learner)
    out = tmp_path_factory.mktemp("serial")
    argv = [str(part), "--out", str(out), "--jobs", "1", "--grader", str(grader)]
    argv += ["--hang-after", str(HANG_AFTER), "--broker", "local", "--trusted"]
    assert cli.main(["grade-all", *argv]) == 0
    return out


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "class.csv").open(encoding="utf-8", newline="") as handle:
        return {row["learner"]: row for row in csv.DictReader(handle)}


def test_serial_and_parallel_runs_write_the_same_class_files(
    grader, graded_rows, serial, tmp_path
) -> None:
    # The class files of the parallel batch, had it graded only these learners.
    catalog = parse((grader / CATALOG_RELPATH).read_text(encoding="utf-8"))
    rows = [row for row in graded_rows[1] if row.learner in SERIAL_PART]
    assert [row.learner for row in rows] == sorted(SERIAL_PART)
    classroom.write_class_csv(rows, catalog, tmp_path / "class.csv")
    (tmp_path / "class.md").write_text(classroom.class_markdown(rows, catalog), encoding="utf-8")
    for name in ("class.csv", "class.md"):
        assert (serial / name).read_text(encoding="utf-8") == (tmp_path / name).read_text(
            encoding="utf-8"
        ), f"{name} differs between --jobs 1 and --jobs 3"


def test_the_csv_has_one_row_per_learner_with_chapter_and_exercise_columns(graded) -> None:
    with (graded / "class.csv").open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert header == [
        "learner",
        "total",
        CHAPTER,
        f"{CHAPTER}.publisher",
        f"{CHAPTER}.subscriber",
        "status",
        "flags",
    ]
    rows = _rows(graded)
    assert list(rows) == sorted(rows), "rows are sorted by learner"
    totals = {name: (row["total"], row["status"]) for name, row in rows.items()}
    assert totals == {
        "alice_solved": ("25", "ok"),
        "carol_mixed": ("10", "ok"),
        "dave_broken": ("0", "broken"),
        "erin_deleted": ("15", "broken"),
        "frank_tampered": ("0", "tampered"),
        "gina_empty": ("0", "error"),
    }
    assert rows["carol_mixed"][f"{CHAPTER}.publisher"] == "10"
    assert rows["carol_mixed"][CHAPTER] == "10"
    assert rows["alice_solved"]["flags"] == "", "CRLF line ends are not tampering"
    assert rows["gina_empty"][CHAPTER] == "", "an ungraded row has empty cells, not zeros"


def test_a_tampered_test_is_flagged_and_the_pristine_one_grades(graded) -> None:
    frank = _rows(graded)["frank_tampered"]
    assert frank["flags"] == (
        f"tampered: {PUB_TEST} changed; "
        f"{CHAPTER}.publisher: imports the reference answers (solutions/)"
    )
    assert frank[f"{CHAPTER}.publisher"] == "0", "graded with the grader's tests, not his"
    results = json.loads((graded / "frank_tampered" / "results.json").read_text("utf-8"))
    assert len([t for t in results["tests"] if t["exercise"] == f"{CHAPTER}.publisher"]) > 1


def test_broken_submissions_get_their_reason_and_the_batch_goes_on(graded) -> None:
    rows = _rows(graded)
    dave = rows["dave_broken"]["flags"]
    assert f"{CHAPTER}.subscriber: syntax error in {SUB}:1" in dave
    assert f"{CHAPTER}.publisher: hang: {PUB}: main did not return within 3 s" in dave
    erin = rows["erin_deleted"]["flags"]
    assert erin == f"missing: {PUB}", "the grader's __init__.py stands in for a deleted one"
    assert rows["gina_empty"]["flags"] == "no exercises/ folder in this submission"
    for learner in ("alice_solved", "dave_broken", "frank_tampered"):
        for name in ("results.json", "report.md", "junit.xml"):
            assert (graded / learner / name).is_file(), f"{learner}/{name}"


def test_the_markdown_shows_the_table_and_the_pass_rate_per_exercise(graded) -> None:
    text = (graded / "class.md").read_text(encoding="utf-8")
    assert "6 submissions, 5 graded; median 10 / 25 points" in text
    assert "| alice_solved | 25 | 25 | ok |  |" in text
    # publisher: alice, carol done of 5 graded; subscriber: alice, erin.
    assert f"| {CHAPTER}.publisher | 10 | 2 / 5 | 40% | " in text
    # carol and frank left the subscriber a stub (dave broke it): the most common reason.
    assert (
        f"| {CHAPTER}.subscriber | 15 | 2 / 5 | 40% | not done yet: {SUB}: collect_messages |"
        in text
    )
    assert "Hardest for this class:" in text


def test_a_run_past_the_time_limit_is_stopped_and_reported(grader, klass, batch, tmp_path) -> None:
    row = classroom.grade_submission(
        "carol_mixed", klass / "carol_mixed", _settings(grader, tmp_path, timeout=0.5), batch
    )
    assert row.status == "error" and not row.graded
    assert row.flags == ["time limit 0.5 s"]


def _descendants(root: int) -> dict[int, tuple[str, str]]:
    """pid -> (start time, command line) of every process under `root` (Linux /proc).

    Each thread's list of the children it started: a look at a few files, not
    at every process of the machine, so that polling costs next to nothing.
    """
    found: dict[int, tuple[str, str]] = {}
    todo = [root]
    while todo:
        for children in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            try:
                pids = [int(pid) for pid in children.read_text().split()]
            except OSError:  # the process or thread ended while we looked
                continue
            for child in pids:
                try:
                    stat = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                    argv = Path(f"/proc/{child}/cmdline").read_bytes()
                except OSError:
                    continue
                found[child] = (stat[19], argv.replace(b"\0", b" ").decode())
                todo.append(child)
    return found


def _still_running(processes: dict[int, tuple[str, str]]) -> list[str]:
    """The command lines of those processes that still run (not the pid's next owner)."""
    alive = []
    for pid, (start, argv) in processes.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[19] == start and fields[0] != "Z":
            alive.append(argv)
    return alive


@pytest.mark.skipif(
    not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
    reason="reads Linux's /proc (with the children of each thread)",
)
def test_stopping_the_batch_stops_the_runs_in_progress(grader, klass, tmp_path) -> None:
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "kata.cli", "grade-all", str(klass), "--out", str(out)]
    argv += ["--jobs", "2", "--grader", str(grader), "--broker", "local", "--trusted"]
    batch = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # No event says that a run's pytest has started: poll the processes, bounded.
        deadline = time.monotonic() + 60
        seen: dict[int, tuple[str, str]] = {}

        def grading() -> bool:
            seen.update(_descendants(batch.pid))
            # Only a grading run's pytest gets the grader's check test (--canary).
            return any("--kata-json" in a and "grader_check_" in a for _, a in seen.values())

        while not grading() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert grading(), "no grading run started"
        batch.send_signal(signal.SIGTERM)
        _, err = batch.communicate(timeout=30)
    finally:
        batch.kill()
    assert batch.returncode == 130
    assert "interrupted" in err.decode()
    assert _still_running(seen) == [], "a grading run outlived the batch"
    # Stopped, not left to finish: no run got as far as its report (kata grade's last line).
    logs = [log.read_text("utf-8", errors="replace") for log in out.glob("*/grade.log")]
    assert logs and not any("report.md" in log for log in logs), "a run went on after the stop"


def test_tampering_lists_changed_added_and_deleted_files(tmp_path) -> None:
    grader, learner = tmp_path / "grader", tmp_path / "learner"
    for root in (grader, learner):
        (root / "tests" / "ch01").mkdir(parents=True)
        (root / "kata" / "core").mkdir(parents=True)
        (root / "kata" / "core" / "plugin.py").write_text("x = 1\n", encoding="utf-8")
        (root / "tests" / "ch01" / "test_a.py").write_text("def test(): ...\n", encoding="utf-8")
        (root / "conftest.py").write_text("pytest_plugins = []\n", encoding="utf-8")
    (learner / "kata" / "core" / "plugin.py").write_text("x = 2\n", encoding="utf-8")
    (learner / "tests" / "ch01" / "test_b.py").write_text("", encoding="utf-8")
    (learner / "conftest.py").unlink()
    # Generated files are not part of the kata; the harness's own tests grade no one.
    (learner / "tests" / "harness").mkdir()
    (learner / "tests" / "harness" / "test_new.py").write_text("", encoding="utf-8")
    (learner / "tests" / "ch01" / "__pycache__").mkdir()
    (learner / "tests" / "ch01" / "__pycache__" / "test_a.cpython-311.pyc").write_bytes(b"\0")
    assert classroom.tamper_report(grader, learner) == [
        "tampered: kata/core/plugin.py changed",
        "tampered: tests/ch01/test_b.py added",
        "tampered: conftest.py deleted",
    ]


def test_grade_all_refuses_a_missing_folder(tmp_path, capsys) -> None:
    assert cli.main(["grade-all", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert cli.main(["grade-all", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "no submission folders" in capsys.readouterr().err


# --- GitHub Classroom -------------------------------------------------------


def test_autograding_json_grades_every_exercise_once_with_the_catalog_points() -> None:
    catalog = load()
    config = json.loads((ROOT / classroom.AUTOGRADING_JSON).read_text(encoding="utf-8"))
    tests = config["tests"]
    assert [t["name"] for t in tests] == [
        f"{ex.chapter}: {ex.module}" for ex in catalog.exercises()
    ]
    for chapter in catalog.chapters:
        mine = [t for t in tests if t["name"].startswith(f"{chapter.id}: ")]
        assert sum(t["points"] for t in mine) == sum(ex.points for ex in chapter.exercises), (
            f"{chapter.id}: the points differ from kata/core/catalog.toml"
        )
    for test, ex in zip(tests, catalog.exercises(), strict=True):
        assert test["run"].startswith(f"python -m pytest {ex.tests} --target exercises")
        assert "kata_hang_after=10" in test["run"], "the same per-test limit as kata grade"
        assert set(test) >= {"setup", "run", "timeout", "points", "comparison"}
    assert "apt-get install" in tests[0]["setup"] and "pip install" in tests[0]["setup"]
    assert sum(t["points"] for t in tests) == sum(ex.points for ex in catalog.exercises())


def test_classroom_workflow_reports_every_exercise_with_the_catalog_points() -> None:
    yaml = pytest.importorskip("yaml")
    catalog = load()
    workflow = yaml.safe_load((ROOT / classroom.CLASSROOM_WORKFLOW).read_text(encoding="utf-8"))
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    graders = [s for s in steps if "autograding-command-grader" in s.get("uses", "")]
    assert [(s["with"]["command"].split()[3], s["with"]["max-score"]) for s in graders] == [
        (ex.tests, ex.points) for ex in catalog.exercises()
    ]
    reporter = next(s for s in steps if "autograding-grading-reporter" in s.get("uses", ""))
    ids = [s["id"] for s in graders]
    assert reporter["with"]["runners"].split(",") == ids
    assert set(reporter["env"]) == {f"{i.upper()}_RESULTS" for i in ids}
    install = next(s for s in steps if "mosquitto" in s.get("run", ""))
    assert steps.index(install) < steps.index(graders[0]), "mosquitto is installed first"


def test_github_files_are_generated_from_the_current_catalog() -> None:
    catalog = load()
    expected = json.dumps(classroom.autograding_config(catalog), indent=2) + "\n"
    fix = "regenerate them: kata classroom"
    assert (ROOT / classroom.AUTOGRADING_JSON).read_text(encoding="utf-8") == expected, fix
    workflow = (ROOT / classroom.CLASSROOM_WORKFLOW).read_text(encoding="utf-8")
    assert workflow == classroom.classroom_workflow(catalog), fix
