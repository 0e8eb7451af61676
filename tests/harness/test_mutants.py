"""The chapter tests tell a right client from the usual wrong ones.

Each case takes a reference answer, makes one classic mistake in it, and
checks that the test meant to catch that mistake fails.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from mistakes import MISTAKES as NAMED
from mistakes import Named

from kata.learner.progress import LEARNER_HANG_AFTER

PUB_TESTS = "tests/ch03_clients/test_publisher.py::"
SUB_TESTS = "tests/ch03_clients/test_subscriber.py::"


@dataclass(frozen=True)
class Mistake:
    module: str
    edits: tuple[tuple[str, str], ...]
    caught_by: str


MISTAKES = {
    "seed-era mqtt.Client()": Mistake(
        "ch03_clients/publisher.py",
        (("        CallbackAPIVersion.VERSION2,\n        client_id=", "        client_id="),),
        PUB_TESTS + "test_make_client_uses_the_version2_callback_api",
    ),
    "disconnect before QoS 2 completes": Mistake(
        "ch03_clients/publisher.py",
        (
            (
                "            info.wait_for_publish(max(0.0, deadline - time.monotonic()))\n"
                "            if not info.is_published():",
                "            if False:",
            ),
        ),
        PUB_TESTS + "test_every_message_is_confirmed_before_the_disconnect[2]",
    ),
    "subscribe before the connection is up": Mistake(
        "ch03_clients/subscriber.py",
        (
            ("            client.subscribe(topic_filter, qos)", "            pass"),
            (
                "    client.connect(host, port, keepalive=60)",
                "    client.subscribe(topic_filter, qos)\n    client.connect(host, port)",
            ),
        ),
        SUB_TESTS + "test_collect_returns_consecutive_messages_in_order",
    ),
    "1.x callback signature": Mistake(
        "ch03_clients/subscriber.py",
        (
            (
                "def on_connect(self, client, userdata, flags, reason_code, properties)",
                "def on_connect(self, client, userdata, flags, reason_code)",
            ),
        ),
        SUB_TESTS + "test_started_subscriber_gets_a_message_published_right_away",
    ),
    "subscribe once, not in on_connect": Mistake(
        "ch03_clients/subscriber.py",
        (
            (
                "        self.client.loop_start()\n",
                "        self.client.loop_start()\n        self.client.on_connect = None\n"
                "        self.client.subscribe(self.topic_filter, self.qos)\n",
            ),
        ),
        SUB_TESTS + "test_subscription_comes_back_after_the_broker_restarts",
    ),
    "bytes where text is expected": Mistake(
        "ch03_clients/subscriber.py",
        (
            (
                'self.handler(message.topic, message.payload.decode("utf-8"))',
                "self.handler(message.topic, message.payload)",
            ),
        ),
        SUB_TESTS + "test_handler_gets_text_not_bytes",
    ),
    # The shared peers (kata/core/peers.py) catch what the chapters' own fakes caught.
    "trust wait_for_publish (ScriptedBroker, no PUBACK)": Mistake(
        "ch03_clients/publisher.py",
        (
            (
                "            if not info.is_published():\n                raise TimeoutError(f",
                "            if False:\n                raise TimeoutError(f",
            ),
        ),
        PUB_TESTS + "test_an_unconfirmed_message_is_a_timeout[1-PUBACK]",
    ),
    "confirmed without the ack (Relay loses it)": Mistake(
        "ch04_delivery/qos.py",
        (("        return info.is_published()", "        return True"),),
        "tests/ch04_delivery/test_qos.py::test_no_confirmation_when_the_ack_is_lost[1]",
    ),
    "return before the SUBACK (ScriptedBroker, late SUBACK)": Mistake(
        "ch05_sensor/dashboard.py",
        (
            (
                "            client.subscribe(topic_filter, qos=qos)",
                "            client.subscribe(topic_filter, qos=qos)\n            subscribed.set()",
            ),
        ),
        "tests/ch05_sensor/test_dashboard.py::test_subscribe_feed_waits_for_the_suback",
    ),
    "no cap on the backoff (Relay cuts the link)": Mistake(
        "ch06_security/reconnect.py",
        (
            (
                "self._client.reconnect_delay_set(min_delay, max_delay)",
                "self._client.reconnect_delay_set(min_delay, 120)",
            ),
        ),
        "tests/ch06_security/test_reconnect.py::test_backoff_doubles_up_to_max_delay",
    ),
}


# A client with no network loop (and the like) is named after diagnose.EARLY_AFTER
# seconds; the mutants' copies of the kata name it sooner. A correct client calls
# loop_start() right after connect(): it is never one of them.
SANDBOX_EARLY_AFTER = 0.5
# The hang limit of the runs that catch the mistakes: above the slowest of those
# tests on a reference answer (~1 s: a broker restart and paho's reconnect delay).
CAUGHT_HANG_AFTER = 2

# One pytest run catches the mistakes of a round: one mistake per module, and no
# round mutates a module that another of its tests uses (test_qos.py uses the
# subscriber). A mistake the tests let through leaves its own test passing.
ROUNDS = (
    (
        "seed-era mqtt.Client()",
        "confirmed without the ack (Relay loses it)",
        "return before the SUBACK (ScriptedBroker, late SUBACK)",
        "no cap on the backoff (Relay cuts the link)",
    ),
    ("disconnect before QoS 2 completes", "subscribe before the connection is up"),
    ("trust wait_for_publish (ScriptedBroker, no PUBACK)", "1.x callback signature"),
    ("subscribe once, not in on_connect",),
    ("bytes where text is expected",),
)
assert sorted(n for r in ROUNDS for n in r) == sorted(MISTAKES), "every mistake, once"
assert all(len({MISTAKES[n].module for n in r}) == len(r) for r in ROUNDS), "a module twice"


def _shorten(sandbox, rel: str, name: str, seconds: float) -> None:
    """Set the constant `name` (seconds) in the sandbox's copy of kata/REL."""
    pattern = rf"^({name} = \(?\s*)[\d.]+"
    text, found = re.subn(pattern, rf"\g<1>{seconds}", sandbox.read(rel), count=1, flags=re.M)
    assert found == 1, f"no {name} = <seconds> in {rel}"
    sandbox.write(rel, text)


