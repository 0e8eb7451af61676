"""Chapter 3: the publisher (exercises/ch03_clients/publisher.py)."""

from __future__ import annotations

import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kata import exercise
from kata.core.brokers import free_port
from kata.core.expect import expect_connack_timeout, expect_raises, nothing_listens
from kata.core.i18n import teach
from kata.core.peers import PAST_CONNACK, Peer, mosquitto_tool

publisher = exercise("ch03_clients.publisher")


def test_make_client_uses_the_version2_callback_api() -> None:
    client = publisher.make_client("kata-api-check")
    assert client.callback_api_version == CallbackAPIVersion.VERSION2, teach(
        en="make_client must create mqtt.Client(CallbackAPIVersion.VERSION2, ...): the study "
        "plan's mqtt.Client() picks the 1.x callback API, deprecated in paho-mqtt 2.x",
        ja="make_client は mqtt.Client(CallbackAPIVersion.VERSION2, ...) で作ります。"
        "元の講座の mqtt.Client() は 1.x のコールバック API を選び、paho-mqtt 2.x では非推奨です",
    )


def test_make_client_keeps_the_given_id() -> None:
    # paho keeps the id as bytes in _client_id; it has no public getter.
    got = publisher.make_client("kata-given-id")._client_id
    assert got == b"kata-given-id", f"make_client('kata-given-id') made a client with id {got!r}"


def test_make_client_gives_each_client_its_own_id() -> None:
    first, second = publisher.make_client(), publisher.make_client()
    assert first._client_id and second._client_id, teach(
        en="make_client() without an id should make one up (e.g. with uuid): an empty id "
        "only works for clean sessions and hides who is who in the broker's log",
        ja="make_client() に ID が渡されなければ、ID を作ります (uuid などで)。空の ID は"
        "クリーンセッションでしか使えず、ブローカーのログでどれが誰か分からなくなります",
    )
    assert first._client_id != second._client_id, teach(
        en="two make_client() calls gave the same client id: two clients with one id throw "
        "each other off the broker (the newer connection takes over)",
        ja="make_client() を 2 回呼んだら同じクライアント ID になりました。同じ ID の"
        "クライアントが 2 つあると、ブローカーは古いほうの接続を切ります",
    )


def test_connect_client_returns_once_the_connack_accepted_it(broker, topic, probe) -> None:
    probe.subscribe(f"{topic}/up", qos=1)
    client = publisher.connect_client(broker.host, broker.port, timeout=5.0)
    try:
        connected = client.is_connected()
        info = client.publish(f"{topic}/up", b"hello", qos=1)
        info.wait_for_publish(5.0)
        confirmed = info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()
    assert connected, teach(
        en="connect_client returned before the CONNACK arrived (is_connected() was False): "
        "connect() only sends CONNECT; wait until on_connect has run",
        ja="connect_client が CONNACK の届く前に戻りました (is_connected() が False)。"
        "connect() は CONNECT を送るだけです。on_connect が呼ばれるまで待ちます",
    )
    assert confirmed, teach(
        en="a QoS 1 message published on the client from connect_client got no PUBACK within "
        "5 s: the network loop must be running (loop_start()) to read the broker's answers",
        ja="connect_client が返したクライアントで QoS 1 をパブリッシュしましたが、5 秒以内に "
        "PUBACK を受け取れませんでした。ブローカーの返事を読むにはネットワークループ "
        "(loop_start()) が動いている必要があります",
    )
    assert probe.get().payload == b"hello"


