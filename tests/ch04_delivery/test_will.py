"""Chapter 4: last will and the birth-and-death pattern (exercises/ch04_delivery/will.py)."""

from __future__ import annotations

import contextlib
import socket

import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kata import exercise
from kata.core.brokers import free_port
from kata.core.expect import expect_raises, nothing_listens
from kata.core.i18n import teach

will = exercise("ch04_delivery.will")

# Positive waits return as soon as the message comes. A will sent on a
# keepalive expiry would take 1.5 x 60 s: 5 s tells the two apart.
WILL_WITHIN = 5.0


def _seen(dashboard) -> list[tuple[bytes, bool, int]]:
    """(payload, retain, qos) of everything the dashboard got so far.

    Proved by a marker (probe.settle), which relies on Mosquitto delivering
    what it routed to a client in order, across topics.
    """
    return [(m.payload, m.retain, m.qos) for m in dashboard.settle()]


@pytest.fixture
def device(broker, client_id):
    """device(status_topic) -> a client from connect_with_status, disconnected after the test."""
    made = []

    def connect(status_topic: str):
        client = will.connect_with_status(
            broker.host, broker.port, client_id("device"), status_topic
        )
        made.append(client)
        return client

    yield connect
    for client in made:
        with contextlib.suppress(Exception):
            client.disconnect()
        with contextlib.suppress(Exception):
            client.loop_stop()


def test_connect_with_status_returns_a_connected_version2_client(broker, topic, client_id) -> None:
    cid = client_id("device")
    client = will.connect_with_status(broker.host, broker.port, cid, f"{topic}/status")
    try:
        assert client.callback_api_version == CallbackAPIVersion.VERSION2, teach(
            en="create the client with mqtt.Client(CallbackAPIVersion.VERSION2, ...)",
            ja="クライアントは mqtt.Client(CallbackAPIVersion.VERSION2, ...) で作ってください",
        )
        assert client._client_id == cid.encode(), teach(
            en=f"use the client_id you were given ({cid!r}); the client has {client._client_id!r}",
            ja=f"渡された client_id ({cid!r}) を使ってください。クライアントの ID は "
            f"{client._client_id!r} でした",
        )
        assert client.is_connected(), teach(
            en="return the client connected, with its loop running",
            ja="接続したまま、ネットワークループを動かしたままのクライアントを返してください",
        )
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_dashboard_that_starts_later_sees_online(topic, device, probe) -> None:
    device(f"{topic}/status")
    probe.subscribe(f"{topic}/status", qos=1)
    got = _seen(probe)
    assert got == [(b"online", True, 1)], teach(
        en="once connect_with_status returned, the status topic holds 'online', retained, "
        f"QoS 1 (the birth message); a late dashboard got (payload, retain, qos) {got}",
        ja="connect_with_status から戻った時点で、ステータストピックには 'online' (誕生の"
        "メッセージ) が QoS 1、リテイン付きで入っているはずです。あとから来たダッシュボードに"
        f"届いた (ペイロード, リテイン, QoS): {got}",
    )


def test_crash_makes_the_broker_publish_the_will(
    topic, device, probe, probe_factory, no_thread_leak
) -> None:
    status = f"{topic}/status"
    client = device(status)
    probe.subscribe(status, qos=1)
    assert [m[0] for m in _seen(probe)] == [b"online"]
    will.crash(client)
    try:
        death = probe.get(timeout=WILL_WITHIN)
    except TimeoutError:
        raise AssertionError(
            teach(
                en=f"no will within {WILL_WITHIN} s of crash(). Was will_set() called BEFORE "
                "connect() (the will travels in CONNECT)? Does crash() end the TCP connection "
                "(socket shutdown)? A broker notices a silent client only after 1.5 x keepalive.",
                ja=f"crash() のあと {WILL_WITHIN} 秒以内に遺言メッセージが届きませんでした。"
                "will_set() を connect() より「前に」呼びましたか (遺言は CONNECT に載って"
                "届きます)? crash() は TCP 接続を切っていますか (ソケットの shutdown)? "
                "黙ったままのクライアントにブローカーが気づくのは、キープアライブの 1.5 倍の"
                "時間が過ぎてからです。",
            )
        ) from None
    assert (death.payload, death.qos) == (b"offline", 1), teach(
        en=f"the will is 'offline' at QoS 1; the dashboard got {death}",
        ja=f"遺言メッセージは QoS 1 の 'offline' のはずです。ダッシュボードに届いたもの: {death}",
    )
    no_thread_leak()
    late = probe_factory()
    late.subscribe(status, qos=1)
    stored = [m[:2] for m in _seen(late)]
    assert stored == [(b"offline", True)], teach(
        en="the will is retained, so a dashboard that starts later sees 'offline'; it got "
        f"(payload, retain) {stored}",
        ja="遺言メッセージはリテインされるので、あとから起動したダッシュボードにも 'offline' "
        f"が見えるはずです。届いた (ペイロード, リテイン): {stored}",
    )


