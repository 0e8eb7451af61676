"""`kata grade-all` against hostile submissions: none may score, each is flagged, failed or refused.

Each learner below is the kata as handed out plus a few lines of hostile code
in an exercise (run when the tests first import it). The grader is a copy of
the kata shrunk to two small exercises of chapter 4, so that a run takes
seconds. The class is graded once, two at a time, in a box (bubblewrap) where
it works; the cases that only a box can stop are skipped without one. Acts
that do not hide one another share a learner (a run costs ~1 s of CPU).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import sys
import textwrap
from pathlib import Path

import pytest
from shipped import copy_kata

from kata import cli
from kata.core import brokers
from kata.core.catalog import CATALOG_RELPATH, ROOT, parse
from kata.teacher import box as boxes
from kata.teacher import checks, classroom

CHAPTER = "ch04_delivery"
KEEP = ("retain", "will")  # the first exercise is imported first
FIRST, SECOND = (f"{CHAPTER}.{m}" for m in KEEP)
FIRST_FILE, SECOND_FILE = (f"exercises/{CHAPTER}/{m}.py" for m in KEEP)
POINTS = {FIRST: 10, SECOND: 10}
HANG_AFTER = 5.0
SECRET = "kata-teacher-secret-41"
MARKER = "kata-hostile-daemon-7c1"
FORGED = "FORGED-BY-A-LEARNER"


def _bwrap_reason() -> str | None:
    """None when a bubblewrap box works here, else why not."""
    try:
        boxes.choose("bwrap", trusted=False)
    except boxes.IsolationUnavailable as exc:
        return str(exc)
    return None


BWRAP_MISSING = _bwrap_reason()
LINUX = sys.platform.startswith("linux")
# The limits are rlimits that Linux enforces (macOS ignores the address space one).
linux_limits = pytest.mark.skipif(not LINUX, reason="the limits are Linux rlimits")
needs_box = pytest.mark.skipif(
    BWRAP_MISSING is not None,
    reason=f"only a box stops this, and none works here: {BWRAP_MISSING} "
    "(CI: apt-get install bubblewrap)",
)


def _make_grader(root: Path) -> Path:
    return copy_kata(root, (CHAPTER,), KEEP)


@pytest.fixture(scope="module")
def grader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if brokers.find_mosquitto() is None:
        pytest.skip("grading runs need the mosquitto program")
    return _make_grader(tmp_path_factory.mktemp("grader"))


def _learner(grader: Path, folder: Path, hostile: str = "", rel: str = FIRST_FILE) -> Path:
    """A learner's checkout with `hostile` code at the end of one exercise."""
    shutil.copytree(grader, folder, ignore=shutil.ignore_patterns("solutions"))
    if hostile:
        _append(folder, rel, hostile)
    return folder


def _append(folder: Path, rel: str, code: str) -> None:
    path = folder / rel
    text = path.read_text(encoding="utf-8") + "\n\n" + textwrap.dedent(code)
    path.write_text(text, encoding="utf-8")


def _own_answer(grader: Path, folder: Path, rel: str) -> None:
    """The reference's code with a line of the learner's own: an honest answer."""
    answer = (grader / rel.replace("exercises/", "solutions/", 1)).read_text(encoding="utf-8")
    (folder / rel).write_text(answer + '\n\nAUTHOR = "me"\n', encoding="utf-8")


def _settings(grader: Path, out: Path, **kwargs: object) -> classroom.Settings:
    catalog = parse((grader / CATALOG_RELPATH).read_text(encoding="utf-8"))
    kwargs.setdefault("timeout", 120)
    kwargs.setdefault("hang_after", HANG_AFTER)
    kwargs.setdefault("broker", "local")
    return classroom.Settings(grader, catalog, out, **kwargs)  # type: ignore[arg-type]


# --- the class ------------------------------------------------------------------

PATCH_PYTEST = """
import _pytest.python
_pytest.python.Function.runtest = lambda self: None
"""

