"""The kata command, run as a learner and a grader would, in a sandbox copy."""

from __future__ import annotations

import contextlib
import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class Walk:
    """A learner's commands in one chapter-3 sandbox, in the order a learner types them."""

    sandbox: Any  # conftest.Sandbox
    runs: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    first_cache: dict = field(default_factory=dict)

    def kata(self, name: str, *args: str) -> subprocess.CompletedProcess:
        self.runs[name] = self.sandbox.kata(*args)
        return self.runs[name]


@pytest.fixture(scope="module")
def learner_walk(new_sandbox) -> Walk:
    """One sandbox that several tests read: each command's own output, once.

    The stubs: `kata list` runs the tests and caches the progress, which `next`,
    `lesson` and `hint` then read. Then the publisher is solved: `list` again,
    `hint`, and two gradings.
    """
    walk = Walk(new_sandbox())
    walk.sandbox.only_chapters("ch03_clients")
    walk.kata("list", "list")
    with contextlib.suppress(OSError, ValueError):
        walk.first_cache = json.loads(walk.sandbox.read(".kata/progress-exercises.json"))
    walk.kata("next", "next")
    walk.kata("lesson", "lesson")
    walk.kata("lesson ja", "--lang", "ja", "lesson", "subscriber")
    walk.sandbox.solve("ch03_clients/publisher.py")
    walk.kata("list again", "list")
    walk.kata("hint", "hint")
    for name in ("grade", "grade again"):
        walk.kata(name, "grade", "--out", name.replace(" ", "-"))
    return walk


def test_list_shows_progress_and_reruns_only_what_changed(learner_walk) -> None:
    first = learner_walk.runs["list"]
    assert first.returncode == 0, first.stdout + first.stderr
    assert "->[todo] publisher" in first.stdout
    assert set(learner_walk.first_cache) == {"ch03_clients.publisher", "ch03_clients.subscriber"}
    out = learner_walk.runs["list again"].stdout
    assert "[done] publisher" in out, "an edited exercise is run again"
    assert "->[todo] subscriber" in out
    assert "points: 10 / 25" in out
    assert "next: exercises/ch03_clients/subscriber.py" in out


def test_hint_without_a_name_is_for_the_exercise_the_learner_is_at(learner_walk) -> None:
    result = learner_walk.runs["hint"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ch03_clients.subscriber - hint 1 of 3" in result.stdout, result.stdout
    assert "kata hint subscriber --level 2" in result.stdout
    assert "ch03_clients.subscriber" in result.stdout.splitlines()[0]


def test_next_shows_the_reasons_once_and_the_first_hint(learner_walk, shipped_count) -> None:
    tests = shipped_count("tests/ch03_clients/test_publisher.py")
    hints = load_catalog().exercise("ch03_clients.publisher").hints
    out = learner_walk.runs["next"].stdout
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


def test_grade_writes_json_junit_and_markdown_and_is_repeatable(learner_walk) -> None:
    result = learner_walk.runs["grade"]
    assert result.returncode == 0, result.stdout + result.stderr
    out_dir = learner_walk.sandbox.root / "grade"
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

    again = learner_walk.sandbox.root / "grade-again" / "results.json"
    again = json.loads(again.read_text(encoding="utf-8"))
    assert [(e["id"], e["earned"], e["passed"]) for e in again["exercises"]] == [
        (e["id"], e["earned"], e["passed"]) for e in data["exercises"]
    ], "the same tree gets the same score"


def test_lesson_shows_the_current_exercise_in_the_learners_language(learner_walk) -> None:
    english = learner_walk.runs["lesson"]
    assert english.returncode == 0, english.stderr
    read = learner_walk.sandbox.read
    title = read("exercises/ch03_clients/publisher.md").splitlines()[0]
    assert english.stdout.splitlines()[0] == title, "no name: the exercise the learner is at"
    japanese = learner_walk.runs["lesson ja"]
    assert (
        japanese.stdout.splitlines()[0]
        == read("exercises/ch03_clients/subscriber.ja.md").splitlines()[0]
    )


def test_list_walks_the_core_path_first_with_time_estimates(sandbox) -> None:
    # A core and a deep exercise (packets, deep too, would add only its many tests).
    sandbox.only_chapters("ch01_basics", modules=("first_message", "topics"))
    # The order and the minutes come from the catalog, not from the results: a test
    # each that passes at once stands in for the chapter's (a broker, hypothesis).
    for name in ("first_message", "topics"):
        sandbox.write(f"tests/ch01_basics/test_{name}.py", "def test_stands_in():\n    pass\n")
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
