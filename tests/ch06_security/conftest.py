"""Chapter 6 fixtures."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator

import pytest


@pytest.fixture
def collect_failed_tls_sockets() -> Iterator[None]:
    """Close, after the test, the socket paho leaves behind when a TLS handshake fails.

    paho 2.2 does not close its socket when the handshake inside connect()
    raises; the exception's traceback keeps it alive until the garbage
    collector runs, whenever that is, and its ResourceWarning would then fail
    whichever test happens to run. Collect it here, inside the test that made it.
    """
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
