"""Chapter 6: cloud brokers by URL (exercises/ch06_security/cloud.py)."""

from __future__ import annotations

import ipaddress
import ssl
import urllib.parse

import pytest
from _security_helpers import assert_publishes_then_close, leaves_a_failed_tls_socket
from hypothesis import given, settings
from hypothesis import strategies as st

from kata import exercise
from kata.core.expect import expect_raises
from kata.core.i18n import teach
from kata.core.probe import Probe

cloud = exercise("ch06_security.cloud")


def _fields(settings) -> tuple:
    return (settings.host, settings.port, settings.tls, settings.username, settings.password)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker.example.com", ("broker.example.com", 1883, False, None, None)),
        ("mqtts://abc.s1.eu.hivemq.cloud", ("abc.s1.eu.hivemq.cloud", 8883, True, None, None)),
        ("mqtt://localhost:1884", ("localhost", 1884, False, None, None)),
        ("mqtts://10.0.0.7:443", ("10.0.0.7", 443, True, None, None)),
        ("mqtts://alice:s3cret@h.example:8883", ("h.example", 8883, True, "alice", "s3cret")),
        ("mqtt://alice@h.example", ("h.example", 1883, False, "alice", None)),
        ("mqtts://me%40co:p%40s%3A%2F%25@h.ex", ("h.ex", 8883, True, "me@co", "p@s:/%")),
        ("mqtts://[::1]:8883", ("::1", 8883, True, None, None)),
        ("mqtt://[2001:db8::7]", ("2001:db8::7", 1883, False, None, None)),
    ],
    ids=[
        "mqtt-default-port", "mqtts-default-port", "explicit-port", "mqtts-explicit-port",
        "credentials", "username-only", "percent-encoded", "ipv6-literal", "ipv6-default-port",
    ],
)  # fmt: skip
def test_parse_broker_url(url, expected) -> None:
    settings = cloud.parse_broker_url(url)
    assert isinstance(settings, cloud.BrokerSettings), "return a BrokerSettings"
    assert _fields(settings) == expected, teach(
        en=f"{url!r} means (host, port, tls, username, password) = {expected}, "
        f"got {_fields(settings)}. mqtt:// is plain on 1883, mqtts:// is TLS on 8883, "
        "credentials are percent-decoded",
        ja=f"{url!r} は (host, port, tls, username, password) = {expected} です。"
        f"実際は {_fields(settings)}。mqtt:// は暗号化なしで 1883、mqtts:// は TLS で 8883、"
        "認証情報はパーセントデコードします",
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://broker.example.com",
        "ws://broker.example.com:8080",
        "tcp://broker.example.com:1883",
        "broker.example.com:1883",
        "mqtt://",
        "mqtts://:8883",
        "mqtt:///no-host",
        "mqtt://broker.example.com:port",
        "mqtt://broker.example.com:70000",
    ],
)
def test_parse_broker_url_rejects(url) -> None:
    expect_raises(
        ValueError,
        cloud.parse_broker_url, url,
        why=teach(
            en=f"{url!r} names no broker: only mqtt:// and mqtts:// URLs with a host and a "
            "valid port do",
            ja=f"{url!r} はブローカーを表していません: 表せるのは、ホストと正しいポートを持つ "
            "mqtt:// か mqtts:// の URL だけです",
        ),
    )  # fmt: skip


_label = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
_hosts = st.one_of(
    st.lists(_label, min_size=1, max_size=4).map(".".join),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)
_secrets = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20)


@settings(max_examples=60)
@given(
    tls=st.booleans(),
    host=_hosts,
    port=st.none() | st.integers(1, 65535),
    username=st.none() | _secrets,
    password=_secrets,
)
def test_parse_broker_url_reads_back_what_a_url_holds(tls, host, port, username, password) -> None:
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if username is not None:
        quote = urllib.parse.quote
        netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{netloc}"
    url = f"{'mqtts' if tls else 'mqtt'}://{netloc}"
    settings = cloud.parse_broker_url(url)
    default = 8883 if tls else 1883
    expected = (
        host,
        port or default,
        tls,
        username,
        password if username is not None else None,
    )
    assert _fields(settings) == expected, f"{url!r}"
    if ":" in host:
        assert ipaddress.ip_address(settings.host), "an IPv6 host comes back without brackets"


# --- connect_url against the session broker ------------------------------------------


@pytest.mark.needs_listener("tls")
def test_connect_url_reaches_the_tls_listener(broker, topic, probe) -> None:
    client = cloud.connect_url(f"mqtts://localhost:{broker.tls_port}", ca_certs=broker.ca_path)
    assert_publishes_then_close(client, probe, f"{topic}/by-url")


@pytest.mark.needs_listener("auth")
@pytest.mark.needs_listener("tls")
@pytest.mark.parametrize("scheme", ["mqtt", "mqtts"])
def test_connect_url_logs_in_with_the_url_credentials(broker, topic, probe, scheme) -> None:
    port = broker.tls_port if scheme == "mqtts" else broker.auth_port
    url = f"{scheme}://kata:{broker.users['kata']}@127.0.0.1:{port}"
    client = cloud.connect_url(url, ca_certs=broker.ca_path)
    assert_publishes_then_close(client, probe, f"{topic}/{scheme}-login")


@pytest.mark.needs_listener("tls")
def test_connect_url_with_a_wrong_password_is_refused(broker, no_thread_leak) -> None:
    expect_raises(
        PermissionError,
        cloud.connect_url, f"mqtts://kata:wrong@127.0.0.1:{broker.tls_port}",
        ca_certs=broker.ca_path,
        why=teach(
            en="the URL's password is wrong, so the broker refuses the login",
            ja="URL のパスワードが間違っているので、ブローカーはログインを拒否します",
        ),
    )  # fmt: skip
    no_thread_leak()


@pytest.mark.needs_listener("tls")
@leaves_a_failed_tls_socket
def test_connect_url_trusts_only_the_system_cas_by_default(broker, no_thread_leak) -> None:
    expect_raises(
        ssl.SSLCertVerificationError,
        cloud.connect_url, f"mqtts://localhost:{broker.tls_port}",
        why=teach(
            en="without ca_certs only the system's CAs are trusted, and none of them signed "
            "the kata's certificate: the check must fail, never be switched off",
            ja="ca_certs がなければシステムの CA だけを信頼し、そのどれもこの kata の証明書には"
            "署名していません: チェックは失敗すべきで、無効にしてはいけません",
        ),
    )  # fmt: skip
    no_thread_leak()


@pytest.mark.needs_private_broker
def test_connect_url_decodes_a_password_full_of_url_characters(broker_factory, topic) -> None:
    # Cloud consoles generate passwords like this one; in a URL they must be
    # percent-encoded, and the broker must receive them decoded.
    user, password = "device@home", "p@ss:w/rd#1%?"
    quote = urllib.parse.quote
    url = f"mqtts://{quote(user, safe='')}:{quote(password, safe='')}@localhost:{{port}}"
    settings = cloud.parse_broker_url(url.format(port=8883))
    assert (settings.username, settings.password) == (user, password), "percent-decode both"
    private = broker_factory(listeners=("mqtt", "tls"), users={user: password})
    client = cloud.connect_url(url.format(port=private.tls_port), ca_certs=private.ca_path)
    with Probe(private.host, private.port) as probe:
        assert_publishes_then_close(client, probe, f"{topic}/decoded")
