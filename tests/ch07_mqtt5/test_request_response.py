"""Chapter 7: request/response (exercises/ch07_mqtt5/request_response.py)."""

from __future__ import annotations

from concurrent.futures import Future

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from kata import exercise
from kata.core.brokers import free_port
from kata.core.expect import expect_raises, nothing_listens
from kata.core.i18n import teach
from kata.core.peers import PAST_CONNACK, in_background
from kata.core.probe import Probe, Received

rr = exercise("ch07_mqtt5.request_response")


def _props(**fields: object) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    for name, value in fields.items():
        setattr(props, name, value)
    return props


def _next_message_or_failure(probe: Probe, call: Future, timeout: float = 5.0) -> Received:
    """The probe's next message; if the call under test ends first, what it raised."""
    ended = object()
    call.add_done_callback(lambda _: probe.messages.put(ended))  # type: ignore[arg-type]
    message = probe.get(timeout)
    if message is ended:
        call.result()  # raises the exercise's own error
        raise AssertionError("request() returned before its request reached the broker")
    return message


@pytest.fixture
def v5_probe(probe_factory) -> Probe:
    return probe_factory(protocol=mqtt.MQTTv5)


@pytest.fixture
def serving(broker):
    """serving(request_topic, handler) -> a Responder started with serve(), stopped after."""
    started = []

    def start(request_topic, handler):
        responder = rr.serve(broker.host, broker.port, request_topic, handler, timeout=5.0)
        started.append(responder)
        return responder

    yield start
    for responder in started:
        responder.stop()


def _echo(payload: bytes) -> bytes:
    return b"echo:" + payload


def test_serve_answers_on_the_response_topic_with_the_correlation_data(
    topic, v5_probe, serving
) -> None:
    serving(f"{topic}/req", _echo)
    v5_probe.subscribe(f"{topic}/reply", qos=1)
    asked = _props(ResponseTopic=f"{topic}/reply", CorrelationData=b"\x00id-1")
    v5_probe.publish(f"{topic}/req", b"ping", qos=1, properties=asked)
    answer = v5_probe.get()
    assert (answer.topic, answer.payload) == (f"{topic}/reply", b"echo:ping"), teach(
        en="the handler's answer goes to the request's Response Topic (MQTT 5.0 §4.10)",
        ja="ハンドラーの答えは、リクエストのレスポンストピックへ送ります (MQTT 5.0 §4.10)",
    )
    assert answer.properties.get("CorrelationData") == b"\x00id-1", teach(
        en="copy the request's Correlation Data into the answer unchanged, so the requester "
        f"knows which question it answers; got {answer.properties.get('CorrelationData')!r}",
        ja="リクエストの相関データ (Correlation Data) を変えずに答えへコピーします。そうすれば"
        "リクエスト側は、どの質問への答えかがわかります。実際は "
        f"{answer.properties.get('CorrelationData')!r}",
    )


def test_answers_to_one_response_topic_keep_their_own_correlation(topic, v5_probe, serving) -> None:
    serving(f"{topic}/req", _echo)
    v5_probe.subscribe(f"{topic}/reply", qos=1)
    for payload, correlation in ((b"one", b"a"), (b"two", b"b")):
        asked = _props(ResponseTopic=f"{topic}/reply", CorrelationData=correlation)
        v5_probe.publish(f"{topic}/req", payload, qos=1, properties=asked)
    answers = {m.properties.get("CorrelationData"): m.payload for m in v5_probe.expect(2)}
    assert answers == {b"a": b"echo:one", b"b": b"echo:two"}, (
        "two requesters may share a response topic: each answer carries the Correlation Data "
        "of the request it answers"
    )


def test_a_request_without_response_topic_is_ignored(topic, v5_probe, serving) -> None:
    serving(f"{topic}/req", _echo)
    v5_probe.subscribe(f"{topic}/#", qos=1)
    v5_probe.publish(f"{topic}/req", b"nowhere to answer", qos=1)
    asked = _props(ResponseTopic=f"{topic}/reply", CorrelationData=b"c")
    v5_probe.publish(f"{topic}/req", b"next", qos=1, properties=asked)
    seen = [(m.topic, m.payload) for m in v5_probe.expect(3)]
    assert seen == [
        (f"{topic}/req", b"nowhere to answer"),
        (f"{topic}/req", b"next"),
        (f"{topic}/reply", b"echo:next"),
    ], "a request without Response Topic gets no answer, and the next request is served"


