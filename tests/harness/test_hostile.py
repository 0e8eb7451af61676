"""Hostile exercises: whatever the code under test does to the test process, one clear line.

An exercise runs inside pytest's process. Each case here breaks the
publisher stub the way a confused (or clever) learner could, runs the kata's
pytest on a sandbox copy, and checks that it ends as a failure of that
exercise only, that the run ends with a non-zero exit code, and that
tampering with pytest is noticed (results.json's `integrity`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kata.core import brokers, target
from kata.core.brokers import Broker, BrokerAddress, BrokerError
from kata.core.peers import Peer

PUBLISHER = "exercises/ch03_clients/publisher.py"
PUB_TESTS = "tests/ch03_clients/test_publisher.py"
FAST = ("-k", "make_client", "-p", "no:randomly")  # three tests, no broker
STUB_RAISE = '    raise NotImplementedError("TODO: mqtt.Client('
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and fork")


def _failures(out: str) -> str:
    """pytest's report without its short summary, which repeats each reason (in full under CI)."""
    return out.split("short test summary info")[0]


def at_import(sandbox, code: str) -> None:
    """Put `code` at the top of the publisher, where it runs when the module is imported."""
    head = "from __future__ import annotations\n"
    sandbox.edit(PUBLISHER, head, head + code + "\n")


def in_make_client(sandbox, code: str) -> None:
    """Put `code` (indented for a function body) before the stub's raise in make_client."""
    sandbox.edit(PUBLISHER, STUB_RAISE, code + STUB_RAISE)


def line_of(sandbox, text: str) -> int:
    lines = sandbox.read(PUBLISHER).splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def results_of(sandbox) -> dict:
    return json.loads((sandbox.root / "results.json").read_text(encoding="utf-8"))


def run_tampered(sandbox, code: str) -> tuple[subprocess.CompletedProcess, dict]:
    """The publisher's three fast tests with `code` run at its import: a failed run, and
    its results.json."""
    at_import(sandbox, code)
    result = sandbox.run(PUB_TESTS, *FAST, "--kata-json", "results.json")
    assert result.returncode == 1, result.stdout + result.stderr
    return result, results_of(sandbox)


# --- section 3: any learner code, one clear line ------------------------------------


def test_probing_a_handle_never_imports_the_exercise() -> None:
    # pytest reads _mock_name (and the like) from module-level objects while
    # collecting; importing there would run the exercise outside any time limit.
    handle = target.exercise("ch99_nowhere.nothing")
    for probe in (
        "_mock_name",
        "_mock_methods",
        "__test__",
        "pytestmark",
        "_pytestfixturefunction",
    ):
        assert getattr(handle, probe, None) is None, probe
    with pytest.raises(target.ExerciseBroken):
        handle.anything  # noqa: B018 - a real name does import


@posix_only
def test_an_endless_loop_at_import_fails_within_the_time_limit(sandbox) -> None:
    at_import(sandbox, "while True: pass")
    result = sandbox.run(PUB_TESTS, *FAST, "-o", "kata_hang_after=0.5", timeout=30)
    line = line_of(sandbox, "while True: pass")
    assert result.returncode == 1, result.stdout
    assert (
        f"hang: importing {PUBLISHER} did not finish within 0.5 s "
        f"(stopped at line {line} of {PUBLISHER})"
    ) in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("import os; os._exit(0)", "os._exit(0) was called (it would end the whole test run)"),
        ("import sys; sys.exit(3)", "sys.exit(3) was called (it would end the whole test run)"),
    ],
)
def test_an_exit_at_import_is_a_failure_of_that_exercise(sandbox, code, said) -> None:
    at_import(sandbox, code)
    result = sandbox.run(PUB_TESTS, *FAST, "--kata-json", "results.json")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    line = line_of(sandbox, code)
    assert f"{PUBLISHER}:{line}: importing the module failed: {said}" in out, out
    assert "INTERNALERROR" not in out + result.stderr
    assert "3 failed" in out and "Traceback" not in out, out
    assert results_of(sandbox)["exercises"][0]["status"] == "failing"


