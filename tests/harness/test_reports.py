"""What a learner reads when an exercise is unfinished, broken, hanging or crashing.

Each test copies the kata into a temporary folder, breaks one exercise the
way learners do, runs pytest there as a learner would, and reads the output.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys

import pytest

from kata.core import brokers
from kata.core.peers import Peer

PUBLISHER = "exercises/ch03_clients/publisher.py"
SUBSCRIBER = "exercises/ch03_clients/subscriber.py"


def test_a_stub_is_reported_as_one_line(sandbox) -> None:
    result = sandbox.run("tests/ch03_clients/test_publisher.py", "-k", "make_client")
    assert result.returncode == 1
    assert "not done yet: exercises/ch03_clients/publisher.py: make_client" in result.stdout
    assert "Traceback" not in result.stdout and "raise NotImplementedError" not in result.stdout


def test_a_syntax_error_fails_only_its_own_exercise(sandbox) -> None:
    sandbox.solve("ch03_clients/publisher.py")
    sandbox.edit(SUBSCRIBER, "def collect_messages(", "def collect_messages(:")
    result = sandbox.run(
        "tests/ch03_clients",
        "-k",
        "make_client or closed_port",
    )
    out = result.stdout
    source = sandbox.read(SUBSCRIBER).splitlines()
    line = next(n for n, text in enumerate(source, 1) if "def collect_messages(:" in text)
    assert f"syntax error in {SUBSCRIBER}:{line}" in out, out
    assert "1 failed, 4 passed" in out, out
    assert "[done] publisher" in out and "[FAIL] subscriber" in out, out


def test_a_missing_function_names_the_file_and_the_name(sandbox) -> None:
    sandbox.edit(PUBLISHER, "def make_client(", "def make_a_client(")
    result = sandbox.run("tests/ch03_clients/test_publisher.py", "-k", "make_client_keeps")
    assert f"{PUBLISHER} has no 'make_client'" in result.stdout, result.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="the kata's own hang timer needs SIGALRM")
def test_a_hang_fails_at_the_time_limit_naming_the_function(sandbox) -> None:
    sandbox.edit(
        PUBLISHER,
        '    raise NotImplementedError("TODO: mqtt.Client(',
        '    while True:\n        pass\n    raise NotImplementedError("TODO: mqtt.Client(',
    )
    result = sandbox.run(
        "tests/ch03_clients/test_publisher.py",
        "-k",
        "make_client",
        "-o",
        "kata_hang_after=0.5",
        "-p",
        "no:randomly",
    )
    out = result.stdout
    assert f"hang: {PUBLISHER}: make_client did not return within 0.5 s" in out, out
    # Only the first test waited; the others are not run (errors) and say which test hung.
    assert "1 failed" in out and "2 errors" in out, out
    assert "(in test_make_client_uses_the_version2_callback_api)" in out, out


@pytest.mark.needs_private_broker
def test_an_exception_on_paho_thread_fails_the_test_that_caused_it(sandbox, broker) -> None:
    if broker.kind == "external":
        pytest.skip("runs a private broker")
    sandbox.solve("ch03_clients/subscriber.py")
    # The classic: the handler is called unguarded on paho's network thread.
    sandbox.edit(
        SUBSCRIBER,
        """        try:
            self.handler(message.topic, message.payload.decode("utf-8"))
        except Exception:""",
        """        self.handler(message.topic, message.payload.decode("utf-8"))
        if False:""",
    )
    result = sandbox.run(
        "tests/ch03_clients/test_subscriber.py",
        "-k",
        "failing_handler",
        f"--broker={broker.kind}",
    )
    out = result.stdout
    assert "an exception escaped on thread 'paho-mqtt-client-" in out, out
    assert "ValueError: the handler does not like 'bad'" in out
    assert "1 failed" in out


def test_stubs_must_fail_catches_a_test_that_passes_on_a_stub(sandbox) -> None:
    sandbox.solve("ch03_clients/publisher.py")
    result = sandbox.run(
        "tests/ch03_clients/test_publisher.py", "-k", "make_client", "--stubs-must-fail"
    )
    assert result.returncode == 1
    assert "PASSES against the stub" in result.stdout


def test_stubs_must_fail_passes_on_the_untouched_stubs(sandbox) -> None:
    result = sandbox.run(
        "tests/ch03_clients/test_publisher.py", "-k", "make_client", "--stubs-must-fail"
    )
    assert result.returncode == 0, result.stdout
    assert "all 3 tests fail against the stubs with 'not done yet'" in result.stdout


def test_the_progress_table_shows_what_is_next(sandbox) -> None:
    sandbox.solve("ch03_clients/publisher.py")
    result = sandbox.run("tests/ch03_clients", "-k", "make_client or closed_port")
    assert "[done] publisher" in result.stdout
    assert "[todo] subscriber" in result.stdout
    assert "next: exercises/ch03_clients/subscriber.py" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "answers"], "unknown target 'answers'"),
        (["--broker", "cloud"], "unknown broker 'cloud'"),
    ],
)
def test_bad_options_are_one_clear_error(sandbox, args, message) -> None:
    result = sandbox.run("tests/ch03_clients", *args)
    assert result.returncode == 4
    assert message in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_a_stopped_run_leaves_no_broker_process(sandbox, signame) -> None:
    """Ctrl-C, a CI time limit (SIGTERM), even SIGKILL: the session broker goes too."""
    if brokers.find_mosquitto() is None:
        pytest.skip("needs the mosquitto binary")
    if signame == "SIGKILL" and not sys.platform.startswith("linux"):
        pytest.skip("a killed parent takes its broker along on Linux only (PR_SET_PDEATHSIG)")
    sandbox.write(
        "tests/test_wait.py",
        "import threading\n"
        "def test_waits(broker):\n"
        "    print('BROKER-PID', broker.runner.process.pid, flush=True)\n"
        "    threading.Event().wait()\n",
    )
    argv = sandbox.pytest_argv("-s", "tests/test_wait.py")
    with Peer([*argv, "--broker", "local", "-o", "kata_hang_after=0"], cwd=sandbox.root) as run:
        line = run.wait_for_line(lambda text: "BROKER-PID" in text, timeout=10)
        pid = int(line.split("BROKER-PID")[1].split()[0])
        run.process.send_signal(getattr(signal, signame))
        run.wait(timeout=30)
    if signame != "SIGKILL":
        assert any("KeyboardInterrupt" in text for text in run.all_lines), run.all_lines
    assert _gone(pid), f"the broker (pid {pid}) outlived the run stopped by {signame}"


def _gone(pid: int, within: float = 5.0) -> bool:
    """The process has exited, or does so within `within` seconds.

    After SIGINT or SIGTERM the run killed and reaped its broker before it
    exited. After SIGKILL the kernel sends the broker SIGKILL too, a moment
    later: on Linux a pidfd becomes readable when it exits (even as a zombie).
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], within)
        return bool(readable)
    finally:
        os.close(fd)


