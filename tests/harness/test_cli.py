"""The kata command, run as a learner and a grader would, in a sandbox copy."""

from __future__ import annotations

import json

import pytest

from kata.core.catalog import load as load_catalog


@pytest.fixture
def ch03(sandbox):
    """The sandbox with only chapter 3, so whole-kata commands stay fast."""
    sandbox.only_chapters("ch03_clients")
    return sandbox


def test_hint_shows_one_level_at_a_time(sandbox) -> None:
    first = sandbox.kata("hint", "publisher")
    assert first.returncode == 0
    assert "hint 1 of 3" in first.stdout and "kata hint publisher --level 2" in first.stdout
    third = sandbox.kata("hint", "ch03_clients.publisher", "--level", "3")
    assert "hint 3 of 3" in third.stdout and "--level 4" not in third.stdout


def test_hint_for_an_unknown_exercise_names_the_known_ones(sandbox) -> None:
    result = sandbox.kata("hint", "publsher")
    assert result.returncode != 0
    assert "no exercise 'publsher'" in result.stderr and "ch03_clients.publisher" in result.stderr


def test_list_shows_progress_and_reruns_only_what_changed(ch03) -> None:
    first = ch03.kata("list")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "->[todo] publisher" in first.stdout
    cache = json.loads(ch03.read(".kata/progress-exercises.json"))
    assert set(cache) == {"ch03_clients.publisher", "ch03_clients.subscriber"}
    ch03.solve("ch03_clients/publisher.py")
    out = ch03.kata("list").stdout
    assert "[done] publisher" in out, "an edited exercise is run again"
    assert "->[todo] subscriber" in out
    assert "points: 10 / 25" in out
    assert "next: exercises/ch03_clients/subscriber.py" in out


@pytest.fixture(scope="module")
def hint_after_the_publisher(new_sandbox):
    """`kata hint` without a name once the publisher is solved (two tests read it)."""
    sandbox = new_sandbox()
    sandbox.only_chapters("ch03_clients")
    sandbox.solve("ch03_clients/publisher.py")
    return sandbox.kata("hint")


def test_hint_without_a_name_is_for_the_exercise_the_learner_is_at(
    hint_after_the_publisher,
) -> None:
    result = hint_after_the_publisher
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ch03_clients.subscriber - hint 1 of 3" in result.stdout, result.stdout
    assert "kata hint subscriber --level 2" in result.stdout


def test_next_shows_the_reasons_once_and_the_first_hint(ch03) -> None:
    tests = ch03.collected("tests/ch03_clients/test_publisher.py")
    hints = load_catalog().exercise("ch03_clients.publisher").hints
    result = ch03.kata("next")
    out = result.stdout
    assert "next: ch03_clients.publisher" in out
    assert f"0 of {tests} tests pass." in out, out
    assert out.count("not done yet: exercises/ch03_clients/publisher.py: make_client") == 1
    # Fail fast: one test ran, the others are counted, not listed.
    assert f"{tests - 1} more tests not run: they run once this one passes" in out, out
    assert "test_make_client_keeps_the_given_id" not in out
    assert f"hint 1 of {len(hints)}: {hints[0][:40]}" in out
    assert out.index("more tests not run") < out.index("hint 1 of"), "the failure, then the hint"


def test_next_shows_the_first_failure_in_full_and_its_reason_once(ch03) -> None:
    ch03.solve("ch03_clients/publisher.py")
    ch03.edit(
        "exercises/ch03_clients/publisher.py",
        'client_id=client_id or f"kata-pub-{uuid.uuid4().hex[:12]}"',
        'client_id=client_id or "kata-pub"',
    )
    out = ch03.kata("next").stdout
    assert "  x test_make_client_gives_each_client_its_own_id" in out, out
    assert out.count("two make_client() calls gave the same client id") == 1, out
    # pytest's own report of it: where, and what was compared.
    assert "tests/ch03_clients/test_publisher.py:" in out and "E   assert" in out, out
    assert "more tests not run" in out, out


