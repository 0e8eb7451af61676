"""Chapter 4: QoS and persistent sessions (exercises/ch04_delivery/qos.py)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata import exercise
from kata.core.expect import expect_connack_timeout, expect_raises
from kata.core.i18n import teach
from kata.core.peers import CONNACK_SIZE

qos = exercise("ch04_delivery.qos")
subscriber = exercise("ch03_clients.subscriber")

# Network round trips per example: few examples and no per-example deadline.
BROKER_EXAMPLES = settings(max_examples=8, deadline=None)


def _fields(messages) -> list[tuple]:
    return [(m.topic, m.payload, m.qos, m.retain) for m in messages]


def _publish_all(probe, topic: str, messages: list[tuple[bytes, int]]) -> None:
    """Publish (payload, qos) pairs; return once the broker has routed every one.

    A QoS 0 publish returns when written, not when handled: the acknowledged
    QoS 1 publish at the end comes after it on the same connection, and
    Mosquitto handles a client's packets in the order they arrive.
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
    # The last publish was acknowledged, so the broker has routed all nine
    # (settle's marker relies on Mosquitto delivering a client's messages in order).
    seen = {(int(m.payload[-1:]), int(m.topic[-1:])): m.qos for m in subscriber_probe.settle()}
    assert len(seen) == 9, f"the broker should have delivered 9 messages, got {len(seen)}"
    for (p, s), actual in sorted(seen.items()):
        assert predicted[(p, s)] == actual, teach(
            en=f"published at QoS {p} to a subscription granted QoS {s}, the broker delivered "
            f"at QoS {actual}, but delivered_qos({p}, {s}) = {predicted[(p, s)]!r}: a message "
            "travels at the lower of the publisher's QoS and the subscription's",
            ja=f"QoS {p} でパブリッシュし、QoS {s} で許可されたサブスクリプションに届けると、"
            f"ブローカーは QoS {actual} で配信しました。ところが delivered_qos({p}, {s}) は "
            f"{predicted[(p, s)]!r} を返しました。配信される QoS は、送信側の QoS と"
            "サブスクリプションの QoS の低いほうです",
        )


@pytest.mark.parametrize(("p", "s"), [(-1, 0), (3, 1), (1, 3), (0, -1)])
def test_delivered_qos_rejects_what_is_not_a_qos(p, s) -> None:
    bad = p if p not in (0, 1, 2) else s
    expect_raises(
        ValueError,
        qos.delivered_qos, p, s,
        why=teach(
            en=f"{bad} is not a QoS (only 0, 1, 2)",
            ja=f"{bad} は QoS ではありません (QoS は 0、1、2 のどれかです)",
        ),
    )  # fmt: skip


# --- publish_confirmed -----------------------------------------------------------


@pytest.mark.parametrize("level", [0, 1, 2])
def test_a_confirmed_message_has_reached_the_broker(broker, topic, probe, level) -> None:
    probe.subscribe(f"{topic}/confirmed", qos=2)
    confirmed = qos.publish_confirmed(
        broker.host, broker.port, f"{topic}/confirmed", b"safe", level
    )
    assert confirmed is True, teach(
        en=f"a QoS {level} publish to a working broker is confirmed: expected True, "
        f"got {confirmed!r}",
        ja=f"正常なブローカーへの QoS {level} のパブリッシュは確認済みになるはずです: "
        f"True を期待しましたが {confirmed!r} でした",
    )
    # PUBACK / PUBCOMP means the broker has routed it already: settle() proves
    # it. QoS 0 "confirmed" only means written: wait for it to arrive.
    got = [probe.get()] if level == 0 else probe.settle()
    payloads = [(m.payload, m.qos) for m in got]
    assert payloads == [(b"safe", level)], teach(
        en=f"after publish_confirmed(qos={level}) returned True, the subscriber got "
        f"(payload, qos) {payloads}. "
        + (
            "Mosquitto forwards a QoS 2 message only when PUBREL arrives: disconnecting "
            "before PUBCOMP loses it. Wait with info.wait_for_publish()."
            if level == 2
            else "Return only once the broker acknowledged the message."
        ),
        ja=f"publish_confirmed(qos={level}) が True を返したあと、サブスクライバーが受け取った "
        f"(ペイロード, QoS) は {payloads} でした。"
        + (
            "Mosquitto は QoS 2 のメッセージを PUBREL を受け取ってから転送します。PUBCOMP の前に"
            "切断するとメッセージは失われます。info.wait_for_publish() で待ってください。"
            if level == 2
            else "ブローカーが受け取りを確認してから戻ってください。"
        ),
    )


