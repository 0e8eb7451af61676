"""Chapter 2: waiting for the broker (exercises/ch02_broker/health.py)."""

from __future__ import annotations

import socket
import time

import pytest

from kata import exercise
from kata.core.brokers import LOOPBACK, free_port
from kata.core.expect import expect_connack_timeout, expect_raises
from kata.core.i18n import teach
from kata.core.peers import in_background

health = exercise("ch02_broker.health")

# How long the port of a late broker first turns connections away.
GATE_S = 0.1


# --- one attempt: connack_code --------------------------------------------------------


def test_connack_code_reads_the_brokers_answer(broker) -> None:
    code = health.connack_code(broker.host, broker.port, 5.0)
    assert code == 0, teach(
        en=f"the anonymous listener {broker.host}:{broker.port} accepts the CONNECT: its "
        f"CONNACK's return code (byte 3) is 0; got {code!r}",
        ja=f"匿名リスナー {broker.host}:{broker.port} は CONNECT を受け入れます。CONNACK の"
        f"戻りコード (インデックス 3 のバイト) は 0 です。結果: {code!r}",
    )


@pytest.mark.needs_listener("auth")
def test_connack_code_of_a_refusal(broker) -> None:
    code = health.connack_code(broker.host, broker.auth_port, 5.0)
    assert code == 5, teach(
        en=f"the password listener {broker.host}:{broker.auth_port} refuses a CONNECT without "
        f"user name with CONNACK return code 5 (not authorized); got {code!r}",
        ja=f"パスワード付きのリスナー {broker.host}:{broker.auth_port} は、ユーザー名のない "
        f"CONNECT を CONNACK の戻りコード 5 (not authorized) で拒否します。結果: {code!r}",
    )


def test_connack_code_rejects_a_server_that_speaks_another_protocol(http_server) -> None:
    error = expect_raises(
        OSError,
        health.connack_code, LOOPBACK, http_server, 2.0,
        why=teach(
            en=f"127.0.0.1:{http_server} answers 'HTTP/1.0 400 ...', not a CONNACK "
            "(0x20 0x02 ...): connack_code should raise ConnectionError",
            ja=f"127.0.0.1:{http_server} の答えは 'HTTP/1.0 400 ...' で、CONNACK "
            "(0x20 0x02 ...) ではありません: "
            "connack_code は ConnectionError を送出するはずです",
        ),
    )  # fmt: skip
    assert isinstance(error, ConnectionError) and not isinstance(error, TimeoutError), teach(
        en="the server answered at once, and not with 0x20 0x02: raise ConnectionError "
        f"(then wait_for_broker tries again); got {error!r}",
        ja="サーバーはすぐに答えましたが、0x20 0x02 ではありません: ConnectionError を送出します "
        f"(wait_for_broker がもう一度試します)。結果: {error!r}",
    )


def test_connack_code_gives_up_on_a_silent_server(silent_server) -> None:
    began = time.monotonic()
    error = expect_raises(
        OSError,
        health.connack_code, LOOPBACK, silent_server, 0.05,
        why=teach(
            en=f"127.0.0.1:{silent_server} never answers: connack_code should time out",
            ja=f"127.0.0.1:{silent_server} は何も答えません: "
            "connack_code はタイムアウトするはずです",
        ),
    )  # fmt: skip
    took = time.monotonic() - began
    assert isinstance(error, TimeoutError), teach(
        en="a silent server: the socket's timeout ends the recv with TimeoutError "
        f"(socket.timeout); got {error!r}",
        ja="何も答えないサーバー: ソケットのタイムアウトで recv が TimeoutError "
        f"(socket.timeout) になって終わります。結果: {error!r}",
    )
    assert took <= 1.0, teach(
        en=f"timeout=0.05 bounds the connect and every recv; it took {took:.2f} s "
        "(socket.create_connection((host, port), timeout=timeout) sets both)",
        ja=f"timeout=0.05 は接続とすべての recv の上限です。かかった時間: {took:.2f} 秒 "
        "(socket.create_connection((host, port), timeout=timeout) で両方に効きます)",
    )


# --- waiting: wait_for_broker (given) runs connack_code until a CONNACK ----------------


def test_a_running_broker_is_ready_at_once(broker) -> None:
    waited = health.wait_for_broker(broker.host, broker.port, timeout=5.0)
    assert isinstance(waited, float), f"return the seconds waited as a float, not {waited!r}"
    assert 0.0 <= waited < 2.0, teach(
        en=f"the broker is up: the first CONNACK comes at once, not after {waited} s",
        ja="ブローカーは動いています: 最初の CONNACK はすぐに届くはずです "
        f"({waited} 秒かかりました)",
    )