FORGE_RESULTS = """
import json as _json, os as _os, sys as _sys
_path = _sys.argv[_sys.argv.index("--kata-json") + 1]
_scores = [
    {"id": i, "chapter": "ch04_delivery", "module": i.split(".")[1], "points": 10,
     "earned": 10, "passed": 9, "total": 9, "status": "done"}
    for i in ("ch04_delivery.retain", "ch04_delivery.will")
]
with open(_path, "w", encoding="utf-8") as _f:
    _json.dump({"version": 1, "target": "exercises", "broker": "local", "status": "pass",
                "tests": [], "exercises": _scores}, _f)
_os._exit(0)
"""

# Every test passed, in the results.json the run wrote, rewritten as the process exits.
REWRITES_AT_EXIT = """
import atexit as _atexit, json as _json, sys as _sys
def _rewrite():
    _path = _sys.argv[_sys.argv.index("--kata-json") + 1]
    with open(_path, encoding="utf-8") as _f:
        _data = _json.load(_f)
    for _test in _data["tests"]:
        if "grader_check" not in _test["nodeid"]:
            _test.update(status="pass", category="", message="", details="")
    _data["integrity"] = []
    with open(_path, "w", encoding="utf-8") as _f:
        _json.dump(_data, _f)
_atexit.register(_rewrite)
"""

# A results.json with exactly the run's tests (the grader's check failing), then an exit
# that the kata's guard on os._exit does not see, with pytest's exit code for "all passed".
FORGES_AND_EXITS_ZERO = """
import ctypes as _ctypes, json as _json, sys as _sys, _pytest.python as _pp
from kata.core import plugin as _plugin
_frame, _items = _sys._getframe(), []
while _frame is not None and not _items:
    for _value in list(_frame.f_locals.values()):
        if isinstance(_value, _pp.Function):
            _items = _value.session.items
    _frame = _frame.f_back
def _row(item):
    ex = _plugin._exercise_of(item)
    return {"nodeid": item.nodeid, "name": item.name, "exercise": ex and ex.id,
            "chapter": ex and ex.chapter, "status": "pass" if ex else "fail"}
_path = _sys.argv[_sys.argv.index("--kata-json") + 1]
with open(_path, "w", encoding="utf-8") as _f:
    _json.dump({"version": 1, "target": "exercises", "broker": "local", "status": "fail",
                "tests": [_row(item) for item in _items], "exercises": []}, _f)
_ctypes.CDLL(None)._exit(0)
"""

IMPORTS_SOLUTIONS = """
from solutions.ch04_delivery.retain import *  # noqa: F403
"""

# The grader's editable install names its folder, where solutions/ is: no literal "solutions".
SNEAKY_IMPORT = f"""
import importlib as _il, importlib.metadata as _md, json as _json, sys as _sys
_sys.path.insert(0, {str(ROOT)!r})
try:
    _url = _json.loads(_md.distribution("mqtt-kata").read_text("direct_url.json"))["url"]
    _sys.path.insert(0, _url.removeprefix("file://"))
except Exception:
    pass
_ref = _il.import_module("solu" + "tions.ch04_delivery.will")
globals().update({{k: getattr(_ref, k) for k in dir(_ref) if not k.startswith("__")}})
"""

SKIPS_TESTS = """
import pytest as _pytest
def set_retained(*args, **kwargs):
    _pytest.skip("not today")
def read_retained(*args, **kwargs):
    _pytest.xfail("later")
"""

MEMORY_HOG = """
_hog = b"x" * (3 << 30)
"""

BIG_FILE = """
import os as _os, tempfile as _tempfile
with open(_os.path.join(_tempfile.gettempdir(), "kata-big-file"), "wb") as _f:
    _f.write(b"x" * (40 << 20))
"""

# kata grade's own output is the box's: flood it past the output limit.
FLOOD_OUTPUT = """
import os as _os
_fd = _os.open(f"/proc/{_os.getppid()}/fd/1", _os.O_WRONLY)
for _ in range(64):
    _os.write(_fd, b"x" * (1 << 20))
"""


