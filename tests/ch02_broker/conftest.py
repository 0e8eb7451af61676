"""Chapter 2 test helpers: probes on any broker, configs a test can run, an HTTP server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from kata.core.fixtures import closed_after
from kata.core.peers import silent_server
from kata.core.probe import Probe

HTTP_400 = b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n"


@pytest.fixture
def connect() -> Iterator[Callable[..., Probe]]:
    """connect(host, port, **Probe kwargs) -> a Probe on any broker, closed after the test."""
    yield from closed_after(Probe)


@pytest.fixture
def runnable() -> Callable[[str], str]:
    """runnable(config_text) -> the same config, fit to run in this test's temp dirs.

    Mosquitto 2.x started as root drops to the user 'mosquitto', which cannot
    open files in pytest's private temp dirs; `user root` keeps it root. The
    learner's render_config never needs it: this is the test's own copy.
    """

    def fit(text: str) -> str:
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            return (
                text.rstrip("\n")
                + "\n\n# added by the test: stay root to use pytest's tmp dirs\nuser root\n"
            )
        return text

    return fit


@pytest.fixture
def http_server() -> Iterator[int]:
    """A port that is open and answers at once, in another protocol: HTTP 400, then close."""
    with silent_server(other_protocol=HTTP_400) as port:
        yield port
