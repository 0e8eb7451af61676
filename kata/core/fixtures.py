"""The fixtures every chapter's tests use: the broker, probes, ids, and the shared peers
(peers.py). Loaded with the kata's plugin (its `pytest_plugins`), which has the hooks."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from kata.core import brokers, peers
from kata.core.brokers import Broker, Choice
from kata.core.i18n import t
from kata.core.plugin import STATE
from kata.core.probe import Probe


class _Closable(Protocol):
    def close(self) -> None: ...


Made = TypeVar("Made", bound=_Closable)


def closed_after(build: Callable[..., Made]) -> Iterator[Callable[..., Made]]:
    """Hand out `build`; close all it made afterwards, also after a failure. A factory
    fixture in one line, here and in the chapters' conftest files."""
    made: list[Made] = []

    def make(*args: object, **kwargs: object) -> Made:
        made.append(build(*args, **kwargs))
        return made[-1]

    yield make
    for thing in made:
        with contextlib.suppress(Exception):
            thing.close()


@pytest.fixture(scope="session")
def broker(pytestconfig: pytest.Config) -> Broker:
    """The session's broker: anonymous `port`, plus `auth_port` and `tls_port`."""
    return pytestconfig.stash[STATE].session_broker()


@pytest.fixture
def broker_factory(
    broker: Broker, pytestconfig: pytest.Config, tmp_path: Path
) -> Iterator[Callable[..., Broker]]:
    """broker_factory(kind=None, **brokers.start keywords) -> a private broker, closed after.

    For tests that stop, restart or misconfigure one; of the session's kind unless
    kind="local" asks for the mosquitto binary.
    """
    if broker.kind == "external":
        pytest.skip(t("skip.private_broker"))
    number = itertools.count()

    def start(kind: str | None = None, **kwargs: object) -> Broker:
        if kind == "local" and brokers.find_mosquitto() is None:
            pytest.skip(t("skip.needs_mosquitto"))
        choice = Choice(kind or broker.kind, "private")
        kwargs.setdefault("listeners", ("mqtt",))
        return brokers.start(choice, tmp_path / f"broker{next(number)}", **kwargs)

    yield from closed_after(start)
    # Their keys and password files: pytest keeps temp folders after the run.
    for workdir in tmp_path.glob("broker*"):
        shutil.rmtree(workdir, ignore_errors=True)


def _test_key(request: pytest.FixtureRequest) -> str:
    return hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]


@pytest.fixture
def topic(request: pytest.FixtureRequest, broker: Broker) -> Iterator[str]:
    """A topic prefix no other test uses; retained messages under it are cleared after."""
    prefix = f"kata/{_test_key(request)}/{uuid.uuid4().hex[:6]}"
    yield prefix
    if broker.kind == "external" and broker.username is None and broker.tls:
        return
    with contextlib.suppress(Exception), _probe_for(broker) as cleaner:
        for name in cleaner.retained_under(f"{prefix}/#", prefix):
            cleaner.publish(name, b"", qos=1, retain=True)


@pytest.fixture
def client_id(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """client_id("sub") -> an id unique to this test and call."""
    key = _test_key(request)

    def make(role: str = "client") -> str:
        return f"kata-{key}-{role}-{uuid.uuid4().hex[:6]}"

    return make


def _probe_for(broker: Broker, **kwargs: object) -> Probe:
    if broker.kind == "external":
        kwargs.setdefault("username", broker.username)
        kwargs.setdefault("password", broker.password)
        kwargs.setdefault("tls", broker.tls)
    return Probe(broker.host, broker.port, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def probe_factory(broker: Broker) -> Iterator[Callable[..., Probe]]:
    """probe_factory(**Probe kwargs) -> a connected recording client, closed after the test."""

    def make(port: int | None = None, **kwargs: object) -> Probe:
        # On another listener of the session broker, or on the anonymous one.
        if port is None:
            return _probe_for(broker, **kwargs)
        return Probe(broker.host, port, **kwargs)  # type: ignore[arg-type]

    yield from closed_after(make)


@pytest.fixture
def probe(probe_factory: Callable[..., Probe]) -> Probe:
    """A connected recording client on the session broker (like caplog, for MQTT)."""
    return probe_factory()


@pytest.fixture
def no_thread_leak() -> Iterator[Callable[[], None]]:
    """Call the yielded check after the code under test returned: no new paho thread may live."""
    before = set(threading.enumerate())

    def check(grace: float = 1.0) -> None:
        fresh = [t for t in threading.enumerate() if t not in before]
        leaked = [t for t in fresh if t.name.startswith("paho-mqtt-client")]
        for thread in leaked:
            thread.join(grace / max(1, len(leaked)))
        alive = [thread.name for thread in leaked if thread.is_alive()]
        assert not alive, t("thread_leak", alive=alive)

    yield check


# --- peers shared by the chapters -------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[int]:
    """The port of a server that accepts TCP and never says a word of MQTT (no CONNACK)."""
    with peers.silent_server() as port:
        yield port


@pytest.fixture
def scripted_broker() -> Iterator[Callable[..., peers.ScriptedBroker]]:
    """scripted_broker(**script) -> a ScriptedBroker (answers late or never), closed after."""
    yield from closed_after(peers.ScriptedBroker)


@pytest.fixture
def relay() -> Iterator[Callable[..., peers.Relay]]:
    """relay(host, port, pass_back=None, delay=0.0) -> a Relay before a broker, closed after."""
    yield from closed_after(peers.Relay)
