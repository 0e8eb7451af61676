"""Chapter 3: the subscriber (exercises/ch03_clients/subscriber.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kata import exercise
from kata.core.brokers import free_port
from kata.core.expect import expect_raises, expect_timeout_listing, nothing_listens
from kata.core.i18n import teach
from kata.core.peers import (
    PAST_CONNACK,
    Inbox,
    LineQueue,
    after_next_connack,
    in_background,
    mosquitto_tool,
)
from kata.core.probe import Probe

subscriber = exercise("ch03_clients.subscriber")


def _publish_until_done(probe, topic: str, done, limit: int = 5000) -> int:
    """Publish numbered QoS 1 messages, one after the other, until `done()`.

    The collector subscribes at some moment we cannot see; from then on it
    must get every message, in order. Each publish waits for its PUBACK, so
    this paces itself without sleeping and stops at `limit`.
    """
    sent = 0
    while not done() and sent < limit:
        probe.publish(topic, str(sent).encode(), qos=1)
        sent += 1
    return sent


def test_collect_returns_consecutive_messages_in_order(broker, topic, probe) -> None:
    result = in_background(
        subscriber.collect_messages, broker.host, broker.port, f"{topic}/n", 5, timeout=5.0, qos=1
    )
    _publish_until_done(probe, f"{topic}/n", result.done)
    messages = result.result(timeout=5)
    numbers = [int(m.payload) for m in messages]
    assert len(messages) == 5, f"asked for 5 messages, got {len(messages)}"
    assert numbers == list(range(numbers[0], numbers[0] + 5)), (
        f"once subscribed, every message arrives, in order; got numbers {numbers}"
    )
    first = messages[0]
    assert isinstance(first, subscriber.Message), "return Message records"
    assert (first.topic, first.qos, first.retain) == (f"{topic}/n", 1, False)
    assert isinstance(first.payload, bytes), teach(
        en=f"Message.payload stays bytes (message.payload as paho gives it), got "
        f"{type(first.payload).__name__}: only Subscriber's handler gets decoded text",
        ja=f"Message.payload は bytes のまま (paho が渡す message.payload) にしますが、"
        f"{type(first.payload).__name__} でした。デコードした文字列を受け取るのは "
        "Subscriber のハンドラーだけです",
    )


def test_collect_gets_the_retained_messages_with_their_flag(broker, topic, probe) -> None:
    # Retained messages arrive right after the SUBACK, with the retain flag set.
    for name in ("a", "b", "c"):
        probe.publish(f"{topic}/r/{name}", f"value {name}", qos=1, retain=True)
    messages = subscriber.collect_messages(broker.host, broker.port, f"{topic}/r/#", 3)
    assert sorted((m.topic, m.payload) for m in messages) == [
        (f"{topic}/r/{n}", f"value {n}".encode()) for n in ("a", "b", "c")
    ]
    flags = [m.retain for m in messages]
    assert flags == [True] * 3, teach(
        en=f"retained messages arrive with the retain flag set; the Messages had retain={flags}: "
        "copy message.retain into Message",
        ja=f"保持メッセージは retain フラグ付きで届きますが、Message の retain は {flags} "
        "でした。message.retain を Message に写します",
    )


def test_collect_times_out_listing_what_arrived(broker, topic, probe, no_thread_leak) -> None:
    probe.publish(f"{topic}/few", b"only-one", qos=1, retain=True)
    expect_timeout_listing(
        subscriber.collect_messages, broker.host, broker.port, f"{topic}/few", 2, arrived="only-one"
    )
    no_thread_leak()


def test_collect_leaves_no_network_thread(broker, topic, probe, no_thread_leak) -> None:
    probe.publish(f"{topic}/one", b"x", qos=1, retain=True)
    subscriber.collect_messages(broker.host, broker.port, f"{topic}/one", 1)
    no_thread_leak()


# What to check when the handler is not called for a message published after start().
NOT_CALLED = teach(
    en="a message published after start() returned should reach it (does start() wait for "
    "the SUBACK? does on_message call it?)",
    ja="start() が戻ったあとにパブリッシュしたメッセージは届くはずです (start() は SUBACK を"
    "待っていますか? on_message から呼んでいますか?)",
)


@pytest.fixture
def running(broker):
    """running(filter, handler, qos=0, port=None) -> a started Subscriber, stopped after."""
    started = []

    def start(topic_filter, handler, qos=0, port=None):
        sub = subscriber.Subscriber(
            broker.host, port or broker.port, topic_filter, handler, qos=qos
        )
        sub.start(timeout=5.0)
        started.append(sub)
        return sub

    yield start
    for sub in started:
        sub.stop()


def test_started_subscriber_gets_a_message_published_right_away(topic, probe, running) -> None:
    inbox = Inbox()
    running(f"{topic}/live", inbox, qos=1)
    probe.publish(f"{topic}/live", b"first", qos=1)
    call = inbox.next_or_none()
    assert call is not None, teach(
        en="a message published right after start() returned did not reach the handler: "
        "start() must return only once the SUBACK arrived (on_subscribe). Only the SUBACK "
        "tells you that the broker has the subscription; a message published before that "
        "is not delivered to it",
        ja="start() が戻った直後にパブリッシュしたメッセージがハンドラーに届きませんでした。"
        "start() は SUBACK が届いてから (on_subscribe) 戻ります。ブローカーがサブスクリプ"
        "ションを受け付けたと分かるのは SUBACK だけで、それより前にパブリッシュされた"
        "メッセージは届きません",
    )
    expected = (f"{topic}/live", "first")
    assert call == expected, f"handler(topic, text) was called with {call!r}, not {expected!r}"


def test_start_waits_for_the_suback(scripted_broker, no_thread_leak) -> None:
    # A short timeout proves the point once the SUBSCRIBE reached the server (the
    # CONNACK came in time); on a machine too busy for that, once more with time.
    for timeout in PAST_CONNACK:
        # This fake broker sends CONNACK, then never acknowledges anything.
        silent_after_connack = scripted_broker(suback_after=None, puback_after=None)
        port = silent_after_connack.port
        sub = subscriber.Subscriber("127.0.0.1", port, "kata/no-suback", Inbox())
        expect_raises(
            TimeoutError,
            sub.start, timeout=timeout,
            why=teach(
                en="the broker never sent a SUBACK. Only the SUBACK tells you that the "
                "subscription is in place: wait for on_subscribe (self.subscribed), not only "
                "for on_connect",
                ja="ブローカーは SUBACK を送っていません。サブスクリプションが登録されたと"
                "分かるのは SUBACK が届いたときだけです: on_connect だけでなく on_subscribe "
                "(self.subscribed) を待ちます",
            ),
            undo=lambda _, sub=sub: sub.stop(),  # it started after all: stop its network thread
        )  # fmt: skip
        if silent_after_connack.received["SUBSCRIBE"].is_set():
            break
    no_thread_leak()


def test_handler_gets_text_not_bytes(topic, probe, running) -> None:
    inbox = Inbox()
    running(f"{topic}/text", inbox, qos=1)
    probe.publish(f"{topic}/text", "21.5 °C".encode(), qos=1)
    got_topic, text = inbox.next(why=NOT_CALLED)
    assert isinstance(text, str), teach(
        en=f"handler(topic, text) gets str, got {type(text).__name__}: message.payload is "
        "bytes; decode it with message.payload.decode('utf-8')",
        ja=f"handler(topic, text) には str を渡しますが、{type(text).__name__} でした。"
        "message.payload は bytes なので message.payload.decode('utf-8') でデコードします",
    )
    assert (got_topic, text) == (f"{topic}/text", "21.5 °C"), "decode the payload as UTF-8"


def test_a_failing_handler_is_counted_and_delivery_goes_on(topic, probe, running) -> None:
    inbox = Inbox(fail_on={"bad"})
    sub = running(f"{topic}/errors", inbox, qos=1)
    probe.publish(f"{topic}/errors", b"bad", qos=1)
    probe.publish(f"{topic}/errors", b"good", qos=1)
    texts = [call[1] for call in (inbox.next_or_none(), inbox.next_or_none()) if call]
    assert texts == ["bad", "good"], teach(
        en=f"the handler raised for 'bad', then got {texts[1:]} instead of ['good']: "
        "on_message runs on paho's network thread, and an exception that escapes it stops "
        "that thread. Catch the handler's exception there and count it in errors",
        ja=f"ハンドラーが 'bad' で例外を出したあと、['good'] ではなく {texts[1:]} を受け取り"
        "ました。on_message は paho のネットワークスレッドで動き、そこから例外が出ると"
        "スレッドが止まります。on_message でハンドラーの例外を捕まえ、errors に数えます",
    )
    assert sub.errors == 1, f"errors counts handler failures: expected 1, got {sub.errors}"


def test_stop_leaves_no_network_thread(topic, running, no_thread_leak) -> None:
    sub = running(f"{topic}/stop", Inbox())
    sub.stop()
    no_thread_leak()


def test_start_on_a_closed_port_fails_and_leaves_no_thread(no_thread_leak) -> None:
    sub = subscriber.Subscriber("127.0.0.1", free_port(), "kata/x", Inbox())
    expect_raises(
        (OSError, TimeoutError),
        sub.start, timeout=1.0,
        why=nothing_listens(),
    )  # fmt: skip
    no_thread_leak()


@pytest.mark.needs_private_broker
def test_subscription_comes_back_after_the_broker_restarts(broker_factory, topic) -> None:
    private = broker_factory()
    inbox = Inbox()
    sub = subscriber.Subscriber(private.host, private.port, f"{topic}/again", inbox, qos=1)
    # paho waits 1 s before its first reconnect; what is tested is what happens
    # after it, so the given client tries sooner (and again while the broker starts).
    sub.client.reconnect_delay_set(min_delay=0.02, max_delay=0.1)  # type: ignore[arg-type]
    sub.start(timeout=5.0)
    reconnected = after_next_connack(sub.client)
    try:
        # Killed as in a crash (it has nothing to save): its clients notice at once.
        private.kill()
        private.start()
        # This broker keeps no sessions: a retained message reaches the
        # subscriber only if it reconnected AND subscribed again (on_connect).
        with Probe(private.host, private.port) as publisher:
            publisher.publish(f"{topic}/again", b"after restart", qos=1, retain=True)
            back = reconnected.wait(8.0)
            call = inbox.next_or_none(timeout=2.0) if back else None
    finally:
        sub.stop()
    assert back, teach(
        en="after the broker restarted, the subscriber did not connect again within 8 s: "
        "keep paho's loop_start() thread running, it reconnects by itself",
        ja="ブローカーを再起動したあと、8 秒以内にサブスクライバーが再接続しませんでした。"
        "loop_start() のスレッドを動かしたままにします。再接続は自動で行われます",
    )
    assert call is not None, teach(
        en="after the broker restarted, the subscriber connected again, but a retained "
        "message published there did not reach the handler within 2 s. The new connection "
        "starts a clean session without subscriptions: subscribe in on_connect, which runs "
        "after every CONNACK",
        ja="ブローカーを再起動したあと、サブスクライバーは再接続しましたが、そこでパブリッシュ"
        "した保持メッセージが 2 秒以内にハンドラーに届きませんでした。新しい接続は"
        "サブスクリプションのないクリーンセッションで始まります。CONNACK のたびに呼ばれる"
        " on_connect の中でサブスクライブします",
    )
    got_topic, text = call
    assert isinstance(text, str), teach(
        en=f"after the reconnect the handler got {type(text).__name__}, not str: decode "
        "message.payload with .decode('utf-8')",
        ja=f"再接続のあと、ハンドラーが受け取ったのは str ではなく {type(text).__name__} "
        "でした。message.payload を .decode('utf-8') でデコードします",
    )
    assert (got_topic, text) == (f"{topic}/again", "after restart")


def test_main_prints_received_lines(broker, topic, probe, monkeypatch) -> None:
    out = LineQueue()
    monkeypatch.setattr(sys, "stdout", out)
    args = ["--host", broker.host, "--port", str(broker.port), "--topic", f"{topic}/cli"]
    done = out.follow(in_background(subscriber.main, [*args, "--qos", "1", "--count", "2"]))
    out.wait_for(lambda line: line.startswith("Subscribed"))
    probe.publish(f"{topic}/cli", b"Hello MQTT #0", qos=1)
    probe.publish(f"{topic}/cli", b"Hello MQTT #1", qos=1)
    assert done.result(timeout=5) == 0
    assert [out.lines.get_nowait() for _ in range(2)] == [
        f"Received 'Hello MQTT #0' on topic '{topic}/cli'",
        f"Received 'Hello MQTT #1' on topic '{topic}/cli'",
    ]


@pytest.mark.skipif(mosquitto_tool("mosquitto_pub") is None, reason="mosquitto_pub not installed")
def test_subscriber_hears_mosquitto_pub(broker, topic, running) -> None:
    # An independent publisher: the command line client that comes with Mosquitto.
    inbox = Inbox()
    running(f"{topic}/tool", inbox)
    pub = [mosquitto_tool("mosquitto_pub"), "-h", broker.host, "-p", str(broker.port)]
    subprocess.run([*pub, "-t", f"{topic}/tool", "-m", "from mosquitto_pub"], check=True, timeout=5)
    assert inbox.next(why=NOT_CALLED) == (f"{topic}/tool", "from mosquitto_pub")
