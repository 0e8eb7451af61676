"""Chapter 4: QoS and persistent sessions (exercises/ch04_delivery/qos.py)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata import exercise
from kata.core.peers import silent_server

qos = exercise("ch04_delivery.qos")
subscriber = exercise("ch03_clients.subscriber")

# Network round trips per example: few examples and no per-example deadline.
BROKER_EXAMPLES = settings(max_examples=8, deadline=None)


def _fields(messages) -> list[tuple]:
    return [(m.topic, m.payload, m.qos, m.retain) for m in messages]


def _publish_all(probe, topic: str, messages: list[tuple[bytes, int]]) -> None:
    """Publish (payload, qos) pairs; return once the broker has routed every one.

    A QoS 0 publish returns when written, not when handled: the acknowledged
    QoS 1 publish at the end comes after it on the same connection.
    """
    for payload, level in messages:
        probe.publish(topic, payload, qos=level)
    probe.publish(f"{topic}-sync", b"", qos=1)


# --- delivered QoS -------------------------------------------------------------


def test_delivered_qos_matches_what_the_broker_does_in_all_nine_cases(topic, probe_factory) -> None:
    predicted = {(p, s): qos.delivered_qos(p, s) for p in range(3) for s in range(3)}
    subscriber_probe, publisher = probe_factory(), probe_factory()
    for s in range(3):
        subscriber_probe.subscribe(f"{topic}/granted{s}", qos=s)
    for p in range(3):
        for s in range(3):
            publisher.publish(f"{topic}/granted{s}", f"published at {p}", qos=p)
    # The last publish was acknowledged, so the broker has routed all nine.
    seen = {(int(m.payload[-1:]), int(m.topic[-1:])): m.qos for m in subscriber_probe.settle()}
    assert len(seen) == 9, f"the broker should have delivered 9 messages, got {len(seen)}"
    for (p, s), actual in sorted(seen.items()):
        assert predicted[(p, s)] == actual, (
            f"published at QoS {p} to a subscription granted QoS {s}, the broker delivered "
            f"at QoS {actual}, but delivered_qos({p}, {s}) = {predicted[(p, s)]!r}"
        )


@pytest.mark.parametrize(("p", "s"), [(-1, 0), (3, 1), (1, 3), (0, -1)])
def test_delivered_qos_rejects_what_is_not_a_qos(p, s) -> None:
    with pytest.raises(ValueError):
        qos.delivered_qos(p, s)


# --- publish_confirmed -----------------------------------------------------------


@pytest.mark.parametrize("level", [0, 1, 2])
def test_a_confirmed_message_has_reached_the_broker(broker, topic, probe, level) -> None:
    probe.subscribe(f"{topic}/confirmed", qos=2)
    confirmed = qos.publish_confirmed(
        broker.host, broker.port, f"{topic}/confirmed", b"safe", level
    )
    assert confirmed is True, f"a QoS {level} publish to a working broker is confirmed: True"
    # PUBACK / PUBCOMP means the broker has routed it already: settle() proves
    # it. QoS 0 "confirmed" only means written: wait for it to arrive.
    got = [probe.get()] if level == 0 else probe.settle()
    assert [(m.payload, m.qos) for m in got] == [(b"safe", level)], (
        f"after publish_confirmed(qos={level}) returned True, the subscriber got {got}. "
        + (
            "At QoS 2 the broker forwards the message when PUBREL arrives: disconnecting "
            "before PUBCOMP is the classic loss. Wait with info.wait_for_publish()."
            if level == 2
            else "Return only once the broker acknowledged the message."
        )
    )


@pytest.mark.parametrize("level", [1, 2])
def test_no_confirmation_when_the_ack_is_lost(
    broker, topic, probe, lossy_link, level, no_thread_leak
) -> None:
    probe.subscribe(f"{topic}/unconfirmed", qos=2)
    link = lossy_link(broker.host, broker.port)
    started = time.monotonic()
    confirmed = qos.publish_confirmed(
        "127.0.0.1", link.port, f"{topic}/unconfirmed", b"maybe", level, timeout=0.2
    )
    waited = time.monotonic() - started
    assert confirmed is False, (
        f"the broker's {'PUBACK' if level == 1 else 'PUBREC'} never came back (the link lost "
        "it): nothing was confirmed, so publish_confirmed must return False, not "
        f"{confirmed!r}"
    )
    assert waited < 3, f"with timeout=0.2 it should give up soon after 0.2 s, took {waited:.1f} s"
    assert link.broker_closed_all(timeout=5), (
        "the broker still holds publish_confirmed's connection: disconnect() before returning"
    )
    got = probe.settle()
    if level == 1:
        # Unconfirmed is not undelivered: a sender that now publishes again
        # makes a duplicate. That is "at least once".
        assert [m.payload for m in got] == [b"maybe"], (
            f"the broker got the PUBLISH, so the subscriber should have it; got {got}"
        )
    else:
        # Mosquitto holds a QoS 2 message until PUBREL, which never came.
        assert got == [], f"no PUBREL, so Mosquitto should not have forwarded it; got {got}"
    no_thread_leak()


def test_qos0_is_confirmed_without_any_ack(broker, topic, probe, lossy_link) -> None:
    probe.subscribe(f"{topic}/fire-and-forget", qos=0)
    link = lossy_link(broker.host, broker.port)
    confirmed = qos.publish_confirmed(
        "127.0.0.1", link.port, f"{topic}/fire-and-forget", b"sent", 0, timeout=2.0
    )
    assert confirmed is True, (
        "QoS 0 has no acknowledgement to wait for: it counts as confirmed once written"
    )
    assert probe.get().payload == b"sent"


def test_publish_confirmed_without_connack_raises_timeout(no_thread_leak) -> None:
    with silent_server() as port, pytest.raises(TimeoutError) as raised:
        qos.publish_confirmed("127.0.0.1", port, "kata/silent", b"x", 1, timeout=0.2)
    assert "CONNACK" in str(raised.value), (
        f"say what did not happen, e.g. 'no CONNACK within 0.2 s from 127.0.0.1:{port}'; "
        f"got {raised.value!r}"
    )
    no_thread_leak()


# --- persistent sessions -----------------------------------------------------------


@pytest.fixture
def session_id(client_id, probe_factory):
    """session_id() -> a client id whose persistent session is wiped after the test."""
    made: list[str] = []

    def make(role: str = "session") -> str:
        made.append(client_id(role))
        return made[-1]

    yield make
    for cid in made:
        # A clean-session connect with the same id discards the stored session.
        probe_factory(client_id=cid, clean_session=True).close()


def test_open_session_leaves_a_session_that_holds_the_subscription(
    broker, topic, probe_factory, session_id, no_thread_leak
) -> None:
    cid = session_id()
    qos.open_session(broker.host, broker.port, cid, f"{topic}/s/#", qos=1)
    no_thread_leak()
    probe_factory().publish(f"{topic}/s/a", b"while away", qos=1)
    back = probe_factory(client_id=cid, clean_session=False)
    try:
        assert back.session_present, (
            "the broker kept no session for this client id: connect with "
            "clean_session=False (mqtt.Client(..., clean_session=False))"
        )
        assert back.get().payload == b"while away", (
            "the session should hold the subscription: disconnect only after the SUBACK"
        )
    finally:
        back.close()


def test_resume_returns_qos1_and_qos2_messages_in_order_but_not_qos0(
    broker, topic, probe, session_id, no_thread_leak
) -> None:
    cid = session_id()
    qos.open_session(broker.host, broker.port, cid, f"{topic}/q", qos=2)
    sent = [(b"a", 0), (b"b", 1), (b"c", 2), (b"d", 0), (b"e", 1), (b"f", 2)]
    _publish_all(probe, f"{topic}/q", sent)
    got = qos.resume_session(broker.host, broker.port, cid, timeout=5.0)
    no_thread_leak()
    assert all(isinstance(m, subscriber.Message) for m in got), (
        "return ch03's Message records (from ..ch03_clients.subscriber import Message)"
    )
    payloads = [m.payload for m in got]
    assert b"a" not in payloads and b"d" not in payloads, (
        f"got {payloads}: QoS 0 messages are never queued for an offline client"
    )
    assert b"f" in payloads, (
        f"got {payloads}: the last QoS 2 message is missing. paho calls on_message for a "
        "QoS 2 message only when PUBREL arrives, so a QoS 1 marker overtakes it: publish "
        "your marker at QoS 2"
    )
    assert sorted(_fields(got)) == [
        (f"{topic}/q", b"b", 1, False),
        (f"{topic}/q", b"c", 2, False),
        (f"{topic}/q", b"e", 1, False),
        (f"{topic}/q", b"f", 2, False),
    ], "the queued messages are the QoS 1 and QoS 2 ones, each exactly once, nothing else"
    for level in (1, 2):
        in_level = [m.payload for m in got if m.qos == level]
        assert in_level == sorted(in_level), (
            f"QoS {level} messages must come in the order they were published; got {in_level}"
        )


def test_resume_returns_exactly_the_queued_messages_once(broker, topic, probe, session_id) -> None:
    @BROKER_EXAMPLES
    @given(levels=st.lists(st.integers(0, 2), max_size=6), granted=st.integers(1, 2))
    def check(levels: list[int], granted: int) -> None:
        cid = session_id()
        qos.open_session(broker.host, broker.port, cid, f"{topic}/{cid}", qos=granted)
        _publish_all(probe, f"{topic}/{cid}", [(str(n).encode(), q) for n, q in enumerate(levels)])
        first = qos.resume_session(broker.host, broker.port, cid, timeout=5.0)
        expected = [(str(n).encode(), min(q, granted)) for n, q in enumerate(levels) if q > 0]
        got = [(m.payload, m.qos) for m in first]
        # Order holds within a QoS level (a QoS 2 message waits for its PUBREL).
        for level in (1, 2):
            assert [g for g in got if g[1] == level] == [e for e in expected if e[1] == level], (
                f"published at QoS {levels} to a session subscribed at QoS {granted}: expected "
                f"(payload, qos) {expected} (in order within each QoS), got {got}"
            )
        assert len(got) == len(expected), f"expected {expected}, got {got}"
        again = qos.resume_session(broker.host, broker.port, cid, timeout=5.0)
        assert again == [], (
            f"a second resume got {again}: messages acknowledged once leave the session's queue"
        )

    check()


def test_resume_gets_every_one_of_many_qos2_messages(broker, topic, probe, session_id) -> None:
    # More than the broker keeps in flight at once (Mosquitto: 20): the last
    # ones go out just before the marker, and paho hands a QoS 2 message to
    # on_message only when its PUBREL arrives, one round trip later.
    cid = session_id()
    qos.open_session(broker.host, broker.port, cid, f"{topic}/many", qos=2)
    sent = [f"m{n:02}".encode() for n in range(30)]
    _publish_all(probe, f"{topic}/many", [(payload, 2) for payload in sent])
    got = [m.payload for m in qos.resume_session(broker.host, broker.port, cid, timeout=5.0)]
    assert got == sent, (
        f"expected the 30 queued QoS 2 messages m00..m29 in order, got {len(got)}: {got}. "
        "If the last ones are missing: a QoS 1 marker overtakes a QoS 2 message that waits "
        "for its PUBREL; publish your marker at QoS 2"
    )


def test_a_fresh_client_id_gets_nothing(broker, topic, probe, session_id) -> None:
    owner, stranger = session_id("owner"), session_id("stranger")
    qos.open_session(broker.host, broker.port, owner, f"{topic}/mine", qos=1)
    probe.publish(f"{topic}/mine", b"for the owner", qos=1)
    assert qos.resume_session(broker.host, broker.port, stranger, timeout=5.0) == [], (
        "a session belongs to one client id: another id has nothing queued"
    )
    owner_got = qos.resume_session(broker.host, broker.port, owner, timeout=5.0)
    assert [m.payload for m in owner_got] == [b"for the owner"]


def test_resume_does_not_wait_out_its_timeout(broker, topic, probe, session_id) -> None:
    cid = session_id()
    qos.open_session(broker.host, broker.port, cid, f"{topic}/quick", qos=1)
    probe.publish(f"{topic}/quick", b"one", qos=1)
    started = time.monotonic()
    got = qos.resume_session(broker.host, broker.port, cid, timeout=4.0)
    waited = time.monotonic() - started
    assert [m.payload for m in got] == [b"one"]
    assert waited < 2.0, (
        f"resume_session took {waited:.1f} s of its 4 s timeout: it cannot know how many "
        "messages are queued, so stop when your own marker comes back, never by waiting"
    )


@pytest.mark.needs_private_broker
def test_queued_messages_survive_a_broker_restart(
    broker_factory, topic, client_id, probe_factory
) -> None:
    private = broker_factory(persistence=True)
    cid = client_id("durable")
    qos.open_session(private.host, private.port, cid, f"{topic}/durable", qos=1)
    publisher = probe_factory(port=private.port)
    for n in range(3):
        publisher.publish(f"{topic}/durable", f"kept {n}", qos=1)
    publisher.close()
    # SIGTERM: mosquitto writes sessions and queues to mosquitto.db, and reads
    # them back when it starts again on the same port.
    private.stop()
    private.start()
    got = qos.resume_session(private.host, private.port, cid, timeout=5.0)
    assert [m.payload for m in got] == [b"kept 0", b"kept 1", b"kept 2"], (
        "with persistence on, the broker keeps sessions and their queued QoS 1 messages "
        f"across a restart; got {got}"
    )
