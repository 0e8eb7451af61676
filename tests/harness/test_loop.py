"""The learner loop's side of the plugin (kata/core/plugin.py): fast starts, fail-fast counts."""

from __future__ import annotations

import json
import os
import re
import sys

import pytest

PUBLISHER_TESTS = "tests/ch03_clients/test_publisher.py"
HYPOTHESIS = re.compile(r"\|\s+hypothesis$", re.MULTILINE)  # python -X importtime's line


@pytest.fixture
def kata_broker(sandbox, broker):
    if broker.kind == "external":
        pytest.skip("runs the kata's own broker")
    sandbox.env["KATA_BROKER"] = broker.kind
    return sandbox


def test_a_fail_fast_run_records_the_tests_it_did_not_reach_as_not_run(
    kata_broker, tmp_path, shipped_count
):
    out = tmp_path / "results.json"
    run = kata_broker.run(PUBLISHER_TESTS, "-x", "--kata-json", str(out))
    assert run.returncode == 1, run.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    statuses = [t["status"] for t in data["tests"]]
    assert statuses[0] == "fail" and set(statuses[1:]) == {"not run"}, statuses
    total = shipped_count(PUBLISHER_TESTS)
    assert len(statuses) == total
    (publisher,) = data["exercises"]
    assert (publisher["passed"], publisher["total"], publisher["status"]) == (0, total, "todo")


def test_a_failure_keeps_pytests_own_report_of_it(kata_broker, tmp_path):
    kata_broker.solve("ch03_clients/subscriber.py")
    kata_broker.edit(
        "exercises/ch03_clients/subscriber.py",
        'self.handler(message.topic, message.payload.decode("utf-8"))',
        "self.handler(message.topic, message.payload)",
    )
    out = tmp_path / "results.json"
    kata_broker.run(
        "tests/ch03_clients/test_subscriber.py", "-x", "--kata-json", str(out), "-k", "text"
    )
    (failed,) = [t for t in json.loads(out.read_text("utf-8"))["tests"] if t["status"] == "fail"]
    assert failed["message"].startswith("AssertionError"), failed
    assert "test_subscriber.py:" in failed["details"] and "E   " in failed["details"], failed


def test_a_failure_that_one_line_says_in_full_has_no_details(sandbox, tmp_path):
    # pytest.fail(why) (expect_raises, the peers) is reported as "Failed: why":
    # pytest's report of it, "why", would only say the message again.
    sandbox.write(
        "tests/test_said.py",
        "import pytest\n\n"
        "def test_said():\n"
        "    pytest.fail('add(1, 2) should raise ValueError', pytrace=False)\n",
    )
    out = tmp_path / "results.json"
    sandbox.run("tests/test_said.py", "--kata-json", str(out))
    (said,) = json.loads(out.read_text("utf-8"))["tests"]
    assert said["message"] == "Failed: add(1, 2) should raise ValueError", said
    assert said["details"] == "", said


def test_hypothesis_is_imported_only_by_runs_that_use_it(kata_broker):
    # Without the sandbox's -p no:hypothesispytest: as a learner's run loads it.
    # -s: importtime writes to stderr, which pytest would otherwise capture and drop.
    argv = [sys.executable, "-X", "importtime", "-m", "pytest", "-s", "-p", "no:cacheprovider"]
    plain = kata_broker._run([*argv, PUBLISHER_TESTS, "-k", "make_client"], timeout=60)
    assert "1 failed" in plain.stdout or "3 failed" in plain.stdout, plain.stdout
    assert not HYPOTHESIS.search(plain.stderr), "no test of test_publisher.py uses hypothesis"
    # The module that uses it imports it as pytest collects it.
    used = kata_broker._run(
        [*argv, "--collect-only", "tests/ch01_basics/test_topics.py"], timeout=60
    )
    assert HYPOTHESIS.search(used.stderr)


