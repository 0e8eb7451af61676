"""Chapter 4: retained messages (exercises/ch04_delivery/retain.py)."""

from __future__ import annotations

import subprocess
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata import exercise
from kata.core.peers import mosquitto_tool, silent_server

retain = exercise("ch04_delivery.retain")


def test_a_new_subscriber_gets_the_retained_value_with_the_flag(
    broker, topic, probe, no_thread_leak
) -> None:
    retain.set_retained(broker.host, broker.port, f"{topic}/temp", b"21.5")
    no_thread_leak()
    probe.subscribe(f"{topic}/temp", qos=1)
    got = [(m.payload, m.retain) for m in probe.settle()]
    assert got == [(b"21.5", True)], (
        "a subscriber that arrives after set_retained gets the value at once, with the "
        f"retain flag; it got (payload, retain) {got}. Publish with retain=True."
    )


def test_a_second_retained_value_replaces_the_first(broker, topic, probe) -> None:
    retain.set_retained(broker.host, broker.port, f"{topic}/temp", b"old")
    retain.set_retained(broker.host, broker.port, f"{topic}/temp", "new")
    probe.subscribe(f"{topic}/temp", qos=1)
    got = probe.settle()
    assert [(m.payload, m.retain) for m in got] == [(b"new", True)], (
        f"the broker keeps one retained message per topic, the newest; a subscriber got {got}"
    )


def test_clear_retained_removes_the_value(broker, topic, probe, no_thread_leak) -> None:
    retain.set_retained(broker.host, broker.port, f"{topic}/door", b"open")
    retain.clear_retained(broker.host, broker.port, f"{topic}/door")
    no_thread_leak()
    probe.subscribe(f"{topic}/door", qos=1)
    left = probe.settle()
    if left and left[0].payload == b"open":
        why = "the old value is still there: publish the empty payload WITH retain=True"
    elif left:
        why = (
            f"a retained {left[0].payload!r} replaced the value instead of deleting it: "
            "only an EMPTY payload clears"
        )
    else:
        why = ""
    assert not left, f"after clear_retained a new subscriber should get nothing; {why}"


def test_read_retained_returns_the_last_value_as_bytes(broker, topic, probe) -> None:
    probe.publish(f"{topic}/mode", b"eco", qos=1, retain=True)
    probe.publish(f"{topic}/mode", b"boost", qos=1, retain=True)
    got = retain.read_retained(broker.host, broker.port, f"{topic}/mode", timeout=5.0)
    assert got == b"boost", f"expected the last retained value b'boost', got {got!r}"


def test_read_retained_is_none_for_an_empty_topic_without_waiting(
    broker, topic, no_thread_leak
) -> None:
    started = time.monotonic()
    got = retain.read_retained(broker.host, broker.port, f"{topic}/nothing", timeout=4.0)
    waited = time.monotonic() - started
    no_thread_leak()
    assert got is None, f"a topic that holds no retained message reads as None, not {got!r}"
    assert waited < 2.0, (
        f"read_retained took {waited:.1f} s of its 4 s timeout to say None: prove that "
        "nothing is retained with a marker you publish after the SUBACK, never by waiting"
    )


def test_what_is_set_is_read_back_until_cleared(broker, topic) -> None:
    where = f"{topic}/roundtrip"

    @settings(max_examples=10, deadline=None)
    @given(payload=st.binary(min_size=1, max_size=64))
    def check(payload: bytes) -> None:
        retain.set_retained(broker.host, broker.port, where, payload)
        got = retain.read_retained(broker.host, broker.port, where, timeout=5.0)
        assert got == payload, f"set_retained({payload!r}) then read_retained gave {got!r}"
        retain.clear_retained(broker.host, broker.port, where)
        cleared = retain.read_retained(broker.host, broker.port, where, timeout=5.0)
        assert cleared is None, f"after clear_retained, read_retained gave {cleared!r}, not None"

    check()


def test_read_retained_without_connack_raises_timeout(no_thread_leak) -> None:
    with silent_server() as port, pytest.raises(TimeoutError):
        retain.read_retained("127.0.0.1", port, "kata/silent", timeout=0.2)
    no_thread_leak()


@pytest.mark.skipif(mosquitto_tool("mosquitto_sub") is None, reason="mosquitto_sub not installed")
def test_mosquitto_sub_sees_the_retained_value(broker, topic) -> None:
    retain.set_retained(broker.host, broker.port, f"{topic}/cli", "from set_retained")
    sub = mosquitto_tool("mosquitto_sub")
    argv = [sub, "-h", broker.host, "-p", str(broker.port), "-t", f"{topic}/cli"]
    # -C 1: exit after one message; -W 5: give up after 5 s if none comes.
    done = subprocess.run(
        [*argv, "-v", "-C", "1", "-W", "5"], capture_output=True, text=True, timeout=10
    )  # type: ignore[list-item]
    assert done.stdout.strip() == f"{topic}/cli from set_retained", (
        f"mosquitto_sub, subscribing later, should print the retained value; got {done.stdout!r}"
    )
