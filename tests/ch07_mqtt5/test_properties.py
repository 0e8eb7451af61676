"""Chapter 7: MQTT 5 properties (exercises/ch07_mqtt5/properties.py)."""

from __future__ import annotations

import math
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kata import exercise
from kata.core.expect import expect_raises, expect_timeout_listing
from kata.core.i18n import teach
from kata.core.probe import Probe

properties = exercise("ch07_mqtt5.properties")
subscriber = exercise("ch03_clients.subscriber")


@pytest.fixture
def v5_probe(probe_factory) -> Probe:
    return probe_factory(protocol=mqtt.MQTTv5)


def _publish_props(**fields: object) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    for name, value in fields.items():
        setattr(props, name, value)
    return props


def test_user_properties_and_content_type_arrive_as_sent(broker, topic, v5_probe) -> None:
    v5_probe.subscribe(f"{topic}/meta", qos=1)
    properties.publish_with_properties(
        broker.host,
        broker.port,
        f"{topic}/meta",
        b'{"t": 21.5}',
        user_properties={"sensor": "s1", "unit": "°C"},
        content_type="application/json",
    )
    got = v5_probe.get()
    assert got.payload == b'{"t": 21.5}', "the payload travels unchanged beside its properties"
    assert dict(got.properties.get("UserProperty", [])) == {"sensor": "s1", "unit": "°C"}, teach(
        en="each user_properties pair should arrive as a User Property (MQTT 5.0 §3.3.2.3.7); "
        f"the subscriber saw {got.properties.get('UserProperty')!r}",
        ja="user_properties のペアはそれぞれユーザープロパティとして届くはずです "
        f"(MQTT 5.0 §3.3.2.3.7)。サブスクライバーが見たのは {got.properties.get('UserProperty')!r}",
    )
    assert got.properties.get("ContentType") == "application/json", teach(
        en="content_type goes into the Content Type property (§3.3.2.3.9); "
        f"the subscriber saw {got.properties.get('ContentType')!r}",
        ja="content_type はコンテンツタイプのプロパティに入れます (§3.3.2.3.9)。"
        f"サブスクライバーが見たのは {got.properties.get('ContentType')!r}",
    )
    assert got.qos == 1, "publish_with_properties publishes at QoS 1 (kept for sessions away)"


def test_absent_options_send_no_property(broker, topic, v5_probe) -> None:
    v5_probe.subscribe(f"{topic}/bare", qos=1)
    properties.publish_with_properties(
        broker.host, broker.port, f"{topic}/bare", b"plain", user_properties={}
    )
    sent = set(v5_probe.get().properties) & {"UserProperty", "ContentType", "MessageExpiryInterval"}
    assert not sent, teach(
        en=f"nothing was asked for, yet the message carried {sorted(sent)}: set a property "
        "only when its option is given",
        ja=f"何も指定していないのに、メッセージに {sorted(sent)} が付いていました: "
        "プロパティは、そのオプションが指定されたときだけ設定します",
    )


def test_the_receiver_sees_the_lifetime_that_remains(broker, topic, v5_probe) -> None:
    v5_probe.subscribe(f"{topic}/ttl", qos=1)
    properties.publish_with_properties(
        broker.host, broker.port, f"{topic}/ttl", b"x", user_properties={}, message_expiry_s=60
    )
    remaining = v5_probe.get().properties.get("MessageExpiryInterval")
    assert remaining is not None and 58 <= remaining <= 60, teach(
        en="message_expiry_s=60 should set the Message Expiry Interval; the broker forwards the "
        f"seconds that remain (59 or 60 here), the subscriber saw {remaining!r}",
        ja="message_expiry_s=60 はメッセージの有効期限を設定するはずです。ブローカーは残りの"
        f"秒数 (ここでは 59 か 60) を転送します。サブスクライバーが見たのは {remaining!r}",
    )


def test_an_impossible_expiry_is_refused(broker, topic) -> None:
    for wrong in (0, -5, 2**32):
        expect_raises(
            ValueError,
            properties.publish_with_properties,
            broker.host, broker.port, f"{topic}/x", b"x", user_properties={},
            message_expiry_s=wrong,
            why=teach(
                en="the Message Expiry Interval is 1..4294967295 s (a four-byte integer); "
                "use _check_interval",
                ja="メッセージの有効期限は 1..4294967295 秒 (4 バイトの整数) です。"
                "_check_interval を使います",
            ),
        )  # fmt: skip


_TEXT = st.text(
    # MQTT strings are UTF-8 without U+0000; surrogates cannot be encoded and
    # brokers may refuse control characters and unassigned code points.
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")),
    max_size=12,
)


def test_any_user_properties_round_trip(broker, topic, v5_probe) -> None:
    # One subscription for all examples: a new SUBSCRIBE right after a PUBACK
    # waits ~40 ms for TCP's delayed ACK.
    v5_probe.subscribe(f"{topic}/rt/+", qos=1)

    @settings(max_examples=15, deadline=None)
    @given(pairs=st.dictionaries(_TEXT, _TEXT, max_size=4))
    def round_trip(pairs: dict[str, str]) -> None:
        name = f"{topic}/rt/{uuid.uuid4().hex[:6]}"
        properties.publish_with_properties(
            broker.host, broker.port, name, b"", user_properties=pairs
        )
        got = dict(v5_probe.get().properties.get("UserProperty", []))
        assert got == pairs, "user properties are UTF-8 string pairs: any text arrives unchanged"

    round_trip()