def test_a_broker_that_dies_fails_that_test_with_its_log_and_comes_back(sandbox, broker) -> None:
    if broker.kind == "external":
        pytest.skip("needs a broker the kata starts")
    sandbox.write(
        "tests/test_fault.py",
        "from kata.core.probe import Probe\n"
        "def test_1_broker_dies(broker):\n"
        "    broker.kill()\n"
        "    Probe(broker.host, broker.port, timeout=1.0)\n"
        "def test_2_next_test_has_a_broker(broker, probe):\n"
        "    probe.subscribe('kata/after', qos=1)\n",
    )
    result = sandbox.run("tests/test_fault.py", f"--broker={broker.kind}")
    out = result.stdout
    assert "the broker died during this test; its log ends with:" in out, out
    assert "mosquitto" in out.split("its log ends with:")[1]
    assert "1 failed, 1 passed" in out, out


def _still_running(kind: str, ident: str) -> bool:
    if kind == "local":
        # POSIX only: on Windows os.kill(pid, 0) would terminate the process.
        try:
            os.kill(int(ident), 0)
        except ProcessLookupError:
            return False
        return True
    docker = shutil.which("docker")
    if docker is None:
        return False
    listed = subprocess.run(
        [docker, "ps", "-a", "-q", "--no-trunc", "--filter", f"id={ident}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return bool(listed.stdout.strip())


@pytest.mark.skipif(sys.platform == "win32", reason="checks the process with a POSIX signal 0")
@pytest.mark.parametrize(
    ("body", "outcome"),
    [("    assert False, 'fails'\n", "1 failed"), ("    threading.Event().wait()\n", "hang:")],
)
def test_a_failing_or_hanging_run_leaves_no_broker_behind(sandbox, broker, body, outcome) -> None:
    if broker.kind == "external":
        pytest.skip("needs a broker the kata starts")
    sandbox.write(
        "tests/test_leak.py",
        "import threading\n"
        "def test_it(broker):\n"
        "    r = broker.runner\n"
        "    local = broker.kind == 'local'\n"
        "    ident = r.process.pid if local else r.container.get_wrapped_container().id\n"
        "    print('BROKER-ID', ident, flush=True)\n" + body,
    )
    result = sandbox.run(
        "-s", "tests/test_leak.py", f"--broker={broker.kind}", "-o", "kata_hang_after=0.5"
    )
    assert outcome in result.stdout, result.stdout
    ident = result.stdout.split("BROKER-ID")[1].split()[0]
    assert not _still_running(broker.kind, ident), f"the {broker.kind} broker {ident} is left over"


def test_a_broken_catalog_is_one_clear_error(sandbox) -> None:
    sandbox.edit("kata/core/catalog.toml", 'module = "publisher"', 'module = "Publisher!"')
    result = sandbox.run("tests/ch03_clients")
    assert result.returncode == 4
    assert result.stderr.strip() == (
        "ERROR: kata/core/catalog.toml: chapter 'ch03_clients', exercise 'Publisher!': "
        "module must be a Python module name"
    )


def test_a_missing_mosquitto_program_is_one_clear_error(sandbox) -> None:
    sandbox.env["KATA_MOSQUITTO"] = str(sandbox.root / "no" / "mosquitto")
    result = sandbox.run("tests/ch03_clients", "--broker", "local")
    out = result.stdout + result.stderr
    assert result.returncode == 4
    assert "KATA_MOSQUITTO=" in out and "is not an executable file" in out
    assert "Docker Desktop" in out and "MQTT_BROKER_URL" in out, "the three ways to get a broker"


def test_an_unreachable_broker_url_is_one_clear_error(sandbox) -> None:
    sandbox.env["MQTT_BROKER_URL"] = f"mqtt://127.0.0.1:{brokers.free_port()}"
    result = sandbox.run("tests/ch03_clients")
    out = result.stdout + result.stderr
    assert result.returncode == 4
    assert "cannot be reached" in out and "unset MQTT_BROKER_URL" in out


def test_a_syntax_error_in_an_imported_exercise_names_that_file(sandbox) -> None:
    # first_message.py (chapter 1) takes its Message record from subscriber.py (chapter 3).
    sandbox.edit(SUBSCRIBER, "def collect_messages(", "def collect_messages(:")
    result = sandbox.run("tests/ch01_basics/test_first_message.py", "-k", "closed_port")
    assert f"syntax error in {SUBSCRIBER}:" in result.stdout, result.stdout