def test_a_device_that_reconnects_says_online_again(topic, device, probe) -> None:
    status = f"{topic}/status"
    client = device(status)
    # paho's network loop reconnects on its own, by default after 1 s; sooner here.
    # Should the broker see the new connection before the end of the old one, a
    # clean session takes the old one over, and the broker publishes the will first.
    client.reconnect_delay_set(min_delay=0.02, max_delay=0.1)  # type: ignore[arg-type]
    probe.subscribe(status, qos=1)
    assert [m[0] for m in _seen(probe)] == [b"online"]
    # The network drops under a running device: the broker publishes the will,
    # and paho reconnects.
    client.socket().shutdown(socket.SHUT_RDWR)
    got = []
    with contextlib.suppress(TimeoutError):
        for _ in range(2):
            got.append(probe.get(timeout=WILL_WITHIN).payload)
    assert got == [b"offline", b"online"], teach(
        en="after the connection dropped, the dashboard should see the will b'offline', then "
        f"b'online' again once paho reconnected; it saw {got}. Publish 'online' from "
        "on_connect, which runs after every (re)connect, not once after connect().",
        ja="接続が切れたあと、ダッシュボードには遺言の b'offline'、続いて paho が再接続した"
        f"ところで再び b'online' が届くはずです。届いたもの: {got}。'online' は connect() の"
        "あとに 1 回だけではなく、(再)接続のたびに呼ばれる on_connect の中でパブリッシュして"
        "ください。",
    )


def test_go_offline_says_offline_and_the_will_stays_unsent(
    topic, device, probe, probe_factory, watch_connection, no_thread_leak
) -> None:
    status = f"{topic}/status"
    client = device(status)
    probe.subscribe(status, qos=1)
    assert [m[0] for m in _seen(probe)] == [b"online"]
    connection = watch_connection(client)
    will.go_offline(client)
    no_thread_leak()
    assert connection.broker_closed(timeout=WILL_WITHIN), teach(
        en="after go_offline the broker still holds the connection open: it never got a "
        "DISCONNECT. End with client.disconnect(), then loop_stop().",
        ja="go_offline のあとも、ブローカーは接続を開いたままです: DISCONNECT を受け取って"
        "いません。最後に client.disconnect()、それから loop_stop() を呼んでください。",
    )
    # Mosquitto has handled the end of that connection (a will would have
    # gone out before it closed it): everything it sent us is before the marker.
    said = [(payload, qos) for payload, _, qos in _seen(probe)]
    assert said == [(b"offline", 1)], teach(
        en="the dashboard should see exactly one 'offline' (QoS 1), published by go_offline "
        f"itself; it saw (payload, qos) {said}. Two mean the will went out too: was the "
        "disconnect clean?",
        ja="ダッシュボードに届く 'offline' (QoS 1) は、go_offline 自身がパブリッシュした 1 件"
        f"だけのはずです。届いた (ペイロード, QoS): {said}。2 件あるなら遺言メッセージも"
        "送られています: 正常に切断しましたか?",
    )
    late = probe_factory()
    late.subscribe(status, qos=1)
    stored = [m[:2] for m in _seen(late)]
    assert stored == [(b"offline", True)], teach(
        en=f"after a clean exit the status topic holds 'offline', retained; got {stored}",
        ja="正常に終了したあと、ステータストピックには 'offline' がリテインされているはず"
        f"です。届いた (ペイロード, リテイン): {stored}",
    )


def test_connect_with_status_to_a_closed_port_fails_without_a_thread(
    topic, client_id, no_thread_leak
) -> None:
    expect_raises(
        (OSError, TimeoutError),
        will.connect_with_status, "127.0.0.1", free_port(), client_id("device"), f"{topic}/s",
        why=nothing_listens(),
    )  # fmt: skip
    no_thread_leak()