def test_os_exit_in_a_function_fails_that_test_and_the_run_goes_on(sandbox) -> None:
    in_make_client(sandbox, "    import os\n    os._exit(0)\n")
    result = sandbox.run(PUB_TESTS, *FAST)
    line = line_of(sandbox, "os._exit(0)")
    message = (
        f"{PUBLISHER}: make_client called os._exit(0) (line {line}): "
        "that would end the whole test run"
    )
    assert result.returncode == 1
    assert _failures(result.stdout).count(message) == 3, result.stdout
    assert "3 failed" in result.stdout


@posix_only
@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="os.register_at_fork")
def test_a_fork_at_import_leaves_one_test_session(sandbox) -> None:
    at_import(sandbox, "import os; os.fork()")
    result = sandbox.run(PUB_TESTS, *FAST)
    out = result.stdout
    line = line_of(sandbox, "os.fork()")
    assert out.count("test session starts") == 1, out
    assert f"{PUBLISHER}: the import called os.fork() (line {line})" in out, out
    assert result.returncode == 1 and "3 failed" in out, out


@posix_only
def test_a_thread_that_blocks_the_exit_is_named_and_the_run_still_ends(sandbox) -> None:
    # Not a daemon, and waiting in C where Python cannot stop it: today
    # pytest never exits after its summary.
    at_import(
        sandbox,
        "import threading\n"
        "def _wait_for_ever():\n"
        "    threading.Event().wait()\n"
        "threading.Thread(target=_wait_for_ever, name='forever').start()",
    )
    result = sandbox.run(PUB_TESTS, *FAST, "--kata-json", "results.json", timeout=30)
    out = result.stdout
    where = f"{PUBLISHER}: _wait_for_ever, line {line_of(sandbox, 'Event().wait()')}"
    assert (
        f"{where}: thread 'forever' was still running after the test, and it is not a daemon"
    ) in out, out
    assert f"kata: thread 'forever' ({where}) is still running" in out, out
    assert result.returncode == 1
    assert results_of(sandbox)["tests"][0]["category"] == "runaway"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread CPU time of /proc")
def test_a_busy_background_thread_is_reported_at_the_end_of_its_test_and_stopped(sandbox) -> None:
    at_import(
        sandbox,
        "import threading\n"
        "def _spin():\n"
        "    while True: pass\n"
        "threading.Thread(target=_spin, name='spinner', daemon=True).start()",
    )
    result = sandbox.run(PUB_TESTS, *FAST, timeout=30)
    out = result.stdout
    assert "ERROR at teardown of test_make_client_uses_the_version2_callback_api" in out, out
    assert (
        f"{PUBLISHER}: _spin, line {line_of(sandbox, 'while True')}: thread 'spinner' "
        "kept a CPU busy after the test had ended (the kata stopped it)"
    ) in out, out
    assert _failures(out).count("kept a CPU busy") == 1, (
        "reported once, by the test that started it"
    )


def test_a_stuck_background_thread_is_named_in_a_bare_failure(sandbox) -> None:
    in_make_client(
        sandbox,
        "    import threading\n"
        "    stuck = threading.Event()\n"
        "    def _worker():\n"
        "        stuck.wait()\n"
        "    worker = threading.Thread(target=_worker, name='worker', daemon=True)\n"
        "    worker.start()\n"
        "    worker.join(0.1)\n"
        "    raise TimeoutError()\n",
    )
    result = sandbox.run(PUB_TESTS, "-k", "version2")
    where = f"{PUBLISHER}: make_client.<locals>._worker, line {line_of(sandbox, 'stuck.wait()')}"
    out = result.stdout
    assert f"(meanwhile thread 'worker' was at {where})" in out, out
    assert "[FAIL] publisher         0/1  passed  TimeoutError (meanwhile thread 'worker'" in out


def test_megabytes_of_output_in_a_failing_test_are_cut(sandbox, tmp_path) -> None:
    in_make_client(sandbox, "    print('x' * 20_000_000)\n    assert False, 'y' * 2_000_000\n")
    junit = tmp_path / "junit.xml"
    result = sandbox.run(PUB_TESTS, "-k", "version2", f"--junitxml={junit}")
    assert result.returncode == 1
    assert "(19998001 characters cut)" in result.stdout, result.stdout[:3000]
    assert len(result.stdout) < 50_000, "the terminal gets the start and the end only"
    assert junit.stat().st_size < 50_000