@pytest.mark.parametrize("level", [1, 2])
def test_no_confirmation_when_the_ack_is_lost(
    broker, topic, probe, relay, level, no_thread_leak
) -> None:
    probe.subscribe(f"{topic}/unconfirmed", qos=2)
    # The CONNACK gets through, the broker's PUBACK or PUBREC is lost on the way back.
    link = relay(broker.host, broker.port, pass_back=CONNACK_SIZE)
    started = time.monotonic()
    confirmed = qos.publish_confirmed(
        "127.0.0.1", link.port, f"{topic}/unconfirmed", b"maybe", level, timeout=0.2
    )
    waited = time.monotonic() - started
    ack = "PUBACK" if level == 1 else "PUBREC"
    assert confirmed is False, teach(
        en=f"the broker's {ack} never came back (the link lost it): nothing was confirmed, "
        f"so publish_confirmed(qos={level}, timeout=0.2) must return False, not {confirmed!r}",
        ja=f"ブローカーの {ack} は戻ってきませんでした (途中の回線で失われました)。何も確認"
        f"されていないので、publish_confirmed(qos={level}, timeout=0.2) は {confirmed!r} "
        "ではなく False を返す必要があります",
    )
    assert waited < 3, teach(
        en=f"with timeout=0.2 it should give up soon after 0.2 s, took {waited:.1f} s",
        ja=f"timeout=0.2 なら 0.2 秒を少し過ぎたところで諦めるはずですが、{waited:.1f} 秒"
        "かかりました",
    )
    assert link.broker_closed_all(timeout=5), teach(
        en="the broker still holds publish_confirmed's connection: disconnect() before returning",
        ja="ブローカーは publish_confirmed の接続をまだ保っています: 戻る前に disconnect() して"
        "ください",
    )
    got = [m.payload for m in probe.settle()]
    if level == 1:
        # Unconfirmed is not undelivered: a sender that now publishes again
        # makes a duplicate. That is "at least once".
        assert got == [b"maybe"], teach(
            en=f"the broker got the PUBLISH, so the subscriber should have it once; got {got}",
            ja=f"ブローカーは PUBLISH を受け取ったので、サブスクライバーには 1 回届くはずです。"
            f"届いたもの: {got}",
        )
    else:
        # Mosquitto forwards a QoS 2 message at PUBREL (the spec's "method A";
        # a broker may also forward at PUBLISH, "method B"). No PUBREL came.
        assert got == [], teach(
            en=f"no PUBREL was sent, so Mosquitto should not have forwarded it; got {got}",
            ja=f"PUBREL は送られていないので、Mosquitto は転送しないはずです。届いたもの: {got}",
        )
    no_thread_leak()


def test_qos0_is_confirmed_without_any_ack(broker, topic, probe, relay) -> None:
    probe.subscribe(f"{topic}/fire-and-forget", qos=0)
    link = relay(broker.host, broker.port, pass_back=CONNACK_SIZE)
    confirmed = qos.publish_confirmed(
        "127.0.0.1", link.port, f"{topic}/fire-and-forget", b"sent", 0, timeout=2.0
    )
    assert confirmed is True, teach(
        en="QoS 0 has no acknowledgement to wait for: it counts as confirmed once written; "
        f"publish_confirmed(qos=0) returned {confirmed!r}",
        ja="QoS 0 には待つべき確認応答がありません。書き込んだ時点で確認済みとします。"
        f"publish_confirmed(qos=0) の戻り値: {confirmed!r}",
    )
    assert probe.get().payload == b"sent"


