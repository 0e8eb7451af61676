"""Chapter 6: TLS (exercises/ch06_security/tls.py)."""

from __future__ import annotations

import socket
import ssl

import pytest
import trustme
from _security_helpers import assert_publishes_then_close, leaves_a_failed_tls_socket

from kata import exercise
from kata.core.brokers import free_port
from kata.core.expect import expect_raises
from kata.core.i18n import teach

tls = exercise("ch06_security.tls")


@pytest.mark.needs_listener("tls")
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_connects_with_the_session_ca_and_the_certificate_name(broker, topic, probe, host) -> None:
    # The session certificate is issued for localhost, 127.0.0.1 and ::1.
    client = tls.connect_tls(host, broker.tls_port, broker.ca_path)
    assert_publishes_then_close(client, probe, f"{topic}/over-tls")


@pytest.mark.needs_listener("tls")
def test_username_and_password_work_over_tls(broker, topic, probe) -> None:
    client = tls.connect_tls(
        "127.0.0.1", broker.tls_port, broker.ca_path, username="kata", password=broker.users["kata"]
    )
    assert_publishes_then_close(client, probe, f"{topic}/tls-login")


@pytest.mark.needs_listener("tls")
def test_a_wrong_password_over_tls_is_refused(broker, no_thread_leak) -> None:
    expect_raises(
        PermissionError,
        tls.connect_tls, "127.0.0.1", broker.tls_port, broker.ca_path,
        username="kata", password="wrong",
        why=teach(
            en="over TLS too, the broker refuses a wrong password in its CONNACK",
            ja="TLS でも、間違ったパスワードはブローカーが CONNACK で拒否します",
        ),
    )  # fmt: skip
    no_thread_leak()


@pytest.mark.needs_listener("tls")
@leaves_a_failed_tls_socket
def test_without_the_ca_the_certificate_is_rejected(broker, no_thread_leak) -> None:
    expect_raises(
        ssl.SSLCertVerificationError,
        tls.connect_tls, "127.0.0.1", broker.tls_port, None,
        why=teach(
            en="ca_certs=None trusts only the system's CAs, which never signed the kata's "
            "per-session certificate: the check must fail. Keep tls_set()'s default "
            "cert_reqs=ssl.CERT_REQUIRED",
            ja="ca_certs=None で信頼するのはシステムの CA だけで、この kata のセッションごとの"
            "証明書には署名していません: チェックは失敗しなければなりません。tls_set() の"
            "デフォルト cert_reqs=ssl.CERT_REQUIRED のままにします",
        ),
    )  # fmt: skip
    no_thread_leak()


@pytest.mark.needs_listener("tls")
@leaves_a_failed_tls_socket
def test_the_plain_port_does_not_speak_tls(broker, no_thread_leak) -> None:
    error = expect_raises(
        OSError,
        tls.connect_tls, "127.0.0.1", broker.port, broker.ca_path, timeout=2.0,
        why=teach(
            en=f"port {broker.port} speaks plain MQTT and cannot answer a TLS handshake: call "
            "tls_set() before connect()",
            ja=f"ポート {broker.port} は普通の MQTT のポートで、TLS のハンドシェイクには答えられ"
            "ません: connect() の前に tls_set() を呼びます",
        ),
    )  # fmt: skip
    no_thread_leak()
    assert not isinstance(error, PermissionError), (
        f"a plain MQTT port hangs up on a TLS handshake, it sends no CONNACK; got {error!r}"
    )


@pytest.mark.needs_private_broker
@leaves_a_failed_tls_socket
def test_a_certificate_for_another_name_is_rejected(
    broker_factory, tmp_path, no_thread_leak
) -> None:
    # A broker whose certificate is valid, signed by a CA we trust, but issued
    # for mqtt.example.net: connecting to 127.0.0.1 or localhost must fail.
    ca = trustme.CA(organization_name="ch06 other-name CA")
    cert = ca.issue_cert("mqtt.example.net")
    ca.cert_pem.write_to_path(str(tmp_path / "other-ca.crt"))
    cert.private_key_pem.write_to_path(str(tmp_path / "other.key"))
    (tmp_path / "other.crt").write_bytes(b"".join(b.bytes() for b in cert.cert_chain_pems))
    port = free_port()
    # kind="local": the certificate files live in tmp_path, which a container cannot see.
    broker_factory(
        kind="local",
        extra="\n".join(
            [
                f"listener {port} 127.0.0.1",
                "allow_anonymous true",
                f"cafile {tmp_path / 'other-ca.crt'}",
                f"certfile {tmp_path / 'other.crt'}",
                f"keyfile {tmp_path / 'other.key'}",
            ]
        ),
    )
    for host in ("127.0.0.1", "localhost"):
        error = expect_raises(
            ssl.SSLCertVerificationError,
            tls.connect_tls, host, port, tmp_path / "other-ca.crt", timeout=2.0,
            why=teach(
                en=f"the certificate is for mqtt.example.net, not {host}: the host name check "
                "must fail. Never switch it off (tls_insecure_set(True))",
                ja=f"証明書は mqtt.example.net のもので、{host} のものではありません: ホスト名の"
                "チェックは失敗しなければなりません。無効にしてはいけません "
                "(tls_insecure_set(True))",
            ),
        )  # fmt: skip
        assert "mismatch" in str(error), f"expected a host name mismatch, got {error!r}"
    no_thread_leak()
    # The same CA and certificate pass when the name is right: only the name was wrong.
    context = ssl.create_default_context(cafile=str(tmp_path / "other-ca.crt"))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="mqtt.example.net"),
    ):
        pass