@posix_only
def test_our_timer_is_the_one_hang_timer_and_covers_fixtures(sandbox) -> None:
    sandbox.write(
        "tests/test_fixture_hang.py",
        "import threading\n"
        "import pytest\n"
        "@pytest.fixture\n"
        "def stuck_teardown():\n"
        "    yield\n"
        "    threading.Event().wait()\n"
        "def test_it(stuck_teardown):\n"
        "    pass\n"
        "# A test's own limit (the harness's tests have a longer one) replaces the ini's.\n"
        "@pytest.mark.kata_hang_after(0.5)\n"
        "def test_own_limit():\n"
        "    threading.Event().wait()\n",
    )
    result = sandbox.run(
        "tests/test_fixture_hang.py", "-o", "kata_fixture_hang_after=0.5", timeout=30
    )
    out = result.stdout
    assert "timeout:" not in out, "pytest-timeout is off where the kata's own timer runs"
    assert "hang: the test's teardown (its fixtures) did not finish within 0.5 s" in out, out
    assert "test_own_limit" in out and "did not finish within 0.5 s" in out, out
    assert "1 failed, 1 passed, 1 error" in out, out


# --- section 2 (run-time half): a patched pytest is found ------------------------------


def test_a_patched_pytest_is_found_put_back_and_reported(sandbox) -> None:
    result, data = run_tampered(
        sandbox, "import _pytest.python\n_pytest.python.Function.runtest = lambda self: None"
    )
    assert data["status"] == "fail"
    assert data["integrity"] == [
        "_pytest.python.Function.runtest was replaced (found after "
        f"{PUB_TESTS}::test_make_client_uses_the_version2_callback_api)"
    ]
    # Put back: the next tests ran as written (and found the stub).
    assert [t["category"] for t in data["tests"]] == ["not done"] * 3
    assert "kata integrity: _pytest.python.Function.runtest was replaced" in result.stdout


def test_a_patched_loop_hook_helper_is_found_and_put_back(sandbox) -> None:
    # The plugin's helpers decide a failure's words too: a failure made a pass there.
    _, data = run_tampered(
        sandbox,
        "import kata.core.plugin as _loop\n"
        "def _passed(item, call, report, result):\n"
        "    report.outcome = 'passed'\n"
        "_loop._name_the_mistake = _passed",
    )
    assert data["integrity"] == [
        "kata.core.plugin._name_the_mistake was replaced (found after "
        f"{PUB_TESTS}::test_make_client_uses_the_version2_callback_api)"
    ]
    assert [t["category"] for t in data["tests"]][1:] == ["not done"] * 2


def test_a_test_function_swapped_for_one_that_passes_is_put_back_and_named(sandbox) -> None:
    # From the running test's frame, the session's items: the next test's function is
    # replaced, the one after it gets the code of a function that does nothing.
    _, data = run_tampered(
        sandbox,
        "import sys, _pytest.python\n"
        "def _noop(*args, **kwargs):\n"
        "    return None\n"
        "_frame, _items = sys._getframe(), []\n"
        "while _frame is not None and not _items:\n"
        "    for _value in list(_frame.f_locals.values()):\n"
        "        if isinstance(_value, _pytest.python.Function):\n"
        "            _items = _value.session.items\n"
        "    _frame = _frame.f_back\n"
        "_items[1].obj = _noop\n"
        "_items[2].obj.__code__ = _noop.__code__",
    )
    assert [t["category"] for t in data["tests"]] == ["not done"] * 3, "all ran as written"
    second = data["tests"][1]["nodeid"]
    assert data["integrity"] == [
        f"{second}: its test function was replaced before it ran; the test ran as written"
    ]