def _writes_grader(grader: Path, out: Path) -> str:
    targets = [
        str(grader / "tests" / CHAPTER / f"test_{KEEP[1]}.py"),
        str(out / "class.csv"),
    ]
    return f"""
import pathlib as _pl
# The grader's pristine test file, the grading copy's, and the class results.
_copy = _pl.Path(__file__).resolve().parents[2]
_targets = {targets!r} + [str(_copy / "tests/{CHAPTER}/test_{KEEP[1]}.py")]
for _target in _targets:
    try:
        with open(_target, "a", encoding="utf-8") as _f:
            _f.write("\\ndef test_injected():\\n    pass\\n")
    except OSError:
        pass
"""


def _daemon(out: Path) -> str:
    loop = (
        "import pathlib, time\n"
        "while True:\n"
        "    try:\n"
        f"        pathlib.Path({str(out / 'class.csv')!r}).write_text({FORGED!r})\n"
        "    except OSError:\n"
        "        pass\n"
        "    time.sleep(0.05)\n"
    )
    # Its own session, never waited for. (A fork would not do: the kata ends a
    # fork's copy of the test run at once.)
    return f"""
import subprocess as _sp, sys as _sys
_daemon = _sp.Popen(
    [_sys.executable, "-c", {loop!r}, {MARKER!r}],
    start_new_session=True, stdin=_sp.DEVNULL, stdout=_sp.DEVNULL, stderr=_sp.DEVNULL,
)
"""


def _snoop(grader: Path, peer: Path, secret_file: Path, port: int) -> str:
    return f"""
import os as _os, socket as _socket
def _reach(port):
    try:
        _socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return 1
    except OSError:
        return 0
_seen = dict(
    env=int({SECRET!r} in repr(dict(_os.environ))),
    grader=int(_os.path.exists({str(grader)!r})),
    solutions=int(_os.path.exists({str(ROOT / "solutions")!r})),
    peer=int(_os.path.exists({str(peer)!r})),
    secret=int(_os.path.exists({str(secret_file)!r})),
    net=_reach({port}),
)
raise RuntimeError("SNOOP " + " ".join(f"{{k}}={{v}}" for k, v in _seen.items()))
"""


@pytest.fixture(scope="module")
def isolation() -> str:
    return "bwrap" if BWRAP_MISSING is None else "none"


@pytest.fixture(scope="module")
def batch(grader: Path, isolation: str, tmp_path_factory: pytest.TempPathFactory):
    """The box and one check of the grading environment, for this module's gradings."""
    out = tmp_path_factory.mktemp("check")
    return classroom.prepare(_settings(grader, out, isolation=isolation, trusted=True))