@pytest.mark.needs_private_broker
def test_a_broker_that_starts_late_is_found(broker_factory) -> None:
    # For the first GATE_S seconds the port belongs to a gate that accepts each attempt
    # and hangs up without a word; then the gate closes and a broker starts there.
    gate = socket.create_server((LOOPBACK, 0))
    port = gate.getsockname()[1]
    gate.settimeout(0.05)
    began = time.monotonic()
    waiting = in_background(health.wait_for_broker, LOOPBACK, port, timeout=20.0)
    attempts = 0
    with gate:
        while time.monotonic() - began < GATE_S:
            try:
                conn, _ = gate.accept()  # the next attempt of wait_for_broker
            except TimeoutError:
                continue
            finally:
                if waiting.done():
                    waiting.result()  # the exercise's own error, if it raised one
                    pytest.fail(
                        teach(
                            en="wait_for_broker returned, yet no CONNACK had come: a "
                            "connection that closes without an answer is not a broker",
                            ja="CONNACK が来ていないのに wait_for_broker が戻りました: "
                            "何も答えずに閉じる接続はブローカーではありません",
                        )
                    )
            conn.close()
            attempts += 1
    assert attempts, f"wait_for_broker did not even try to connect in {GATE_S} s"
    private = broker_factory(port=port)  # returns once the broker answers CONNECT
    waited = waiting.result(timeout=20)
    assert isinstance(waited, float), f"return the seconds waited as a float, not {waited!r}"
    assert GATE_S - 0.05 <= waited <= time.monotonic() - began + 0.05, (
        f"wait_for_broker returned {waited!r}; it waited from its call until the broker's "
        f"CONNACK, {time.monotonic() - began:.2f} s or a little less"
    )
    assert private.alive()


def test_a_closed_port_times_out_close_to_the_timeout() -> None:
    port = free_port()
    began = time.monotonic()
    expect_connack_timeout(
        health.wait_for_broker, "127.0.0.1", port, timeout=0.05,
        why=teach(
            en="nothing listens there: the broker is not ready",
            ja="そこでは何も待ち受けていません: ブローカーは準備できていません",
        ),
    )  # fmt: skip
    took = time.monotonic() - began
    assert 0.045 <= took <= 1.05, teach(
        en="with timeout=0.05 keep trying until about 0.05 s have passed, then raise; "
        f"took {took:.2f} s",
        ja="timeout=0.05 なら、約 0.05 秒が過ぎるまで試し続けてから例外を送出します。"
        f"かかった時間: {took:.2f} 秒",
    )


def test_a_silent_tcp_server_is_not_ready(silent_server, no_thread_leak) -> None:
    # It accepts the connection, so the port is open; it never sends a CONNACK.
    began = time.monotonic()
    expect_connack_timeout(health.wait_for_broker, "127.0.0.1", silent_server, timeout=0.05)
    took = time.monotonic() - began
    assert took <= 1.05, teach(
        en=f"a silent server must not hold you past the timeout (0.05 s): {took:.2f} s",
        ja=f"何も答えないサーバーに timeout (0.05 秒) を越えて待たされてはいけません: "
        f"{took:.2f} 秒",
    )
    no_thread_leak()


def test_a_server_that_speaks_another_protocol_is_not_ready(http_server) -> None:
    expect_raises(
        TimeoutError,
        health.wait_for_broker, LOOPBACK, http_server, timeout=0.05,
        why=teach(
            en=f"127.0.0.1:{http_server} is an open port that answers in HTTP: "
            "an open port is not a broker",
            ja=f"127.0.0.1:{http_server} は開いていて HTTP で答えるポートです: "
            "ポートが開いているだけではブローカーではありません",
        ),
    )  # fmt: skip


@pytest.mark.needs_listener("auth")
def test_a_broker_that_refuses_you_is_still_ready(broker) -> None:
    # The password listener answers an anonymous CONNECT with CONNACK 5: refused, but up.
    waited = health.wait_for_broker(broker.host, broker.auth_port, timeout=5.0)
    assert 0.0 <= waited < 2.0, teach(
        en="any CONNACK, even a refusal (return code 5), proves the broker is running",
        ja="どんな CONNACK でも、たとえ拒否 (戻りコード 5) でも、ブローカーが動いている証拠です",
    )