@pytest.mark.needs_listener("auth")
def test_connect_client_raises_when_the_connack_refuses(broker, no_thread_leak) -> None:
    # The auth listener refuses clients without a user name: CONNACK "Not authorized".
    expect_raises(
        ConnectionRefusedError,
        publisher.connect_client, broker.host, broker.auth_port, timeout=5.0,
        why=teach(
            en="this listener refuses anonymous clients. A CONNACK can say no: check "
            "reason_code.is_failure in on_connect",
            ja="このリスナーは匿名のクライアントを拒否します。CONNACK は拒否を返すことも"
            "あります: on_connect で reason_code.is_failure を確かめます",
        ),
    )  # fmt: skip
    no_thread_leak()


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_messages_arrive_in_order_with_the_requested_qos(broker, topic, probe, qos) -> None:
    probe.subscribe(f"{topic}/data", qos=2)
    sent = publisher.publish_messages(
        broker.host, broker.port, f"{topic}/data", ["one", "two", "three"], qos=qos
    )
    assert sent == 3, f"publish_messages should return how many it sent (3), not {sent!r}"
    got = probe.expect(3)
    assert [m.payload for m in got] == [b"one", b"two", b"three"], "order must be kept"
    assert [m.qos for m in got] == [qos] * 3, teach(
        en=f"published at QoS {qos} to a QoS 2 subscription, each message should arrive at "
        f"QoS {qos} (the lower of the two); got {[m.qos for m in got]}: pass qos to publish()",
        ja=f"QoS {qos} でパブリッシュし、QoS 2 でサブスクライブしているので、どのメッセージも "
        f"QoS {qos} (低いほう) で届くはずですが、{[m.qos for m in got]} でした。"
        "publish() に qos を渡します",
    )


@pytest.mark.parametrize("qos", [1, 2])
def test_every_message_is_confirmed_before_the_disconnect(broker, topic, probe, qos) -> None:
    messages = [f"m{i}" for i in range(200)]
    probe.subscribe(f"{topic}/bulk", qos=qos)
    sent = publisher.publish_messages(broker.host, broker.port, f"{topic}/bulk", messages, qos=qos)
    got = probe.settle()
    assert sent == 200
    assert len(got) == 200, teach(
        en=f"only {len(got)} of 200 QoS {qos} messages reached the broker. paho sends at most "
        "20 QoS 1/2 messages before their acknowledgements come back and queues the rest; "
        "disconnect() right after publish() drops them. Call wait_for_publish() on every "
        "MQTTMessageInfo first",
        ja=f"QoS {qos} のメッセージ 200 件のうち、ブローカーに届いたのは {len(got)} 件です。"
        "paho は確認応答が戻る前に送る QoS 1/2 のメッセージを 20 件までにし、残りは"
        "キューに入れておきます。publish() の直後に disconnect() するとそれらは失われます。"
        "先にすべての MQTTMessageInfo で wait_for_publish() を呼びます",
    )
    assert [m.payload.decode() for m in got] == messages


@pytest.mark.parametrize(("qos", "ack"), [(1, "PUBACK"), (2, "PUBREC")])
def test_an_unconfirmed_message_is_a_timeout(scripted_broker, no_thread_leak, qos, ack) -> None:
    # A short timeout proves the point once the PUBLISH reached the server (the
    # CONNACK came in time); on a machine too busy for that, once more with time.
    for timeout in PAST_CONNACK:
        # This fake broker sends CONNACK, then never acknowledges anything.
        silent_after_connack = scripted_broker(suback_after=None, puback_after=None)
        expect_raises(
            TimeoutError,
            publisher.publish_messages,
            "127.0.0.1", silent_after_connack.port, "kata/unconfirmed", ["x"], qos=qos,
            timeout=timeout,
            why=teach(
                en=f"no {ack} came back for its QoS {qos} message. wait_for_publish(timeout) "
                "returns quietly at the timeout: check info.is_published() afterwards",
                ja=f"QoS {qos} のメッセージに {ack} が返ってきません。wait_for_publish(timeout) "
                "はタイムアウトしても例外を出さずに戻ります。そのあと info.is_published() "
                "を確かめます",
            ),
        )  # fmt: skip
        if silent_after_connack.received["PUBLISH"].is_set():
            break
    no_thread_leak()


def test_the_retain_flag_reaches_the_broker(broker, topic, probe_factory) -> None:
    publisher.publish_messages(
        broker.host, broker.port, f"{topic}/state", ["old", "last"], qos=1, retain=True
    )
    late = probe_factory()
    late.subscribe(f"{topic}/state", qos=1)
    got = late.settle()
    assert [(m.payload, m.retain) for m in got] == [(b"last", True)], teach(
        en="a subscriber that arrives later gets the last retained message, with the retain "
        f"flag; it got {[(m.payload, m.retain) for m in got]}: pass retain to publish()",
        ja="あとから来たサブスクライバーは、最後の保持メッセージを retain フラグ付きで受け取る"
        f"はずですが、受け取ったのは {[(m.payload, m.retain) for m in got]} でした。"
        "publish() に retain を渡します",
    )