def test_putting_hypothesis_plugin_aside_is_no_tampering(sandbox):
    # As a learner's run: hypothesis's pytest plugin is loaded, and set aside
    # after collection because no test uses it. The integrity check must take
    # the hooks after that, or the first test reports its own harness.
    sandbox.write("tests/test_plain.py", "def test_one():\n    pass\n")
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    run = sandbox._run([*argv, "tests/test_plain.py"], timeout=60)
    assert run.returncode == 0, run.stdout
    assert "kata integrity" not in run.stdout, run.stdout


def test_scored_runs_load_the_no_shrink_profile_before_property_tests_are_defined(sandbox):
    sandbox.write(
        "tests/test_profile_probe.py",
        "from hypothesis import Phase, given, settings, strategies as st\n\n"
        "@settings(max_examples=5)\n@given(st.integers())\n"
        "def test_probe(n):\n"
        "    assert Phase.shrink not in settings.default.phases\n\n"
        "def test_decorated_at_import():\n"
        "    used = test_probe._hypothesis_internal_use_settings\n"
        "    assert Phase.shrink not in used.phases\n",
    )
    scored = sandbox.run("tests/test_profile_probe.py", "--kata-json", "results.json")
    assert scored.returncode == 0, scored.stdout
    plain = sandbox.run("tests/test_profile_probe.py")
    assert plain.returncode == 1 and "2 failed" in plain.stdout, "a plain run keeps shrinking"


def test_parallel_workers_report_every_test_to_the_controllers_results(
    kata_broker, tmp_path, shipped_count
):
    pytest.importorskip("xdist")
    out = tmp_path / "results.json"
    run = kata_broker.run(PUBLISHER_TESTS, "-n", "2", "--kata-json", str(out))
    assert run.returncode == 1, run.stdout
    total = shipped_count(PUBLISHER_TESTS)
    assert f"[todo] publisher         0/{total} passed" in run.stdout, "the controller's table"
    data = json.loads(out.read_text(encoding="utf-8"))
    assert len(data["tests"]) == total and {t["status"] for t in data["tests"]} == {"fail"}
    assert {t["category"] for t in data["tests"]} == {"not done"}
    (publisher,) = data["exercises"]
    assert (publisher["status"], publisher["total"]) == ("todo", total)


def test_auto_is_one_worker_per_core_and_one_more(pytestconfig):
    # The plugin's answer to xdist's hook, as `-n auto` asks it: the chapter tests mostly wait.
    pytest.importorskip("xdist")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert pytestconfig.hook.pytest_xdist_auto_num_workers(config=pytestconfig) == cores + 1


def test_tampering_found_by_a_worker_reaches_the_controllers_results(sandbox, tmp_path):
    pytest.importorskip("xdist")
    head = "from __future__ import annotations\n"
    sandbox.edit(
        "exercises/ch03_clients/publisher.py",
        head,
        head + "import _pytest.python\n_pytest.python.Function.runtest = lambda self: None\n",
    )
    out = tmp_path / "results.json"
    run = sandbox.run(PUBLISHER_TESTS, "-k", "make_client", "-n", "2", "--kata-json", str(out))
    data = json.loads(out.read_text(encoding="utf-8"))
    assert run.returncode == 1, run.stdout
    assert data["status"] == "fail"
    assert any("_pytest.python.Function.runtest was replaced" in i for i in data["integrity"]), data
    assert "kata integrity: _pytest.python.Function.runtest was replaced" in run.stdout


def test_retained_under_finds_what_the_broker_keeps_in_two_round_trips(probe_factory, topic):
    writer = probe_factory()
    writer.publish(f"{topic}/a/b", b"kept", qos=1, retain=True)
    writer.publish(topic, b"root", qos=1, retain=True)
    writer.publish(f"{topic}/live", b"not kept", qos=1)
    writer.publish(f"{topic}-sibling", b"other prefix", qos=1, retain=True)
    try:
        reader = probe_factory()
        assert reader.retained_under(f"{topic}/#", topic) == {f"{topic}/a/b", topic}
    finally:
        writer.publish(f"{topic}-sibling", b"", qos=1, retain=True)