def _break(sandbox, mistake: Named | Mistake) -> None:
    sandbox.solve(mistake.module)
    for old, new in mistake.edits:
        sandbox.edit(f"exercises/{mistake.module}", old, new)


@pytest.fixture
def mutant(sandbox, broker):
    """A sandbox whose kata names the early mistakes sooner, on a broker the kata starts."""
    if broker.kind == "external":
        pytest.skip("the mutant runs need a broker the kata starts")
    _shorten(sandbox, "kata/core/diagnose.py", "EARLY_AFTER", SANDBOX_EARLY_AFTER)
    return sandbox


@pytest.fixture(scope="module")
def caught(new_sandbox, broker) -> Callable[[str], tuple[str, str]]:
    """caught(name) -> (the status of the test meant to catch it, the run's output).

    Each round is run once, when the first of its tests asks.
    """
    if broker.kind == "external":
        pytest.skip("the mutant runs need a broker the kata starts")
    statuses: dict[str, tuple[str, str]] = {}

    def run(name: str) -> tuple[str, str]:
        if name not in statuses:
            (names,) = [r for r in ROUNDS if name in r]
            sandbox = new_sandbox()
            _shorten(sandbox, "kata/core/diagnose.py", "EARLY_AFTER", SANDBOX_EARLY_AFTER)
            for each in names:
                _break(sandbox, MISTAKES[each])
            tests = [MISTAKES[each].caught_by for each in names]
            hang = f"kata_hang_after={CAUGHT_HANG_AFTER}"
            args = (f"--broker={broker.kind}", "-o", hang, "--kata-json", "results.json")
            done = sandbox.run(*tests, *args, timeout=120)
            found = {}
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(sandbox.read("results.json"))
                found = {t["nodeid"]: t["status"] for t in data["tests"]}
            for each in names:
                status = found.get(MISTAKES[each].caught_by, "no result")
                statuses[each] = (status, done.stdout + done.stderr)
        return statuses[name]

    return run


@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_classic_mistake_is_caught(caught, name) -> None:
    # The reference answer passes this test in the solutions run; with one
    # mistake in it, the test must fail.
    status, output = caught(name)
    assert status == "fail", f"{MISTAKES[name].caught_by} should catch '{name}':\n{output}"


# --- the kata names each classic mistake, cause first --------------------------------


# kata check stops a learner's hang after LEARNER_HANG_AFTER seconds; the sandbox's
# copy of the kata is given a shorter limit, so that the hang case waits less.
SANDBOX_HANG_AFTER = 2


def _first_failure(output: str) -> tuple[str, list[str]]:
    """The first failing test's name and the lines pytest prints for it."""
    lines = output.splitlines()
    start = next(n for n, line in enumerate(lines) if "= FAILURES =" in line) + 1
    return lines[start].strip("_ "), lines[start + 1 :]


@pytest.mark.parametrize("name", list(NAMED))
def test_kata_check_names_the_classic_mistake_in_the_first_line(mutant, broker, name) -> None:
    sandbox = mutant
    sandbox.env["KATA_BROKER"] = broker.kind
    mistake = NAMED[name]
    also = mistake.also
    learner_limit = f"within {LEARNER_HANG_AFTER:g} s"
    if learner_limit in also:
        _shorten(sandbox, "kata/learner/progress.py", "LEARNER_HANG_AFTER", SANDBOX_HANG_AFTER)
        also = also.replace(learner_limit, f"within {SANDBOX_HANG_AFTER} s")
    _break(sandbox, mistake)
    exercise = mistake.module.split("/")[-1].removesuffix(".py")
    checked = sandbox.kata("check", exercise)
    out = checked.stdout
    assert checked.returncode == 1 and "stopping after 1 failures" in out, out
    test, failure = _first_failure(out)
    assert failure[0].startswith(mistake.named), (
        f"'{name}' should be named first in the failure of {test}:\n{out}"
    )
    assert also in "\n".join(failure), out
    assert "Traceback" not in out and "paho/mqtt/client.py" not in out, out


def test_a_wrong_call_inside_a_callback_is_not_called_a_1x_signature(mutant, broker) -> None:
    sandbox = mutant
    sandbox.env["KATA_BROKER"] = broker.kind
    sandbox.solve("ch03_clients/subscriber.py")
    # The learner's on_message builds a Message with one argument too few: a
    # TypeError about positional arguments on paho's thread that is not paho's
    # call of the callback. (The tests' handlers take any arguments, so the
    # call must be one of the learner's own.)
    sandbox.edit(
        "exercises/ch03_clients/subscriber.py",
        "Message(message.topic, message.payload, message.qos, message.retain)",
        "Message(message.topic, message.payload, message.qos)",
    )
    checked = sandbox.kata("check", "subscriber")
    out = checked.stdout
    assert checked.returncode == 1, out
    assert "missing 1 required positional argument: 'retain'" in out, out
    assert "1.x callback signature" not in out and "on_message(client, userdata" not in out, out
    assert "exercises/ch03_clients/subscriber.py: collect_messages.<locals>.on_message" in out, out