def test_a_test_that_passes_without_its_body_running_fails(sandbox) -> None:
    # Out of reach of the identity checks: each collected test's own runtest.
    # (The collected tests are frozen out of the collector after collection,
    # loop.py: an attacker unfreezes them first.)
    _, data = run_tampered(
        sandbox,
        "import gc, _pytest.python\n"
        "gc.unfreeze()\n"
        "for _item in gc.get_objects():\n"
        "    if isinstance(_item, _pytest.python.Function):\n"
        "        _item.runtest = lambda: None",
    )
    tampered = [t for t in data["tests"] if t["category"] == "tampered"]
    assert len(tampered) == 2, data["tests"]
    assert tampered[0]["message"].startswith("the test passed without its body running")
    assert data["integrity"] == [
        f"{t['nodeid']}: passed without its body running" for t in tampered
    ]
    assert data["exercises"][0]["earned"] == 0


# --- section 4: signals and leftovers -----------------------------------------------------

GC_CALLBACK = """\
import gc, os, signal, threading

def _signal_in_gc(phase, info):
    if phase == "start":
        os.kill(os.getpid(), signal.{signame})
        for _ in range(1000):  # the handler runs here, inside the gc callback
            pass

def test_1_interrupted():
    gc.callbacks.append(_signal_in_gc)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(_signal_in_gc)
    threading.Event().wait(30)

def test_2_not_run():
    pass
"""
WEAKREF_CALLBACK = """\
import os, signal, threading, weakref

class Thing:
    pass

def _signal_in_callback(ref):
    os.kill(os.getpid(), signal.{signame})
    for _ in range(1000):  # the handler runs here, inside the weakref callback
        pass

def test_1_interrupted():
    thing = Thing()
    ref = weakref.ref(thing, _signal_in_callback)
    del thing
    threading.Event().wait(30)

def test_2_not_run():
    pass
"""


@posix_only
@pytest.mark.parametrize(
    ("where", "signame"),
    [(GC_CALLBACK, "SIGINT"), (GC_CALLBACK, "SIGTERM"), (WEAKREF_CALLBACK, "SIGINT")],
    ids=["gc-SIGINT", "gc-SIGTERM", "weakref-SIGINT"],
)
def test_an_interrupt_inside_a_callback_still_stops_the_run(sandbox, where, signame) -> None:
    # Python drops an exception raised in a gc or weakref callback with an
    # "Exception ignored" message: the run went on.
    sandbox.write("tests/test_interrupted.py", where.format(signame=signame))
    result = sandbox.run("tests/test_interrupted.py", "-o", "kata_hang_after=3", timeout=30)
    out = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out and "hang:" not in out, out
    assert "Exception ignored" not in out and "passed" not in out, out


def test_private_broker_secrets_are_private_and_removed(sandbox, broker) -> None:
    if broker.kind == "external":
        pytest.skip("starts a private broker")
    sandbox.write(
        "tests/test_private.py",
        "import stat\n"
        "def test_it(broker_factory):\n"
        "    private = broker_factory(listeners=('mqtt', 'auth', 'tls'))\n"
        "    folder = private.ca_path.parent\n"
        "    print('FOLDER', folder, flush=True)\n"
        "    for name in ('server.key', 'passwd', 'acl'):\n"
        "        mode = stat.S_IMODE((folder / name).stat().st_mode)\n"
        "        assert mode == 0o600, (name, oct(mode))\n",
    )
    result = sandbox.run("-s", "tests/test_private.py", f"--broker={broker.kind}")
    assert "1 passed" in result.stdout, result.stdout
    folder = Path(result.stdout.split("FOLDER ")[1].split()[0])
    assert not folder.exists(), f"{sorted(p.name for p in folder.iterdir())} left in {folder}"


class _Container:
    def __init__(self, ident: str, labels: dict[str, str]) -> None:
        self.id, self.labels, self.removed = ident, labels, False

    def remove(self, force: bool = False) -> None:
        self.removed = force


class _Containers:
    def __init__(self, found: list[_Container]) -> None:
        self.found, self.filters = found, None

    def list(self, all: bool = False, filters: dict | None = None) -> list[_Container]:
        self.filters = filters
        return self.found


