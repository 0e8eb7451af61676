"""The broker fixture's promises: real listeners, clear errors, private brokers, no leftovers."""

from __future__ import annotations

import ssl
import time

import pytest

from kata.core import brokers
from kata.core.brokers import BrokerError, NoBrokerError, connack_code, free_port
from kata.core.probe import Probe

pytestmark = pytest.mark.needs_listener("auth")


def test_anonymous_listener_accepts(broker) -> None:
    assert connack_code(broker.host, broker.port) == 0


def test_password_listener_refuses_anonymous_clients(broker) -> None:
    # 3.1.1 return code 5: not authorised.
    assert connack_code(broker.host, broker.auth_port) == 5


def test_password_listener_accepts_its_users_and_applies_the_acl(broker, topic) -> None:
    users = broker.users
    area = f"sensors/{topic}"
    with (
        Probe(
            broker.host, broker.auth_port, username="dashboard", password=users["dashboard"]
        ) as dashboard,
        Probe(broker.host, broker.auth_port, username="kata", password=users["kata"]) as admin,
    ):
        dashboard.subscribe(f"{area}/#", qos=1)
        dashboard.subscribe(f"commands/{topic}/#", qos=1)
        admin.subscribe(f"{area}/#", qos=1)
        admin.publish(f"{area}/t", b"allowed", qos=1)
        admin.publish(f"commands/{topic}/t", b"not for the dashboard", qos=1)
        dashboard.publish(f"{area}/t", b"dashboards may not publish", qos=1)
        assert [m.payload for m in dashboard.settle(via=admin, under=area)] == [b"allowed"]
        assert [m.payload for m in admin.settle()] == [b"allowed"]


def test_password_listener_refuses_a_wrong_password(broker) -> None:
    with pytest.raises(ConnectionRefusedError):
        Probe(broker.host, broker.auth_port, username="kata", password="wrong")


@pytest.mark.needs_listener("tls")
@pytest.mark.parametrize("name", ["localhost", "127.0.0.1"])
def test_tls_listener_verifies_against_the_session_ca(broker, name) -> None:
    context = ssl.create_default_context(cafile=str(broker.ca_path))
    assert connack_code(name, broker.tls_port, tls_context=context) == 0


@pytest.mark.needs_listener("tls")
def test_tls_listener_is_refused_without_the_ca(broker) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        connack_code("127.0.0.1", broker.tls_port, tls_context=ssl.create_default_context())


def test_private_broker_restarts_on_the_same_port(broker_factory) -> None:
    private = broker_factory()
    port = private.port
    private.stop()
    with pytest.raises(OSError):
        connack_code(private.host, port, timeout=0.5)
    private.start()
    assert (private.port, connack_code(private.host, port)) == (port, 0)


def test_private_broker_with_persistence_keeps_a_queued_message(broker_factory, topic) -> None:
    private = broker_factory(persistence=True)
    with Probe(private.host, private.port, client_id="kata-keep", clean_session=False) as p:
        p.subscribe(f"{topic}/q", qos=1)
    with Probe(private.host, private.port) as sender:
        sender.publish(f"{topic}/q", b"kept", qos=1)
    private.stop()  # SIGTERM: mosquitto writes mosquitto.db
    private.start()
    with Probe(private.host, private.port, client_id="kata-keep", clean_session=False) as p:
        assert p.session_present
        assert p.get().payload == b"kept"


def test_a_killed_broker_is_seen_as_dead_with_its_log(broker_factory) -> None:
    private = broker_factory()
    assert private.alive()
    private.kill()
    assert not private.alive()
    assert "mosquitto" in private.log_tail().lower()


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(BrokerError, match="unknown broker 'cloud'"):
        brokers.choose("cloud")


def test_docker_probe_is_bounded_when_no_engine_answers(monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    started = time.monotonic()
    ok, why = brokers.docker_engine_answers(timeout=2.0)
    assert not ok and "no Docker engine" in why
    assert time.monotonic() - started < 3.0


def test_no_broker_at_all_explains_the_three_ways(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    monkeypatch.delenv("MQTT_BROKER_URL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(brokers, "_EXTRA_BIN_DIRS", ())
    with pytest.raises(NoBrokerError) as raised:
        brokers.choose("auto")
    text = str(raised.value)
    for way in ("Docker Desktop", "apt install mosquitto", "MQTT_BROKER_URL"):
        assert way in text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1", ("127.0.0.1", 1883, False, None, None)),
        ("mqtts://u%40x:p%3Aw@127.0.0.1:9", ("127.0.0.1", 9, True, "u@x", "p:w")),
    ],
)
def test_external_url_is_parsed(monkeypatch, url, expected) -> None:
    monkeypatch.setattr(brokers.socket, "create_connection", lambda *a, **k: _Closable())
    monkeypatch.setattr(brokers, "check_login", lambda *a, **k: None)
    b = brokers.from_url(url)
    assert (b.host, b.port, b.tls, b.username, b.password) == expected


class _Closable:
    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.org", "must start with mqtt:// or mqtts://"),
        ("mqtt://", "has no host name"),
        (f"mqtt://127.0.0.1:{free_port()}", "cannot be reached"),
    ],
    # Names without the free port: parallel workers must collect the same tests.
    ids=["not-mqtt", "no-host", "nobody-listens"],
)
def test_bad_external_url_is_one_clear_error(url, message) -> None:
    with pytest.raises(BrokerError, match=message):
        brokers.from_url(url, timeout=1.0)


def test_docker_without_its_image_falls_back_to_mosquitto_in_one_line(sandbox) -> None:
    """Offline with a Docker engine: one short line, not the Docker API's error text."""
    if not brokers.docker_engine_answers(timeout=2.0)[0] or brokers.find_mosquitto() is None:
        pytest.skip("needs a running Docker engine and the mosquitto program")
    sandbox.env.update(KATA_BROKER="auto", KATA_MOSQUITTO_IMAGE="kata-no-such-image:0")
    result = sandbox.run("tests/ch03_clients/test_publisher.py", "-k", "in_order", timeout=120)
    out = result.stdout
    line = (
        "Docker is running but kata-no-such-image:0 could not be pulled: using the local mosquitto"
    )
    assert line in out, out
    assert "kata broker: local" in out, out
    assert "404" not in out and "Client Error" not in out, "no Docker API text: " + out
