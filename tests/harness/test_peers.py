"""The peers every chapter shares (kata/core/peers.py) and expect_raises (kata/core/expect.py).

None of these needs the broker: the scripted broker stands in for it.
"""

from __future__ import annotations

import socket
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kata.core.brokers import LOOPBACK, free_port
from kata.core.expect import expect_connack_timeout, expect_raises, short
from kata.core.peers import CONNACK_SIZE, Inbox, Relay, ScriptedBroker, silent_server
from kata.core.probe import Probe

QUICK = 0.3  # seconds to wait for what must NOT come from a local server


def _threads_named(prefix: str) -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]


# --- silent servers ---------------------------------------------------------------------


def test_a_silent_server_accepts_and_never_sends_a_connack() -> None:
    with silent_server() as port, pytest.raises(TimeoutError, match="no CONNACK"):
        Probe(LOOPBACK, port, timeout=QUICK)
    assert not _threads_named("kata-silent-server")


def test_a_server_of_another_protocol_answers_and_hangs_up() -> None:
    answer = b"HTTP/1.0 400 Bad Request\r\n\r\n"
    with (
        silent_server(other_protocol=answer) as port,
        socket.create_connection((LOOPBACK, port)) as s,
    ):
        s.settimeout(5)
        got = b""
        while chunk := s.recv(100):
            got += chunk
    assert got == answer


def test_the_silent_server_fixture_is_a_port(silent_server) -> None:
    with socket.create_connection((LOOPBACK, silent_server), timeout=5):
        pass


# --- the scripted broker ------------------------------------------------------------------


def test_a_scripted_broker_answers_every_handshake_by_default() -> None:
    with ScriptedBroker() as server, Probe(LOOPBACK, server.port) as probe:
        assert probe.subscribe("kata/a", qos=1) == 1
        probe.publish("kata/a", b"x", qos=1)
        probe.publish("kata/a", b"x", qos=2)
        probe.unsubscribe("kata/a")
        assert all(server.sent[name].is_set() for name in ("CONNACK", "SUBACK", "PUBACK", "PUBREC"))


def test_a_scripted_broker_refuses_with_the_given_codes(scripted_broker) -> None:
    with pytest.raises(ConnectionRefusedError):
        Probe(LOOPBACK, scripted_broker(connack_code=5).port)
    refusing = Probe(LOOPBACK, scripted_broker(suback_code=0x80).port)
    with refusing, pytest.raises(PermissionError):
        refusing.subscribe("kata/no", qos=1)


@pytest.mark.parametrize("answer", ["SUBACK", "PUBACK"])
def test_an_answer_scripted_never_never_comes(scripted_broker, answer) -> None:
    server = scripted_broker(suback_after=None, puback_after=None)
    with Probe(LOOPBACK, server.port) as probe, pytest.raises(TimeoutError):
        if answer == "SUBACK":
            probe.subscribe("kata/a", qos=1, timeout=QUICK)
        else:
            probe.publish("kata/a", b"x", qos=1, timeout=QUICK)
    assert not server.sent[answer].is_set()


def test_a_late_suback_is_marked_sent_before_it_is_written(scripted_broker) -> None:
    server = scripted_broker(suback_after=0.2)
    with Probe(LOOPBACK, server.port) as probe:
        assert not server.sent["SUBACK"].is_set()
        probe.subscribe("kata/a", qos=1)
        assert server.sent["SUBACK"].is_set()


def test_closing_a_scripted_broker_cuts_its_delays_short() -> None:
    server = ScriptedBroker(suback_after=600.0)
    probe = Probe(LOOPBACK, server.port)
    waiting = probe.client.subscribe("kata/a", qos=1)
    assert waiting[0] == mqtt.MQTT_ERR_SUCCESS
    server.close()  # would hang for ten minutes if the delay were a sleep
    probe.close()
    assert not _threads_named("kata-scripted-broker")
    assert not server.sent["SUBACK"].is_set()


# --- the relay ------------------------------------------------------------------------


def test_a_relay_passes_everything_both_ways(scripted_broker, relay) -> None:
    server = scripted_broker()
    link = relay(LOOPBACK, server.port)
    with Probe(LOOPBACK, link.port) as probe:
        probe.publish("kata/a", b"x", qos=1)
    assert len(link.attempts) == 1


def test_a_relay_that_passes_back_only_the_connack_loses_the_puback(scripted_broker) -> None:
    server = scripted_broker()
    with Relay(LOOPBACK, server.port, pass_back=CONNACK_SIZE) as link:
        with Probe(LOOPBACK, link.port) as probe, pytest.raises(TimeoutError):
            probe.publish("kata/a", b"x", qos=1, timeout=QUICK)
        assert server.sent["PUBACK"].is_set(), "the broker answered; the relay lost it"
        assert link.broker_closed_all(5.0), "the broker ends the connection after DISCONNECT"


def test_a_relay_delays_what_the_broker_says(scripted_broker) -> None:
    server = scripted_broker()
    link = Relay(LOOPBACK, server.port, delay=2 * QUICK)
    with link, socket.create_connection((LOOPBACK, link.port), timeout=5) as s:
        # CONNECT: MQTT 3.1.1, clean session, keepalive 60, client id "k".
        s.sendall(bytes.fromhex("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 6b"))
        assert server.sent["CONNACK"].wait(5)
        s.settimeout(QUICK)
        with pytest.raises(TimeoutError):
            s.recv(4)  # the CONNACK is on its way, late
        s.settimeout(5)
        assert s.recv(4) == bytes([0x20, 2, 0, 0])


