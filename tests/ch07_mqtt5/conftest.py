"""Chapter 7 fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def private_broker(broker_factory):
    """A private broker of the session's kind; killed after the test, as it has nothing to save.

    (broker_factory's own cleanup stops it with SIGTERM, which mosquitto
    notices only after its 100 ms poll.)
    """
    private = broker_factory()
    yield private
    private.kill()
