"""Chapter 1: your first message (exercises/ch01_basics/first_message.py).

The probe is the other side: it receives what send() publishes and publishes
what receive() should get. A retained message reaches a new subscription
right after its SUBACK, so the tests that need receive() to be subscribed
first use one; the others publish until receive() returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures

import pytest

from kata import exercise
from kata.core.brokers import free_port
from kata.core.expect import expect_raises, nothing_listens
from kata.core.i18n import teach
from kata.core.peers import in_background, silent_server

first_message = exercise("ch01_basics.first_message")


@pytest.fixture
def no_thread_outlives() -> Iterator[Callable[[], None]]:
    """Like no_thread_leak, for every thread: subscribe.simple() in a thread would outlive it."""
    before = set(threading.enumerate())

    def check(grace: float = 1.0) -> None:
        started = [t for t in threading.enumerate() if t not in before]
        for thread in started:
            thread.join(grace / max(1, len(started)))
        alive = [t.name for t in started if t.is_alive()]
        assert not alive, teach(
            en=f"threads still run after the call returned: {alive}. Stop the network loop "
            "(disconnect(), loop_stop()) in a finally block; a helper with no timeout, like "
            "subscribe.simple(), cannot be stopped from outside",
            ja=f"呼び出しが戻ったあとも動いているスレッドがあります: {alive}。ネットワークループは "
            "finally ブロックで止めます (disconnect()、loop_stop())。subscribe.simple() のように"
            "タイムアウトのないヘルパーは、外から止められません",
        )

    return check


def _retain(probe, name: str, payload: bytes) -> None:
    probe.publish(name, payload, qos=1, retain=True)


# --- send: publish.single ---------------------------------------------------------


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_send_publishes_the_text_to_the_topic(broker, topic, probe, qos) -> None:
    name = f"{topic}/sensors/kitchen/temperature"
    probe.subscribe(name, qos=2)
    first_message.send(broker.host, broker.port, name, "21.5 °C", qos=qos)
    message = probe.get()
    assert message.topic == name
    assert message.payload == "21.5 °C".encode(), teach(
        en=f"the subscriber got {message.payload!r}: send() publishes the text as UTF-8 bytes",
        ja=f"受信側に届いたのは {message.payload!r} でした。send() はテキストを UTF-8 の"
        "バイト列としてパブリッシュします",
    )
    assert (message.qos, message.retain) == (qos, False), teach(
        en=f"send(..., qos={qos}) publishes at QoS {qos}, not retained; the subscriber "
        f"(QoS 2) got QoS {message.qos}, retain={message.retain}",
        ja=f"send(..., qos={qos}) は QoS {qos} で、リテインなしでパブリッシュします。"
        f"受信側 (QoS 2) に届いたのは QoS {message.qos}、retain={message.retain} でした",
    )


def test_send_to_a_closed_port_raises_oserror(no_thread_outlives) -> None:
    error = expect_raises(
        OSError,
        first_message.send,
        "127.0.0.1",
        free_port(),
        "kata/nowhere",
        "x",
        why=nothing_listens(),
    )
    assert not isinstance(error, TimeoutError), "no broker: the connection is refused"
    no_thread_outlives()


# --- receive: a client of your own ----------------------------------------------


def test_receive_returns_the_message_as_a_record(broker, topic, probe, no_thread_outlives):
    name = f"{topic}/sensors/kitchen/status"
    _retain(probe, name, b"online")
    message = first_message.receive(broker.host, broker.port, name, timeout=5.0)
    got = (message.topic, message.payload, message.retain)
    assert got == (name, b"online", True), teach(
        en=f"expected Message(topic={name!r}, payload=b'online', retain=True): the broker "
        f"hands a new subscriber the retained message at once, flagged retain; got {got!r}",
        ja=f"Message(topic={name!r}, payload=b'online', retain=True) を期待しました。"
        "ブローカーは新しいサブスクライバーに保持メッセージをすぐ渡し、retain が立っています。"
        f"実際は {got!r} でした",
    )
    no_thread_outlives()


def _receive_while_publishing(broker, probe, topic_filter: str, name: str, payload: bytes):
    """receive(topic_filter) while `payload` is published to `name` until it returns."""
    pending = in_background(first_message.receive, broker.host, broker.port, topic_filter, 5.0)
    deadline = time.monotonic() + 8.0
    # receive() subscribes at its own pace: publish until it has heard one.
    while not pending.done() and time.monotonic() < deadline:
        probe.publish(name, payload, qos=0)
        futures.wait([pending], timeout=0.02)
    assert pending.done(), "receive() did not return within 8 s although messages kept coming"
    return pending.result()


def test_receive_gets_a_live_message_on_the_real_topic(broker, topic, probe) -> None:
    name = f"{topic}/sensors/kitchen/temperature"
    message = _receive_while_publishing(
        broker, probe, f"{topic}/sensors/+/temperature", name, b"\x00\xff 21.5"
    )
    assert message.topic == name, teach(
        en=f"Message.topic is the topic the message was published to ({name!r}), not the "
        f"filter that matched it; got {message.topic!r}",
        ja=f"Message.topic は、メッセージがパブリッシュされたトピック ({name!r}) です。"
        f"マッチしたフィルターではありません。実際は {message.topic!r} でした",
    )
    assert message.payload == b"\x00\xff 21.5", "the payload is bytes, passed on unchanged"
    assert message.retain is False, "a live message is not retained"


@pytest.mark.parametrize(
    "suffix", ["sensors/kitchen/temperature", "sensors/+/temperature", "sensors/#", "+/+/+", "#"]
)
def test_receive_with_wildcards_in_the_filter(broker, topic, probe, suffix) -> None:
    name = f"{topic}/sensors/kitchen/temperature"
    _retain(probe, name, b"21.5")
    message = first_message.receive(broker.host, broker.port, f"{topic}/{suffix}", timeout=5.0)
    assert (message.topic, message.payload) == (name, b"21.5"), teach(
        en=f"'{suffix}' matches 'sensors/kitchen/temperature' ('+' is one level, '#' all the "
        f"rest): receive() subscribes to the filter as given; got {message!r}",
        ja=f"'{suffix}' は 'sensors/kitchen/temperature' にマッチします ('+' は 1 レベル、"
        f"'#' は残りすべて)。receive() はフィルターをそのままサブスクライブします。"
        f"実際は {message!r} でした",
    )


@pytest.mark.parametrize(
    ("suffix", "matching", "why_en", "why_ja"),
    [
        ("sensors/+", "sensors/hall", "'+' is exactly one level", "'+' はちょうど 1 レベルです"),
        (
            "sensors/kitchen",
            "sensors/kitchen",
            "no wildcard: every level must be equal",
            "ワイルドカードがないので、すべてのレベルが一致しなければなりません",
        ),
        (
            "Sensors/#",
            "Sensors/kitchen/temperature",
            "topics are case-sensitive",
            "トピックは大文字と小文字を区別します",
        ),
    ],
    ids=["one-level-plus", "no-wildcard", "case-sensitive"],
)
def test_receive_skips_what_the_filter_does_not_match(
    broker, topic, probe, suffix, matching, why_en, why_ja
) -> None:
    # Retained, it would come right after the SUBACK, before any live message.
    _retain(probe, f"{topic}/sensors/kitchen/temperature", b"21.5")
    message = _receive_while_publishing(
        broker, probe, f"{topic}/{suffix}", f"{topic}/{matching}", b"live"
    )
    assert (message.topic, message.payload) == (f"{topic}/{matching}", b"live"), teach(
        en=f"'{suffix}' does not match 'sensors/kitchen/temperature' ({why_en}), so the first "
        f"message is the live one on '{matching}'; receive() returned {message!r}. Subscribe "
        "to the filter exactly as given",
        ja=f"'{suffix}' は 'sensors/kitchen/temperature' にマッチしません ({why_ja})。"
        f"最初に届くのは '{matching}' のライブのメッセージのはずですが、receive() が返したのは "
        f"{message!r} でした。フィルターは与えられたとおりにサブスクライブします",
    )


def test_receive_times_out_naming_the_filter(broker, topic, no_thread_outlives) -> None:
    wanted = f"{topic}/nobody/publishes/here"
    started = time.monotonic()
    error = expect_raises(
        TimeoutError,
        first_message.receive,
        broker.host,
        broker.port,
        wanted,
        timeout=0.1,
        why=teach(
            en="nobody publishes on that filter", ja="そのフィルターには誰もパブリッシュしません"
        ),
    )
    took = time.monotonic() - started
    assert took < 2.2, f"receive(timeout=0.1) should give up after about 0.1 s, took {took:.1f} s"
    assert wanted in str(error), teach(
        en=f"say what did not happen, e.g. \"no message on '{wanted}' within 0.1 s\"; "
        f"got {error!r}",
        ja=f"何が起きなかったのかを書きます。例: \"no message on '{wanted}' within 0.1 s\"。"
        f"実際は {error!r} でした",
    )
    no_thread_outlives()


def test_receive_from_a_server_that_never_answers_times_out(no_thread_outlives) -> None:
    with silent_server() as port:
        started = time.monotonic()
        expect_raises(
            TimeoutError,
            first_message.receive,
            "127.0.0.1",
            port,
            "kata/silent",
            timeout=0.05,
            why=teach(
                en="the server accepts TCP but never answers MQTT: no CONNACK, no message",
                ja="サーバーは TCP を受け付けますが MQTT では何も答えません。"
                "CONNACK もメッセージも来ません",
            ),
        )
        took = time.monotonic() - started
    no_thread_outlives()
    assert took < 2.3, teach(
        en=f"a server that accepts TCP but never answers MQTT held receive() for {took:.1f} s: "
        "the timeout counts from the call, whether or not a CONNACK came",
        ja=f"TCP は受け付けるのに MQTT で何も答えないサーバーに、receive() が {took:.1f} 秒"
        "止められました。タイムアウトは、CONNACK が来たかどうかに関係なく、"
        "呼び出した時点から数えます",
    )


def test_receive_from_a_closed_port_raises_oserror(no_thread_outlives) -> None:
    error = expect_raises(
        OSError,
        first_message.receive,
        "127.0.0.1",
        free_port(),
        "kata/nowhere",
        timeout=2.0,
        why=nothing_listens(),
    )
    assert not isinstance(error, TimeoutError), (
        "no broker listens: connect() raises ConnectionRefusedError at once; do not wait"
    )
    no_thread_outlives()


# --- both together, and the command line ------------------------------------------


def test_send_and_receive_meet_at_the_broker(broker, topic) -> None:
    name = f"{topic}/sensors/kitchen/temperature"
    pending = in_background(first_message.receive, broker.host, broker.port, f"{topic}/#", 5.0)
    deadline = time.monotonic() + 8.0
    while not pending.done() and time.monotonic() < deadline:
        first_message.send(broker.host, broker.port, name, "21.5")
        futures.wait([pending], timeout=0.02)
    assert pending.done(), "receive() did not return although send() kept publishing"
    message = pending.result()
    assert (message.topic, message.payload) == (name, b"21.5"), teach(
        en="what send() publishes, receive() gets through the broker: the two never meet",
        ja="send() がパブリッシュしたものを、receive() がブローカー経由で受け取ります。"
        "両者が直接つながることはありません",
    )


def test_main_receives_then_sends(broker, topic, probe, capsys) -> None:
    common = ["--host", broker.host, "--port", str(broker.port)]
    _retain(probe, f"{topic}/greeting", b"hello")
    assert first_message.main([*common, "receive", f"{topic}/+", "--timeout", "5"]) == 0
    assert capsys.readouterr().out == f"Received 'hello' on topic '{topic}/greeting'\n"
    probe.subscribe(f"{topic}/reply", qos=1)
    assert first_message.main([*common, "send", f"{topic}/reply", "hi", "--qos", "1"]) == 0
    assert capsys.readouterr().out == f"Sent 'hi' to topic '{topic}/reply'\n"
    assert probe.get().payload == b"hi"


def test_main_says_error_when_no_broker_listens(capsys) -> None:
    argv = ["--host", "127.0.0.1", "--port", str(free_port()), "send", "kata/x", "hi"]
    assert first_message.main(argv) == 1
    assert capsys.readouterr().out.startswith("error: "), (
        "with no broker, main prints 'error: ...' and returns 1 instead of a traceback"
    )