@posix_only
def test_containers_of_a_killed_run_are_removed_at_the_next_start() -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                           capture_output=True, text=True)  # fmt: skip
    dead_pid = ended.stdout.strip()
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                          stdin=subprocess.PIPE) as alive:  # fmt: skip
        here = brokers.owner_labels()
        stale = _Container("stale", {**here, brokers.OWNER_PID_LABEL: dead_pid})
        running = _Container("running", {**here, brokers.OWNER_PID_LABEL: str(alive.pid)})
        mine = _Container("mine", here)
        elsewhere = _Container(
            "elsewhere", {brokers.OWNER_PID_LABEL: dead_pid, brokers.OWNER_HOST_LABEL: "other"}
        )
        client = type("Client", (), {})()
        client.containers = _Containers([stale, running, mine, elsewhere])
        assert brokers.remove_stale_containers(client) == ["stale"]
        alive.communicate(b"")
    assert client.containers.filters == {"label": brokers.OWNER_PID_LABEL}
    assert [c.removed for c in (stale, running, mine, elsewhere)] == [True, False, False, False]


@posix_only
def test_a_killed_docker_run_leaves_its_container_only_until_the_next_run(sandbox, broker) -> None:
    """SIGKILL runs no finalizer: the container (and its loopback ports) stays; the next run
    removes it."""
    if broker.kind != "docker":
        pytest.skip("needs the Docker broker (--broker docker)")
    import docker

    sandbox.write(
        "tests/test_wait.py",
        "import threading\n"
        "def test_waits(broker):\n"
        "    print('CONTAINER', broker.runner.container.get_wrapped_container().id, flush=True)\n"
        "    threading.Event().wait()\n"
        "def test_quick(broker):\n"
        "    pass\n",
    )
    argv = sandbox.pytest_argv("-s", "tests/test_wait.py::test_waits", "--broker", "docker")
    with Peer([*argv, "-o", "kata_hang_after=0"], cwd=sandbox.root) as run:
        line = run.wait_for_line(lambda text: "CONTAINER" in text, timeout=60)
        ident = line.split("CONTAINER")[1].split()[0]
        run.process.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    client = docker.from_env()
    try:
        left = client.containers.get(ident)
        assert left.labels[brokers.OWNER_PID_LABEL] == str(run.process.pid)
        again = sandbox.run("tests/test_wait.py::test_quick", "--broker", "docker", timeout=120)
        assert "1 passed" in again.stdout, again.stdout
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(ident)
    finally:
        with contextlib.suppress(Exception):
            client.containers.get(ident).remove(force=True)
        client.close()


def test_the_kata_labels_its_containers_with_their_owner(monkeypatch, tmp_path) -> None:
    pytest.importorskip("testcontainers")
    if not brokers.docker_engine_answers(timeout=2.0)[0]:
        # testcontainers asks the engine for its version when a container is made.
        pytest.skip("needs a Docker engine (CI's docker leg has one)")
    from testcontainers.core.container import DockerContainer

    seen: dict = {}

    def fake_start(container: DockerContainer) -> DockerContainer:
        seen.update(container._kwargs)
        raise RuntimeError("no engine in this test")

    monkeypatch.setattr(brokers, "_stale_checked", True)
    monkeypatch.setattr(DockerContainer, "start", fake_start)
    runner = brokers.DockerRunner("eclipse-mosquitto:2", tmp_path, brokers.Ports(mqtt=1))
    try:
        with pytest.raises(RuntimeError, match="no engine"):
            runner.start()
    finally:
        brokers._LIVE[:] = [r for r in brokers._LIVE if r is not runner]
    assert seen["labels"] == brokers.owner_labels()


# --- section 5: external brokers and secrets ---------------------------------------------


def test_a_password_never_shows_in_a_repr() -> None:
    secret = "pa55-w0rd"
    shown = [
        repr(Broker(kind="external", host="h", port=8883, username="u", password=secret)),
        repr(BrokerAddress(host="h", port=8883, username="u", password=secret)),
    ]
    assert not any(secret in text for text in shown), shown