def test_publish_confirmed_without_connack_raises_timeout(silent_server, no_thread_leak) -> None:
    expect_connack_timeout(
        qos.publish_confirmed, "127.0.0.1", silent_server, "kata/silent", b"x", 1, timeout=0.05
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
        assert back.session_present, teach(
            en=f"after open_session(client_id={cid!r}) the broker kept no session for that "
            "client id: connect with mqtt.Client(..., clean_session=False)",
            ja=f"open_session(client_id={cid!r}) のあと、ブローカーはその ID のセッションを"
            "残していませんでした: mqtt.Client(..., clean_session=False) で接続してください",
        )
        try:
            queued = back.get().payload
        except TimeoutError:
            queued = None
        assert queued == b"while away", teach(
            en="the session should hold the subscription and have queued the QoS 1 message "
            f"b'while away'; got {queued!r}. Disconnect only after the SUBACK",
            ja="セッションはサブスクリプションを保持し、QoS 1 のメッセージ b'while away' を"
            f"溜めているはずです。届いたもの: {queued!r}。切断は SUBACK を受け取ってから"
            "にしてください",
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
    assert all(isinstance(m, subscriber.Message) for m in got), teach(
        en="return ch03's Message records (from ..ch03_clients.subscriber import Message)",
        ja="第 3 章の Message を返してください (from ..ch03_clients.subscriber import Message)",
    )
    payloads = [m.payload for m in got]
    assert b"a" not in payloads and b"d" not in payloads, teach(
        en=f"got {payloads}: Mosquitto does not queue QoS 0 messages for an offline client "
        "(queue_qos0_messages is false by default), so b'a' and b'd' cannot be among them",
        ja=f"届いたもの: {payloads}。Mosquitto はオフラインのクライアントに QoS 0 のメッセージを"
        "溜めません (queue_qos0_messages の既定値は false) ので、b'a' と b'd' は含まれない"
        "はずです",
    )
    assert payloads, teach(
        en="resume_session returned nothing, but b, c, e and f were queued. The broker sends "
        "them right after CONNACK: set client.on_message BEFORE connecting, and reconnect "
        "with the same client id and clean_session=False",
        ja="resume_session は何も返しませんでしたが、b、c、e、f が溜まっていました。ブローカーは"
        "CONNACK の直後にそれらを送ってきます: client.on_message は接続する「前に」設定し、"
        "同じクライアント ID と clean_session=False で接続し直してください",
    )
    assert b"f" in payloads, teach(
        en=f"got {payloads}: the last QoS 2 message b'f' is missing. paho calls on_message for "
        "a QoS 2 message only when PUBREL arrives, so a QoS 1 marker overtakes it: publish "
        "your marker at QoS 2",
        ja=f"届いたもの: {payloads}。最後の QoS 2 のメッセージ b'f' がありません。paho が QoS 2 "
        "のメッセージで on_message を呼ぶのは PUBREL が届いたときなので、QoS 1 のマーカーは"
        "それを追い越します: マーカーは QoS 2 でパブリッシュしてください",
    )
    fields = sorted(_fields(got))
    assert fields == [
        (f"{topic}/q", b"b", 1, False),
        (f"{topic}/q", b"c", 2, False),
        (f"{topic}/q", b"e", 1, False),
        (f"{topic}/q", b"f", 2, False),
    ], teach(
        en="the queued messages are the QoS 1 and QoS 2 ones (b, c, e, f), each exactly once, "
        f"nothing else; got (topic, payload, qos, retain) {fields}",
        ja="溜まっていたのは QoS 1 と QoS 2 のメッセージ (b、c、e、f) で、それぞれちょうど"
        "1 回ずつ、ほかには何もないはずです。"
        f"届いたもの (トピック, ペイロード, QoS, リテイン): {fields}",
    )
    for level in (1, 2):
        in_level = [m.payload for m in got if m.qos == level]
        assert in_level == sorted(in_level), teach(
            en=f"QoS {level} messages must come in the order they were published; got {in_level}",
            ja=f"QoS {level} のメッセージはパブリッシュされた順に届くはずです。"
            f"届いた順: {in_level}",
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
        explain = teach(
            en=f"published at QoS {levels} to a session subscribed at QoS {granted}: expected "
            f"(payload, qos) {expected} (QoS 0 not queued, each at min(published, granted), "
            f"in order within each QoS), got {got}",
            ja=f"QoS {granted} でサブスクライブしたセッションへ QoS {levels} で"
            "パブリッシュしました。"
            f"期待する (ペイロード, QoS) は {expected} です (QoS 0 は溜まらず、QoS は "
            f"min(送信時, 許可) になり、同じ QoS の中では順番どおり)。届いたもの: {got}",
        )
        for level in (1, 2):
            in_level = [g for g in got if g[1] == level]
            assert in_level == [e for e in expected if e[1] == level], explain
        assert len(got) == len(expected), explain
        again = qos.resume_session(broker.host, broker.port, cid, timeout=5.0)
        assert again == [], teach(
            en=f"a second resume got {again}: messages acknowledged once leave the session's queue",
            ja=f"2 回目の resume で {again} が届きました。一度確認応答したメッセージは"
            "セッションのキューから消えるはずです",
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
    assert got == sent, teach(
        en=f"expected the 30 queued QoS 2 messages m00..m29 in order, got {len(got)}: {got}. "
        "If the last ones are missing: a QoS 1 marker overtakes a QoS 2 message that waits "
        "for its PUBREL; publish your marker at QoS 2",
        ja=f"溜まっていた 30 件の QoS 2 メッセージ m00..m29 が順番どおりに届くはずですが、"
        f"{len(got)} 件でした: {got}。最後のほうが欠けているなら、PUBREL を待っている QoS 2 の"
        "メッセージを QoS 1 のマーカーが追い越しています。マーカーは QoS 2 でパブリッシュして"
        "ください",
    )


def test_a_fresh_client_id_gets_nothing(broker, topic, probe, session_id) -> None:
    owner, stranger = session_id("owner"), session_id("stranger")
    qos.open_session(broker.host, broker.port, owner, f"{topic}/mine", qos=1)
    probe.publish(f"{topic}/mine", b"for the owner", qos=1)
    stranger_got = qos.resume_session(broker.host, broker.port, stranger, timeout=5.0)
    assert stranger_got == [], teach(
        en=f"a session belongs to one client id: {stranger!r} has nothing queued, "
        f"but resume_session returned {stranger_got}",
        ja=f"セッションは 1 つのクライアント ID のものです。{stranger!r} には何も溜まって"
        f"いないはずですが、resume_session は {stranger_got} を返しました",
    )
    resumed = qos.resume_session(broker.host, broker.port, owner, timeout=5.0)
    owner_got = [m.payload for m in resumed]
    assert owner_got == [b"for the owner"], teach(
        en=f"the owner {owner!r} should get its queued b'for the owner'; got {owner_got}",
        ja=f"持ち主 {owner!r} には溜まっていた b'for the owner' が届くはずです。届いたもの: "
        f"{owner_got}",
    )


def test_resume_does_not_wait_out_its_timeout(broker, topic, probe, session_id) -> None:
    cid = session_id()
    qos.open_session(broker.host, broker.port, cid, f"{topic}/quick", qos=1)
    probe.publish(f"{topic}/quick", b"one", qos=1)
    started = time.monotonic()
    got = qos.resume_session(broker.host, broker.port, cid, timeout=4.0)
    waited = time.monotonic() - started
    assert [m.payload for m in got] == [b"one"], teach(
        en=f"the session had b'one' queued; resume_session returned {got}",
        ja=f"セッションには b'one' が溜まっていました。resume_session の戻り値: {got}",
    )
    assert waited < 2.0, teach(
        en=f"resume_session took {waited:.1f} s of its 4 s timeout: it cannot know how many "
        "messages are queued, so stop when your own marker comes back, never by waiting",
        ja=f"resume_session は 4 秒のタイムアウトのうち {waited:.1f} 秒を使いました。溜まっている"
        "件数は前もってわからないので、時間切れを待つのではなく、自分のマーカーが戻ってきた"
        "ところで止めてください",
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
    # With persistence true, Mosquitto writes sessions and queues to mosquitto.db
    # every autosave_interval (1800 s by default) and when it exits (SIGTERM here),
    # and reads them back when it starts again on the same port.
    private.stop()
    private.start()
    got = [m.payload for m in qos.resume_session(private.host, private.port, cid, timeout=5.0)]
    assert got == [b"kept 0", b"kept 1", b"kept 2"], teach(
        en="with persistence true, Mosquitto keeps sessions and their queued QoS 1 messages "
        f"across a restart; resume_session returned {got}",
        ja="persistence true の Mosquitto は、セッションと溜まっている QoS 1 のメッセージを"
        f"再起動後も保持しています。resume_session の戻り値: {got}",
    )