def test_bytes_and_text_payloads_arrive_unchanged(broker, topic, probe) -> None:
    probe.subscribe(f"{topic}/raw", qos=1)
    payloads = [b"\x00\xff binary", "21.5 °C", ""]
    publisher.publish_messages(broker.host, broker.port, f"{topic}/raw", payloads, qos=1)
    got = [m.payload for m in probe.expect(3)]
    assert got == [b"\x00\xff binary", "21.5 °C".encode(), b""], (
        "bytes are sent as they are and text as UTF-8"
    )


def test_no_network_thread_outlives_the_call(broker, topic, no_thread_leak) -> None:
    publisher.publish_messages(broker.host, broker.port, f"{topic}/t", ["x"], qos=1)
    no_thread_leak()


def test_a_closed_port_raises_at_once(no_thread_leak) -> None:
    expect_raises(
        OSError,
        publisher.publish_messages, "127.0.0.1", free_port(), "kata/nowhere", ["x"], timeout=2.0,
        why=nothing_listens(),
    )  # fmt: skip
    no_thread_leak()


def test_a_server_that_never_answers_times_out_naming_connack(
    silent_server, no_thread_leak
) -> None:
    expect_connack_timeout(
        publisher.publish_messages, "127.0.0.1", silent_server, "kata/silent", ["x"], timeout=0.05
    )
    no_thread_leak()


def _cli(broker, topic: str, count: int, qos: int = 1) -> list[str]:
    return [
        "--host", broker.host, "--port", str(broker.port), "--topic", topic,
        "--count", str(count), "--qos", str(qos), "--interval", "0",
    ]  # fmt: skip


def test_main_prints_a_sent_line_per_message(broker, topic, probe, capsys) -> None:
    probe.subscribe(f"{topic}/cli", qos=1)
    assert publisher.main(_cli(broker, f"{topic}/cli", 3)) == 0
    printed = capsys.readouterr().out.splitlines()
    received = [m.payload.decode() for m in probe.expect(3)]
    assert printed == [f"Sent: {text}" for text in received], (
        "the given main() prints one 'Sent: <message>' line for each message the broker received"
    )
    assert received == [f"Hello MQTT #{i}" for i in range(3)]


def test_main_says_error_when_no_broker_listens(capsys) -> None:
    code = publisher.main(["--host", "127.0.0.1", "--port", str(free_port()), "--count", "1"])
    out = capsys.readouterr().out
    assert code == 1 and "error" in out.lower(), (
        "with no broker, the given main() prints 'error: ...' and returns 1 when "
        f"connect_client raises an OSError (ConnectionRefusedError); got {code}, {out!r}"
    )


@pytest.mark.skipif(mosquitto_tool("mosquitto_sub") is None, reason="mosquitto_sub not installed")
def test_mosquitto_sub_hears_the_published_messages(broker, topic, probe) -> None:
    # An independent subscriber. mosquitto_sub prints each message at once: a
    # retained "ready" message tells us that its subscriptions are in place.
    probe.publish(f"{topic}/ready", b"ready", qos=1, retain=True)
    sub = [mosquitto_tool("mosquitto_sub"), "-h", broker.host, "-p", str(broker.port)]
    argv = [*sub, "-v", "-q", "1", "-C", "3", "-t", f"{topic}/ready", "-t", f"{topic}/cli"]
    with Peer(argv) as peer:  # type: ignore[arg-type]
        peer.wait_for_line(lambda line: line == f"{topic}/ready ready")
        sent = publisher.publish_messages(
            broker.host, broker.port, f"{topic}/cli", ["Hello MQTT #0", "Hello MQTT #1"], qos=1
        )
        assert sent == 2
        assert peer.wait() == 0
    assert peer.all_lines[1:] == [f"{topic}/cli Hello MQTT #0", f"{topic}/cli Hello MQTT #1"]