def test_a_failing_handler_is_counted_and_serving_goes_on(topic, v5_probe, serving) -> None:
    def picky(payload: bytes) -> bytes:
        if payload == b"boom":
            raise ValueError("the handler does not like boom")
        return payload

    responder = serving(f"{topic}/req", picky)
    v5_probe.subscribe(f"{topic}/reply", qos=1)
    for payload in (b"boom", b"fine"):
        asked = _props(ResponseTopic=f"{topic}/reply", CorrelationData=payload)
        v5_probe.publish(f"{topic}/req", payload, qos=1, properties=asked)
    assert v5_probe.get().payload == b"fine", (
        "an exception in the handler must not stop the responder: catch it in on_message"
    )
    assert responder.errors == 1, (
        f"errors counts handler failures: expected 1, got {responder.errors}"
    )


def test_concurrent_requests_each_get_their_own_answer(broker, topic, serving) -> None:
    serving(f"{topic}/svc", lambda payload: payload.upper())
    calls = [
        in_background(rr.request, broker.host, broker.port, f"{topic}/svc", f"job-{i}".encode())
        for i in range(4)
    ]
    answers = [call.result(timeout=10) for call in calls]
    assert answers == [f"JOB-{i}".encode() for i in range(4)], (
        "each request() returns the answer to its own question, however many run at once"
    )


def test_request_ignores_answers_that_are_not_its_own(broker, topic, v5_probe) -> None:
    v5_probe.subscribe(f"{topic}/svc", qos=1)
    call = in_background(rr.request, broker.host, broker.port, f"{topic}/svc", b"question")
    asked = _next_message_or_failure(v5_probe, call)
    reply_to = asked.properties.get("ResponseTopic")
    correlation = asked.properties.get("CorrelationData")
    assert reply_to and correlation, (
        "a request carries a Response Topic and Correlation Data; got properties "
        f"{sorted(asked.properties)}"
    )
    assert asked.payload == b"question"
    v5_probe.publish(reply_to, b"someone else's", qos=1, properties=_props(CorrelationData=b"?"))
    v5_probe.publish(reply_to, b"uncorrelated", qos=1)
    v5_probe.publish(reply_to, b"the answer", qos=1, properties=_props(CorrelationData=correlation))
    got = call.result(timeout=5)
    assert got == b"the answer", teach(
        en="return only the answer whose Correlation Data is the one you sent; "
        f"request() returned {got!r}",
        ja="返すのは、送った相関データ (Correlation Data) と同じものを持つ答えだけです。"
        f"request() が返したのは {got!r}",
    )


def test_a_request_nobody_serves_times_out(broker, topic, no_thread_leak) -> None:
    # The SUBACK comes well within the short timeout; on a machine too busy for
    # that (a timeout waiting for it), once more with time.
    for timeout in PAST_CONNACK:
        error = expect_raises(
            TimeoutError,
            rr.request, broker.host, broker.port, f"{topic}/nobody", b"?", timeout=timeout,
            why=teach(en="nobody serves that topic", ja="そのトピックに答える人はいません"),
        )  # fmt: skip
        if f"{topic}/nobody" in str(error):
            break
    assert f"{topic}/nobody" in str(error), (
        "say which request got no response, e.g. "
        f"\"no response to the request on '{topic}/nobody' within {timeout} s\"; got {error!r}"
    )
    no_thread_leak()


def test_stop_leaves_no_network_thread(topic, serving, no_thread_leak) -> None:
    serving(f"{topic}/req", _echo).stop()
    no_thread_leak()


def test_serve_on_a_closed_port_fails_and_leaves_no_thread(no_thread_leak) -> None:
    expect_raises(
        (OSError, TimeoutError),
        rr.serve, "127.0.0.1", free_port(), "kata/req", _echo, timeout=1.0,
        why=nothing_listens(),
    )  # fmt: skip
    no_thread_leak()