@pytest.fixture(scope="module")
def graded(grader: Path, isolation: str, batch, tmp_path_factory: pytest.TempPathFactory):
    """The class, graded once: (out dir, rows by learner)."""
    root = tmp_path_factory.mktemp("class")
    out = tmp_path_factory.mktemp("out")
    honest = _learner(grader, root / "honest")
    _own_answer(grader, honest, FIRST_FILE)
    _own_answer(grader, honest, SECOND_FILE)
    # One exercise imported from the reference answers, the other pasted from them.
    copied = _learner(grader, root / "copied")
    _append(copied, FIRST_FILE, IMPORTS_SOLUTIONS)
    reference = (grader / SECOND_FILE.replace("exercises/", "solutions/", 1)).read_text("utf-8")
    # Another docstring and a comment: still the reference answer.
    (copied / SECOND_FILE).write_text(
        "# my own work\n" + reference.replace('"""', '"""Written by me. ', 1), encoding="utf-8"
    )
    _learner(grader, root / "patched_pytest", PATCH_PYTEST)
    _learner(grader, root / "forged_results", FORGE_RESULTS)
    _learner(grader, root / "rewrites_at_exit", REWRITES_AT_EXIT)
    if LINUX:  # ctypes.CDLL(None): the C library of the running process
        _learner(grader, root / "exits_zero", FORGES_AND_EXITS_ZERO)
        # An honest learner whose first exercise crashes the interpreter: graded one
        # exercise at a time, the second keeps its points, and nothing is called tampering.
        crashes = _learner(grader, root / "crashes", "import ctypes\nctypes.string_at(0)")
        _own_answer(grader, crashes, SECOND_FILE)
    _learner(grader, root / "skips_tests", SKIPS_TESTS)
    if LINUX:
        _learner(grader, root / "memory_hog", MEMORY_HOG)
        _learner(grader, root / "big_file", BIG_FILE)
        _learner(grader, root / "floods_output", FLOOD_OUTPUT)
    if isolation == "bwrap":
        # What only a box stops: run unboxed, this would reach the teacher's machine.
        # One learner tries it all: in one exercise the writes, then the snoop,
        # whose report ends the import; in the other a daemon, then an import of
        # the grader's reference answer.
        secret_file = tmp_path_factory.mktemp("home") / "grades.txt"
        secret_file.write_text("secret", encoding="utf-8")
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        hostile = _writes_grader(grader, out) + _snoop(grader, honest, secret_file, port)
        escapes = _learner(grader, root / "escapes", hostile)
        _append(escapes, SECOND_FILE, _daemon(out) + SNEAKY_IMPORT)
    else:
        listener = None
    before = checks.snapshot(grader, classroom.GRADER_PARTS)
    os.environ["KATA_TEACHER_SECRET"] = SECRET
    try:
        rows = classroom.grade_all(
            root, _settings(grader, out, isolation=isolation, trusted=True), jobs=2, batch=batch
        )
    finally:
        del os.environ["KATA_TEACHER_SECRET"]
        if listener is not None:
            listener.close()
    assert checks.changes(before, grader, classroom.GRADER_PARTS) == []
    return out, {row.learner: row for row in rows}


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _csv(out: Path) -> dict[str, dict[str, str]]:
    with (out / "class.csv").open(encoding="utf-8", newline="") as handle:
        return {row["learner"]: row for row in csv.DictReader(handle)}


def test_the_honest_learner_scores_and_is_not_flagged(graded) -> None:
    out, rows = graded
    honest = rows["honest"]
    assert (honest.status, honest.flags, honest.total) == ("ok", [], sum(POINTS.values()))
    assert _csv(out)["honest"]["status"] == "ok"


def test_patching_pytest_at_import_is_caught_and_scores_nothing(graded) -> None:
    out, rows = graded
    row = rows["patched_pytest"]
    assert row.status == "tampered" and not row.graded and row.total == 0, row
    # The plugin's integrity check names the replaced function (and puts it
    # back); the grader's own must-fail test catches a patch it does not see.
    flags = "; ".join(row.flags)
    assert "tampered at run time: _pytest.python.Function.runtest was replaced" in flags or (
        "tampered at run time: a test that must fail passed" in flags
    ), flags
    assert classroom.WITHHELD in row.flags
    line = _csv(out)["patched_pytest"]
    assert (line["total"], line["status"], line[FIRST]) == ("0", "tampered", "")
    # The learner's results.json says why, and the grader's check is not in it.
    results = json.loads((out / "patched_pytest" / "results.json").read_text("utf-8"))
    assert results["integrity"] and not any("grader_check" in t["nodeid"] for t in results["tests"])


def test_a_forged_results_file_scores_nothing(graded) -> None:
    row = graded[1]["forged_results"]
    assert row.status in ("tampered", "broken") and row.total == 0, row
    # The harness turns the os._exit(0) after the forgery into that
    # exercise's failure and writes the real results over the forged ones;
    # were it not stopped, the grader's own count of the tests would be.
    said = "; ".join(row.flags)
    assert "os._exit(0) was called" in said or "tests missing" in said, row.flags


def test_results_rewritten_as_the_run_exits_score_nothing(graded) -> None:
    # pytest's junit.xml, written by other code, still has the tests' own outcomes.
    row = graded[1]["rewrites_at_exit"]
    assert row.status == "tampered" and row.total == 0, row
    said = "; ".join(row.flags)
    assert "another outcome in junit.xml than in results.json" in said, row.flags