@pytest.mark.needs_listener("tls")
def test_a_secured_external_broker_is_checked_once_and_unusable_tests_skip(
    sandbox, broker, tmp_path
) -> None:
    """mqtts://user:pass@host: answers that connect plain and anonymous cannot use it."""
    password = broker.users["kata"]
    url = f"mqtts://kata:{{}}@localhost:{broker.tls_port}"
    sandbox.env["SSL_CERT_FILE"] = str(broker.ca_path)

    sandbox.env["MQTT_BROKER_URL"] = url.format("wrong")
    refused = sandbox.run(PUB_TESTS)
    assert refused.returncode == pytest.ExitCode.USAGE_ERROR
    assert "the broker refused the login (CONNACK return code 5" in refused.stdout, refused.stdout
    assert "wrong" not in refused.stdout + refused.stderr

    sandbox.env["MQTT_BROKER_URL"] = url.format(password)
    del sandbox.env["SSL_CERT_FILE"]
    untrusted = sandbox.run(PUB_TESTS)
    assert untrusted.returncode == pytest.ExitCode.USAGE_ERROR
    assert "the broker's TLS certificate is not trusted" in untrusted.stdout, untrusted.stdout

    sandbox.env["SSL_CERT_FILE"] = str(broker.ca_path)
    sandbox.solve("ch03_clients/publisher.py")
    sandbox.write(
        "tests/ch03_clients/test_about_the_broker.py",
        "import pytest\n"
        "@pytest.mark.uses_broker_login\n"
        "def test_fails_showing_the_broker(broker):\n"
        "    assert broker.port == 0, broker\n",
    )
    junit = tmp_path / "junit.xml"
    about = "tests/ch03_clients/test_about_the_broker.py"
    used = sandbox.run(PUB_TESTS, about, "-rs", "-l", f"--junitxml={junit}")
    out = used.stdout
    assert "needs TLS or a password, and this test's code connects plain and anonymous" in out
    assert "1 failed" in out and "skipped" in out and "passed" in out, out
    assert "username='kata'" in out, "the assertion showed the broker"
    assert password not in out + used.stderr + junit.read_text(encoding="utf-8")


def test_a_port_that_does_not_speak_mqtt_is_one_message_before_any_test() -> None:
    # A TCP port that never answers CONNECT: a real CONNECT finds out at once.
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with pytest.raises(BrokerError, match="no MQTT answer"):
            brokers.from_url(f"mqtt://127.0.0.1:{port}", timeout=0.3)


def test_the_progress_table_counts_skipped_tests(sandbox) -> None:
    sandbox.solve("ch03_clients/publisher.py")
    sandbox.edit(
        PUB_TESTS,
        "def test_make_client_keeps_the_given_id",
        "def test_skipped_here() -> None:\n    pytest.skip('not here')\n\n\n"
        "def test_make_client_keeps_the_given_id",
    )
    result = sandbox.run(PUB_TESTS, "-k", "make_client or skipped_here")
    assert "[done] publisher         3/3  passed, 1 skipped" in result.stdout, result.stdout


def test_junit_xml_carries_no_hypothesis_statistics(sandbox, tmp_path) -> None:
    junit = tmp_path / "junit.xml"
    # The sandbox's pytest runs without hypothesis's plugin: this one has it.
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--target",
        "solutions",
        "tests/ch01_basics/test_topics.py",
        "-k",
        "generated",
        f"--junitxml={junit}",
    ]
    result = sandbox._run(argv, timeout=60)
    assert "1 passed" in result.stdout, result.stdout
    assert "hypothesis-statistics" not in junit.read_text(encoding="utf-8")


def test_the_soak_draws_a_fresh_seed_and_replays_a_given_one(capsys) -> None:
    soak = _load_soak()
    assert soak.main(["--rounds", "0", "--seed", "7"]) == 0
    assert "soak seed 7" in capsys.readouterr().out
    assert soak.round_seeds(7, 3) == soak.round_seeds(7, 3) != soak.round_seeds(8, 3)
    firsts = set()
    for _ in range(2):
        soak.main(["--rounds", "0"])
        firsts.add(capsys.readouterr().out.split("soak seed ")[1].split()[0])
    assert len(firsts) == 2, "each soak starts from a fresh seed"


def _load_soak():
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "bench" / "soak.py"
    spec = importlib.util.spec_from_file_location("kata_bench_soak", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