def test_collect_returns_each_message_with_its_properties(broker, topic, v5_probe) -> None:
    # A retained message keeps its properties and reaches a subscriber that
    # arrives later: no need to know when collect_with_properties subscribes.
    v5_probe.publish(
        f"{topic}/kept",
        b"21.5",
        qos=1,
        retain=True,
        properties=_publish_props(UserProperty=[("sensor", "s7")], ContentType="text/plain"),
    )
    got = properties.collect_with_properties(broker.host, broker.port, f"{topic}/#", 1)
    assert len(got) == 1, f"asked for one message, got {len(got)}"
    message, props = got[0]
    assert message == subscriber.Message(f"{topic}/kept", b"21.5", 1, True), (
        "the first item of each pair is the chapter 3 Message(topic, payload, qos, retain)"
    )
    assert props == {
        "user_properties": {"sensor": "s7"},
        "content_type": "text/plain",
        "message_expiry_s": None,
    }, "the second is the properties dict: user_properties, content_type, message_expiry_s"


def test_collect_times_out_listing_what_arrived(broker, topic, v5_probe, no_thread_leak) -> None:
    v5_probe.publish(f"{topic}/one", b"only-one", qos=1, retain=True)
    expect_timeout_listing(
        properties.collect_with_properties,
        broker.host,
        broker.port,
        f"{topic}/one",
        2,
        arrived="only-one",
    )
    no_thread_leak()


def _leave_a_session(host: str, port: int, client_id: str, topic_filter: str) -> None:
    """Subscribe as `client_id` with a session that outlives the connection, then go away."""
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    connect_props = Properties(PacketTypes.CONNECT)
    connect_props.SessionExpiryInterval = 60
    client.connect(host, port, clean_start=True, properties=connect_props)
    client.loop_start()
    try:
        assert subscribed.wait(5), "setup: the session's subscription was not acknowledged"
    finally:
        client.disconnect()
        client.loop_stop()


def _wait_until_expired(published_by: float, expiry_s: int) -> None:
    """Wait until the broker's clock has passed the lifetime of a message sent by `published_by`.

    This is the chapter's one wait on a clock, forced by the protocol: the
    interval is whole seconds and mosquitto keeps its clock in whole
    seconds, dropping a message once int(now) > int(sent) + expiry, so the
    moment comes between `expiry_s` and `expiry_s + 1` seconds after sending.
    No packet announces it. mosquitto reads the clock with time(), the
    kernel's coarse clock, which lags time.time() by up to one tick (a few
    ms): hence the 0.1 s margin. Docker containers share this machine's clock.
    """
    expired_at = math.floor(published_by) + expiry_s + 1 + 0.1
    threading.Event().wait(max(0.0, expired_at - time.time()))


def _resume(private, me: str, topic: str) -> list:
    try:
        return properties.collect_with_properties(
            private.host, private.port, f"{topic}/#", 1, timeout=2.0, client_id=me,
            session_expiry_s=60,
        )  # fmt: skip
    except TimeoutError as exc:
        raise AssertionError(
            teach(
                en="nothing the broker kept for the session came back: resume it with the same "
                f"client id, clean_start=False and a Session Expiry Interval ({exc})",
                ja="ブローカーがセッションのために取っておいたものが何も届きません: 同じ"
                "クライアント ID、clean_start=False、セッションの有効期限 (Session Expiry "
                f"Interval) で再開します ({exc})",
            )
        ) from None


@pytest.mark.slow  # a 1 s message expiry, 1-2 s
def test_a_session_back_too_late_gets_only_what_is_still_valid(
    private_broker, topic, client_id
) -> None:
    private = private_broker
    me = client_id("away")
    _leave_a_session(private.host, private.port, me, f"{topic}/#")
    sent_by: dict[bytes, float] = {}
    for payload, lifetime in ((b"stale", 1), (b"fresh", 60)):
        properties.publish_with_properties(
            private.host, private.port, f"{topic}/news", payload,
            user_properties={"lifetime": str(lifetime)}, message_expiry_s=lifetime,
        )  # fmt: skip
        sent_by[payload] = time.time()
    _wait_until_expired(sent_by[b"stale"], 1)
    message, props = _resume(private, me, topic)[0]
    assert message.payload == b"fresh", teach(
        en="the 1 s message expired while the session was away and must not be delivered; the "
        f"first message back was {message.payload!r}",
        ja="1 秒のメッセージはセッションがいない間に期限が切れたので、配信されてはいけません。"
        f"最初に届いたのは {message.payload!r} でした",
    )
    assert props["user_properties"] == {"lifetime": "60"}
    remaining = props["message_expiry_s"]
    assert remaining is not None and 0 < remaining < 60, (
        "a message kept for a session carries the lifetime it has left (less than the 60 s "
        f"it was sent with); got {remaining!r}"
    )


def test_a_session_back_in_time_gets_its_message(private_broker, topic, client_id) -> None:
    private = private_broker
    me = client_id("away")
    _leave_a_session(private.host, private.port, me, f"{topic}/#")
    properties.publish_with_properties(
        private.host, private.port, f"{topic}/news", b"kept", user_properties={},
        message_expiry_s=30,
    )  # fmt: skip
    got = _resume(private, me, topic)
    assert [(m.payload, m.qos) for m, _ in got] == [(b"kept", 1)], (
        "a message still within its lifetime is delivered to the session when it comes back"
    )