def test_a_cut_relay_turns_clients_away_until_restored(scripted_broker) -> None:
    server = scripted_broker()
    with Relay(LOOPBACK, server.port) as link:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="kata-relay-test")
        # paho takes fractions of a second too: the test waits on two reconnects.
        client.reconnect_delay_set(min_delay=0.1, max_delay=0.1)  # type: ignore[arg-type]
        connected = threading.Event()
        client.on_connect = lambda *args: connected.set()
        client.connect(LOOPBACK, link.port)
        client.loop_start()
        try:
            assert connected.wait(5)
            connected.clear()
            link.cut()
            link.wait_hung_up()
            assert len(link.wait_attempts(1, timeout=5.0)) == 1
            assert not connected.is_set(), "a cut relay accepts and closes: no CONNACK"
            link.restore()
            assert connected.wait(5), "after restore() the client gets through again"
        finally:
            client.disconnect()
            client.loop_stop()


def test_a_relay_says_how_many_attempts_came(scripted_broker) -> None:
    with Relay(LOOPBACK, scripted_broker().port) as link:
        link.cut()
        with pytest.raises(AssertionError, match=r"0 connection attempts .* expected 2: why"):
            link.wait_attempts(2, timeout=0.1, why="why")
    assert not _threads_named("kata-relay")


# --- the inbox ----------------------------------------------------------------------


def test_an_inbox_records_and_hands_out_calls_in_order() -> None:
    inbox = Inbox()
    inbox("a/b", "one")
    inbox("a/b", "two")
    assert inbox.next() == ("a/b", "one")
    assert inbox.wait_for("two") == ("a/b", "two")
    assert inbox.next_or_none(timeout=0.01) is None
    assert inbox.calls == [("a/b", "one"), ("a/b", "two")]


def test_an_inbox_says_what_did_not_come_and_why() -> None:
    inbox = Inbox()
    inbox("t", "other")
    with pytest.raises(
        AssertionError, match=r"did not get 'x' within 0.01 s \(it got \['other'\]\)"
    ):
        inbox.wait_for("x", timeout=0.01)
    with pytest.raises(AssertionError, match=r"not called within 0\.01 s: on_message calls it"):
        inbox.next(timeout=0.01, why="on_message calls it")


def test_an_inbox_can_fail_like_a_broken_handler() -> None:
    inbox = Inbox(fail_on={"bad"})
    with pytest.raises(ValueError, match="'bad'"):
        inbox("t", "bad")
    assert inbox.next() == ("t", "bad")


def test_an_inbox_speaks_japanese(monkeypatch) -> None:
    monkeypatch.setenv("KATA_LANG", "ja")
    with pytest.raises(AssertionError, match="コールバックが呼ばれませんでした。ヒント: 理由"):
        Inbox().next(timeout=0.01, why="理由")


# --- expect_raises --------------------------------------------------------------------


def _positive(value: int) -> int:
    if value < 0:
        raise ValueError("negative")
    return value


def test_expect_raises_returns_the_exception() -> None:
    error = expect_raises(ValueError, _positive, -1, why="negative")
    assert str(error) == "negative"


def test_expect_raises_names_the_call_its_input_the_rule_and_the_result() -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        expect_raises((ValueError, TypeError), _positive, 5, why="5 is too big")
    assert str(failed.value) == (
        "_positive(5) should raise ValueError or TypeError: 5 is too big; it returned 5"
    )


def test_expect_raises_speaks_japanese(monkeypatch) -> None:
    monkeypatch.setenv("KATA_LANG", "ja")
    with pytest.raises(pytest.fail.Exception) as failed:
        expect_raises(ValueError, _positive, 5, why="大きすぎます")
    assert str(failed.value) == (
        "_positive(5) は ValueError を送出するはずです: 大きすぎます。実際は 5 を返しました"
    )


def test_expect_raises_lets_other_exceptions_through() -> None:
    def stub(value: int) -> int:
        raise NotImplementedError("TODO")

    with pytest.raises(NotImplementedError):
        expect_raises(ValueError, stub, 1, why="-")


def test_expect_raises_stops_a_paho_client_returned_by_mistake() -> None:
    server = ScriptedBroker()
    made: list[mqtt.Client] = []

    def connect() -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2)
        client.connect(LOOPBACK, server.port)
        client.loop_start()
        made.append(client)
        return client

    try:
        with pytest.raises(pytest.fail.Exception):
            expect_raises(PermissionError, connect, why="-")
        assert made[0]._thread is None, "its network loop was stopped"
    finally:
        server.close()


def test_expect_raises_undoes_what_the_call_started() -> None:
    undone: list[object] = []
    with pytest.raises(pytest.fail.Exception):
        expect_raises(ValueError, _positive, 5, why="-", undo=undone.append)
    assert undone == [5]


def test_short_keeps_long_inputs_readable() -> None:
    assert short("a/b") == "'a/b'"
    assert short("x" * 65536).endswith("... (65536 UTF-8 bytes)")
    assert len(short(b"\x00" * 1000)) < 100


def test_expect_connack_timeout_wants_the_connack_named(silent_server) -> None:
    def says(words: str):
        def connect(host: str, port: int, timeout: float) -> None:
            with socket.create_connection((host, port), timeout=timeout) as s:
                s.settimeout(timeout)
                try:
                    s.recv(4)
                except TimeoutError:
                    raise TimeoutError(words) from None

        return connect

    error = expect_connack_timeout(
        says("no CONNACK within 0.1 s"), LOOPBACK, silent_server, timeout=0.1
    )
    assert "CONNACK" in str(error)
    with pytest.raises(AssertionError, match="name the CONNACK that never came"):
        expect_connack_timeout(says("timed out"), LOOPBACK, silent_server, timeout=0.1)
    with pytest.raises(pytest.fail.Exception, match="accepts TCP but never answers MQTT"):
        expect_connack_timeout(lambda host, port, timeout: None, LOOPBACK, free_port(), timeout=0.1)