@linux_limits
def test_forged_results_and_an_exit_the_guard_misses_score_nothing(graded) -> None:
    row = graded[1]["exits_zero"]
    assert row.status == "tampered" and row.total == 0, row
    said = "; ".join(row.flags)
    assert "the test run ended with exit code 0, yet a test must fail" in said, row.flags
    assert "the run wrote no junit.xml" in said, row.flags


@linux_limits
def test_a_crash_costs_only_its_exercise_and_is_no_tampering(graded) -> None:
    row = graded[1]["crashes"]
    assert (row.status, row.total) == ("broken", POINTS[SECOND]), row
    assert row.exercises[FIRST] == 0 and row.first_failures[FIRST].startswith("crashed:"), row


def test_skipping_the_tests_from_the_exercise_scores_nothing(graded) -> None:
    row = graded[1]["skips_tests"]
    assert row.status == "tampered" and row.total == 0, row
    assert any("tests skipped by the learner's code" in f for f in row.flags), row.flags


def test_the_reference_answer_handed_in_is_flagged_and_keeps_its_score(graded) -> None:
    row = graded[1]["copied"]
    assert row.status == "review", row
    assert f"same as the reference answer: {SECOND}" in row.flags, row.flags
    assert row.exercises[SECOND] == POINTS[SECOND], "the teacher judges; the score stays"


def test_importing_the_reference_answers_is_named_and_scores_nothing(graded) -> None:
    row = graded[1]["copied"]
    assert row.status == "review" and row.exercises[FIRST] == 0, row
    # Once each: what the grader reads in the file, and what the run said, are one flag.
    assert row.flags == [
        f"{FIRST}: imports the reference answers (solutions/)",
        f"same as the reference answer: {SECOND}",
    ]


@needs_box
def test_reaching_the_graders_solutions_through_its_install_fails_and_is_named(graded) -> None:
    row = graded[1]["escapes"]
    assert row.exercises[SECOND] == 0 and row.status == "review", row
    assert f"{SECOND}: imports the reference answers (solutions/)" in row.flags


@linux_limits
def test_the_memory_limit_is_named(graded) -> None:
    row = graded[1]["memory_hog"]
    assert row.exercises[FIRST] == 0 and row.status != "ok", row
    assert "memory limit 2 GiB" in row.flags


@linux_limits
def test_a_file_past_the_output_limit_is_named(graded) -> None:
    row = graded[1]["big_file"]
    assert row.exercises[FIRST] == 0 and row.status != "ok", row
    assert "output limit 32 MiB" in row.flags


@linux_limits
def test_output_past_the_limit_stops_the_run_and_is_named(graded) -> None:
    out, rows = graded
    row = rows["floods_output"]
    assert (row.status, row.total, row.graded) == ("error", 0, False), row
    assert row.flags == ["output limit 32 MiB"]
    assert (out / "floods_output" / "grade.log").stat().st_size <= 32 << 20


@needs_box
def test_writing_to_the_graders_files_or_the_results_is_refused(graded, grader) -> None:
    out, rows = graded
    # The fixture checked that the grader's files are unchanged; nobody was flagged for it.
    assert "injected" not in (grader / "tests" / CHAPTER / f"test_{KEEP[1]}.py").read_text("utf-8")
    assert rows["honest"].status == "ok"
    assert rows["escapes"].total == 0
    assert "escapes" in _csv(out) and FORGED not in (out / "class.csv").read_text("utf-8")


@needs_box
def test_no_process_of_a_submission_outlives_its_run(graded) -> None:
    out, rows = graded
    running = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if MARKER.encode() in cmdline.read_bytes():
                running.append(cmdline.parent.name)
        except OSError:  # the process ended while we looked
            continue
    assert running == [], "a daemon started by a submission outlived the batch"
    assert FORGED not in (out / "class.csv").read_text("utf-8")
    assert rows["escapes"].total == 0


@needs_box
def test_a_submission_sees_nothing_of_the_teachers_machine(graded) -> None:
    row = graded[1]["escapes"]
    said = next(f for f in row.flags if "SNOOP" in f)
    assert "env=0 grader=0 solutions=0 peer=0 secret=0 net=0" in said, said
    assert row.total == 0


