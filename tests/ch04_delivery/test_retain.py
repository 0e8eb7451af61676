"""Chapter 4: retained messages (exercises/ch04_delivery/retain.py)."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata import exercise
from kata.core.expect import expect_raises
from kata.core.i18n import teach
from kata.core.peers import mosquitto_tool

retain = exercise("ch04_delivery.retain")


def test_a_new_subscriber_gets_the_retained_value_with_the_flag(
    broker, topic, probe, no_thread_leak
) -> None:
    retain.set_retained(broker.host, broker.port, f"{topic}/temp", b"21.5")
    no_thread_leak()
    probe.subscribe(f"{topic}/temp", qos=1)
    got = [(m.payload, m.retain) for m in probe.settle()]
    assert got == [(b"21.5", True)], teach(
        en="a subscriber that arrives after set_retained(..., b'21.5') gets the value at once, "
        f"with the retain flag; it got (payload, retain) {got}. Publish with retain=True.",
        ja="set_retained(..., b'21.5') のあとでサブスクライブした受信側には、その値がリテイン"
        f"フラグ付きですぐ届くはずです。届いた (ペイロード, リテイン): {got}。"
        "retain=True を付けてパブリッシュしてください。",
    )


def test_a_second_retained_value_replaces_the_first(broker, topic, probe) -> None:
    retain.set_retained(broker.host, broker.port, f"{topic}/temp", b"old")
    retain.set_retained(broker.host, broker.port, f"{topic}/temp", "new")
    probe.subscribe(f"{topic}/temp", qos=1)
    got = [(m.payload, m.retain) for m in probe.settle()]
    assert got == [(b"new", True)], teach(
        en="the broker keeps one retained message per topic, the newest (b'new' replaced "
        f"b'old'); a new subscriber got (payload, retain) {got}",
        ja="ブローカーが保持するリテインメッセージはトピックごとに 1 つ、最新のものだけです "
        f"(b'new' が b'old' を置き換えます)。新しい受信側に届いた (ペイロード, リテイン): {got}",
    )


def test_clear_retained_removes_the_value(broker, topic, probe, no_thread_leak) -> None:
    retain.set_retained(broker.host, broker.port, f"{topic}/door", b"open")
    retain.clear_retained(broker.host, broker.port, f"{topic}/door")
    no_thread_leak()
    probe.subscribe(f"{topic}/door", qos=1)
    left = probe.settle()
    if left and left[0].payload == b"open":
        why_en = "the old value b'open' is still there: publish the empty payload WITH retain=True"
        why_ja = (
            "古い値 b'open' が残っています: 空のペイロードを retain=True 付きでパブリッシュします"
        )
    elif left:
        why_en = (
            f"a retained {left[0].payload!r} replaced the value instead of deleting it: "
            "only an EMPTY payload clears"
        )
        why_ja = (
            f"リテインされた {left[0].payload!r} が値を消さずに置き換えました: 消せるのは"
            "「空の」ペイロードだけです"
        )
    else:
        why_en = why_ja = ""
    assert not left, teach(
        en=f"after clear_retained a new subscriber should get nothing; {why_en}",
        ja=f"clear_retained のあとでサブスクライブした受信側には何も届かないはずです。{why_ja}",
    )


def test_read_retained_returns_the_last_value_as_bytes(broker, topic, probe) -> None:
    probe.publish(f"{topic}/mode", b"eco", qos=1, retain=True)
    probe.publish(f"{topic}/mode", b"boost", qos=1, retain=True)
    got = retain.read_retained(broker.host, broker.port, f"{topic}/mode", timeout=5.0)
    assert got == b"boost", teach(
        en=f"b'eco' then b'boost' were retained: expected the last one, b'boost', got {got!r}",
        ja=f"b'eco'、b'boost' の順にリテインしました。最後の b'boost' を期待しましたが、"
        f"{got!r} でした",
    )


def test_read_retained_ignores_live_messages(broker, topic, probe, probe_factory) -> None:
    where = f"{topic}/live"
    probe.publish(where, b"stored", qos=1, retain=True)
    # Live (not retained) messages keep passing by while read_retained runs:
    # the ones that reach it arrive without the retain flag.
    stop = threading.Event()
    talker = probe_factory()

    def talk() -> None:
        # Bounded in count and paced: loopback traffic only while the reads run.
        for n in range(100_000):
            talker.client.publish(where, f"live {n}", qos=0)
            if stop.wait(0.0001):
                return

    thread = threading.Thread(target=talk, name="kata-live-talker", daemon=True)
    thread.start()
    try:
        got = [retain.read_retained(broker.host, broker.port, where, timeout=5.0) for _ in range(5)]
    finally:
        stop.set()
        thread.join(5)
    assert got == [b"stored"] * 5, teach(
        en="b'stored' is the retained value; messages published live meanwhile arrive without "
        f"the retain flag and are not the stored value. read_retained returned {got}: keep "
        "only messages whose msg.retain is set",
        ja="リテインされている値は b'stored' です。そのあいだにパブリッシュされたライブの"
        "メッセージはリテインフラグなしで届き、保存された値ではありません。read_retained の"
        f"戻り値: {got}。msg.retain が立っているメッセージだけを使ってください",
    )


def test_read_retained_is_none_for_an_empty_topic_without_waiting(
    broker, topic, no_thread_leak
) -> None:
    started = time.monotonic()
    got = retain.read_retained(broker.host, broker.port, f"{topic}/nothing", timeout=4.0)
    waited = time.monotonic() - started
    no_thread_leak()
    assert got is None, teach(
        en=f"a topic that holds no retained message reads as None, not {got!r}",
        ja=f"リテインメッセージのないトピックを読んだら None になるはずです ({got!r} ではなく)",
    )
    assert waited < 2.0, teach(
        en=f"read_retained took {waited:.1f} s of its 4 s timeout to say None: prove that "
        "nothing is retained with a marker you publish after the SUBACK, never by waiting",
        ja=f"read_retained は None と答えるのに 4 秒のタイムアウトのうち {waited:.1f} 秒を"
        "使いました。何もリテインされていないことは、時間切れを待つのではなく、SUBACK の"
        "あとにパブリッシュするマーカーで確かめてください",
    )


def test_what_is_set_is_read_back_until_cleared(broker, topic) -> None:
    where = f"{topic}/roundtrip"

    @settings(max_examples=10, deadline=None)
    @given(payload=st.binary(min_size=1, max_size=64))
    def check(payload: bytes) -> None:
        retain.set_retained(broker.host, broker.port, where, payload)
        got = retain.read_retained(broker.host, broker.port, where, timeout=5.0)
        assert got == payload, teach(
            en=f"set_retained({payload!r}) then read_retained gave {got!r}",
            ja=f"set_retained({payload!r}) のあと、read_retained は {got!r} を返しました",
        )
        retain.clear_retained(broker.host, broker.port, where)
        cleared = retain.read_retained(broker.host, broker.port, where, timeout=5.0)
        assert cleared is None, teach(
            en=f"after clear_retained, read_retained gave {cleared!r}, not None",
            ja=f"clear_retained のあと、read_retained は None ではなく {cleared!r} を返しました",
        )

    check()


def test_read_retained_without_connack_raises_timeout(silent_server, no_thread_leak) -> None:
    expect_raises(
        TimeoutError,
        retain.read_retained, "127.0.0.1", silent_server, "kata/silent", timeout=0.05,
        why=teach(
            en=f"127.0.0.1:{silent_server} never sends CONNACK: give up within timeout=0.05",
            ja=f"127.0.0.1:{silent_server} は CONNACK を返しません: timeout=0.05 の範囲で"
            "諦めます",
        ),
    )  # fmt: skip
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
    assert done.stdout.strip() == f"{topic}/cli from set_retained", teach(
        en="mosquitto_sub, subscribing later, should print the retained value; "
        f"got {done.stdout!r}",
        ja="あとからサブスクライブした mosquitto_sub は、リテインされた値を表示するはずです。"
        f"出力: {done.stdout!r}",
    )