def test_grade_writes_json_junit_and_markdown_and_is_repeatable(ch03, tmp_path) -> None:
    ch03.solve("ch03_clients/publisher.py")
    out_dir = tmp_path / "grade"
    result = ch03.kata("grade", "--out", str(out_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    assert data["score"] == {"earned": 10, "possible": 25}
    by_exercise = {e["id"]: e for e in data["exercises"]}
    assert by_exercise["ch03_clients.publisher"]["status"] == "done"
    assert by_exercise["ch03_clients.subscriber"]["status"] == "todo"
    statuses = {t["status"] for t in data["tests"] if t["exercise"] == "ch03_clients.subscriber"}
    assert statuses == {"fail"}
    assert (out_dir / "junit.xml").read_text(encoding="utf-8").startswith("<?xml")
    report = (out_dir / "report.md").read_text(encoding="utf-8")
    assert "**Score: 10 / 25 points**" in report
    assert "| ch03_clients.subscriber | todo | 0 / 13 | 0 / 15 |" in report

    ch03.kata("grade", "--out", str(tmp_path / "again"))
    again = json.loads((tmp_path / "again" / "results.json").read_text(encoding="utf-8"))
    assert [(e["id"], e["earned"], e["passed"]) for e in again["exercises"]] == [
        (e["id"], e["earned"], e["passed"]) for e in data["exercises"]
    ], "the same tree gets the same score"


def test_lesson_shows_the_current_exercise_in_the_learners_language(ch03) -> None:
    english = ch03.kata("lesson")
    assert english.returncode == 0, english.stderr
    title = ch03.read("exercises/ch03_clients/publisher.md").splitlines()[0]
    assert english.stdout.splitlines()[0] == title, "no name: the exercise the learner is at"
    japanese = ch03.kata("--lang", "ja", "lesson", "subscriber")
    assert (
        japanese.stdout.splitlines()[0]
        == (ch03.read("exercises/ch03_clients/subscriber.ja.md").splitlines()[0])
    )


def test_hint_without_a_name_is_for_the_current_exercise(hint_after_the_publisher) -> None:
    result = hint_after_the_publisher
    assert result.returncode == 0, result.stderr
    assert "ch03_clients.subscriber" in result.stdout.splitlines()[0]


def test_list_walks_the_core_path_first_with_time_estimates(sandbox) -> None:
    # A core and a deep exercise (packets, deep too, would add only its many tests).
    sandbox.only_chapters("ch01_basics", modules=("first_message", "topics"))
    out = sandbox.kata("list").stdout
    core, deep = out.index("Core path"), out.index("Deep path")
    assert core < out.index("first_message") < deep < out.index("] topics"), out
    assert "15 min" in out


@pytest.mark.parametrize("command", [["list"], ["next"], ["hint"], ["grade", "--out", "graded"]])
def test_without_a_broker_every_command_says_so_and_fails(ch03, command) -> None:
    ch03.env.update(KATA_BROKER="local", KATA_MOSQUITTO="/nonexistent/mosquitto")
    result = ch03.kata(*command)
    if command == ["hint"]:
        # A hint needs no broker: it falls back to the first exercise.
        assert result.returncode == 0 and "hint 1" in result.stdout
        return
    assert result.returncode == 2, result.stdout
    assert "needs a real MQTT broker" in result.stderr
    assert not (ch03.root / "graded" / "results.json").exists(), "no broker is never a score"


def test_pytest_without_a_broker_says_so_and_shows_no_empty_table(ch03) -> None:
    ch03.env.update(KATA_BROKER="local", KATA_MOSQUITTO="/nonexistent/mosquitto")
    result = ch03.run("tests/ch03_clients/test_publisher.py")
    assert result.returncode == 4, result.stdout
    assert "needs a real MQTT broker" in result.stdout
    assert "kata progress" not in result.stdout, "a table of tests that never ran says nothing"