# --- limits, refusals, and a failing environment ------------------------------------


@linux_limits
def test_the_cpu_limit_is_named(grader, isolation, batch, tmp_path) -> None:
    learner = _learner(grader, tmp_path / "class" / "burner", "while True:\n    pass\n")
    settings = _settings(
        grader,
        tmp_path / "out",
        isolation=isolation,
        trusted=True,
        hang_after=60.0,
        limits=boxes.Limits(cpu=1),
    )
    row = classroom.grade_submission("burner", learner, settings, batch)
    assert "CPU limit 1 s" in row.flags, row
    assert row.exercises.get(FIRST, 0) == 0 and row.status != "ok"


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_without_a_box_grading_refuses_to_start_unless_trusted(
    grader, tmp_path, monkeypatch, capsys, lang
) -> None:
    monkeypatch.setenv("KATA_LANG", lang)  # cli.main sets it for the process

    def unavailable(what: str):
        def refuse() -> boxes.Box:
            raise boxes.IsolationUnavailable(f"{what} is not installed")

        return refuse

    monkeypatch.setattr(boxes, "_bwrap_box", unavailable("bubblewrap (bwrap)"))
    monkeypatch.setattr(boxes, "_docker_box", unavailable("docker"))
    _learner(grader, tmp_path / "class" / "someone")
    out = tmp_path / "out"
    argv = ["grade-all", str(tmp_path / "class"), "--out", str(out), "--grader", str(grader)]
    assert cli.main([*argv, "--lang", lang]) == 2
    err = capsys.readouterr().err
    assert "--trusted" in err and "bubblewrap (bwrap) is not installed" in err
    assert "docker is not installed" in err
    assert ("隔離" in err) == (lang == "ja")
    assert cli.main([*argv, "--isolation", "bwrap", "--lang", lang]) == 2
    assert "--isolation bwrap" in capsys.readouterr().err
    assert cli.main([*argv, "--isolation", "none", "--lang", lang]) == 2
    assert "--trusted" in capsys.readouterr().err
    assert not out.exists() or not (out / "class.csv").exists()


@pytest.mark.parametrize(
    ("broker", "env"),
    [
        pytest.param("docker", {}, marks=needs_box, id="docker-from-a-box"),
        pytest.param(None, {"KATA_BROKER": "nonsense"}, id="unknown-broker"),
    ],
)
def test_a_broker_that_cannot_start_stops_the_batch_before_any_score(
    grader, isolation, tmp_path, monkeypatch, capsys, broker, env
) -> None:
    monkeypatch.setenv("KATA_LANG", "en")  # cli.main sets it for the process
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    solved = _learner(grader, tmp_path / "class" / "solved")
    _own_answer(grader, solved, FIRST_FILE)
    out = tmp_path / "out"
    argv = ["grade-all", str(tmp_path / "class"), "--out", str(out), "--grader", str(grader)]
    argv += ["--isolation", isolation, "--trusted", "--lang", "en"]
    if broker:
        argv += ["--broker", broker]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "the grading environment does not work, so no submission was graded" in err
    assert not (out / "class.csv").exists(), "a failing environment is never a score"


def test_unboxed_writes_to_the_graders_files_stop_the_batch(tmp_path, capsys, monkeypatch) -> None:
    """--isolation none --trusted: nothing stops the write, but the grader notices."""
    monkeypatch.setenv("KATA_LANG", "en")
    if brokers.find_mosquitto() is None:
        pytest.skip("grading runs need the mosquitto program")
    grader = _make_grader(tmp_path / "grader")
    out = tmp_path / "out"
    _learner(grader, tmp_path / "class" / "writer", _writes_grader(grader, out))
    argv = ["grade-all", str(tmp_path / "class"), "--out", str(out), "--grader", str(grader)]
    argv += ["--isolation", "none", "--trusted", "--broker", "local", "--lang", "en"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"tests/{CHAPTER}/test_{KEEP[1]}.py changed" in err and "writer" in err
    # Unboxed, the learner's code could write anything; the grader wrote no class files.
    assert "learner,total" not in _read(out / "class.csv")


def test_checks_see_the_reference_answer_through_layout_comments_and_docstrings() -> None:
    reference = 'def f(x):\n    """Doc."""\n    return x + 1\n'
    assert checks.same_code("def f( x ):  # mine\n    return (x + 1)\n", reference)
    assert not checks.same_code("def f(x):\n    return x + 2\n", reference)
    assert not checks.same_code("def f(:\n", reference)


@pytest.mark.parametrize(
    ("location", "kind", "learners"),
    [
        ("/grading/kata/exercises/ch04_delivery/retain.py:59: not today", "pytest.skip", True),
        ("C:\\Users\\t\\kata\\exercises\\ch04\\retain.py:3: a: b", "pytest.skip", True),
        ("tests/ch02_broker/test_compose.py:142: runs with Docker only", "pytest.skip", False),
        ("", "pytest.xfail", True),
    ],
)
def test_skips_from_the_learners_code_are_found_in_the_junit_report(
    tmp_path, location, kind, learners
) -> None:
    from xml.sax.saxutils import escape

    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest" tests="1">'
        '<testcase classname="tests.ch04_delivery.test_retain" name="test_x">'
        f'<skipped type="{kind}" message="m">{escape(location)}</skipped>'
        "</testcase></testsuite></testsuites>",
        encoding="utf-8",
    )
    found = checks.skipped_by_learner(junit)
    assert found == (["tests.ch04_delivery.test_retain.test_x"] if learners else [])


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from solutions.ch03_clients.publisher import *", True),
        ("import solutions", True),
        ("import importlib\nm = importlib.import_module('solutions.ch03_clients.x')", True),
        ("open('../solutions/ch03_clients/x.py').read()", True),
        ('"""See solutions/ when you are stuck."""\nx = 1', False),
        ("my_solutions = []\nimport exercises", False),
    ],
)
def test_imports_of_the_reference_answers_are_found(source: str, expected: bool) -> None:
    assert checks.imports_solutions(source) is expected


def _docker_reason() -> str | None:
    try:
        boxes.choose("docker", trusted=False)
    except boxes.IsolationUnavailable as exc:
        return str(exc)
    return None


@pytest.fixture(scope="module")
def docker_box() -> boxes.Box:
    reason = _docker_reason()
    if reason is not None:
        pytest.skip(f"no Docker box here: {reason}")
    return boxes.choose("docker", trusted=False)


def test_the_docker_box_grades_and_holds_a_submission(
    grader, docker_box, tmp_path_factory, monkeypatch
) -> None:
    """The same box, as containers: an honest score; no daemon, secret or network escapes."""
    root = tmp_path_factory.mktemp("docker-class")
    out = tmp_path_factory.mktemp("docker-out")
    honest = _learner(grader, root / "honest")
    _own_answer(grader, honest, FIRST_FILE)
    _own_answer(grader, honest, SECOND_FILE)
    _learner(grader, root / "daemon", _daemon(out))
    secret_file = tmp_path_factory.mktemp("docker-home") / "grades.txt"
    secret_file.write_text("secret", encoding="utf-8")
    monkeypatch.setenv("KATA_TEACHER_SECRET", SECRET)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        _learner(grader, root / "snoop", _snoop(grader, honest, secret_file, port))
        rows = {
            r.learner: r
            for r in classroom.grade_all(root, _settings(grader, out, isolation="docker"), jobs=2)
        }
    assert (rows["honest"].status, rows["honest"].total) == ("ok", sum(POINTS.values()))
    said = next(f for f in rows["snoop"].flags if "SNOOP" in f)
    assert "env=0 grader=0 solutions=0 peer=0 secret=0 net=0" in said, said
    assert FORGED not in (out / "class.csv").read_text("utf-8")
    running = [p for p in Path("/proc").glob("[0-9]*/cmdline") if _mentions(p, MARKER)]
    assert running == [], "a daemon started in a container outlived the batch"


def _mentions(cmdline: Path, text: str) -> bool:
    try:
        return text.encode() in cmdline.read_bytes()
    except OSError:  # the process ended while we looked
        return False
