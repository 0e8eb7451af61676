"""Chapter 6 - TLS: an encrypted connection to the broker you meant to reach.

You write connect_tls.
Lesson: kata lesson tls  (tls.md, 日本語: tls.ja.md)
Check: kata check tls
"""

from __future__ import annotations

import os
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .auth import _await_connack


def connect_tls(
    host: str,
    port: int,
    ca_certs: str | os.PathLike[str] | None,
    timeout: float = 5.0,
    username: str | None = None,
    password: str | None = None,
) -> mqtt.Client:
    """A client connected over TLS that verified the certificate and the host name.

    ca_certs: the CA file to trust (None: the system's CAs). A failed check
    raises ssl.SSLCertVerificationError, a port without TLS an OSError, both
    unchanged; with a username, a refused login raises PermissionError as in
    connect_authenticated. No network thread is left behind on any error.
    """
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kata-tls-{uuid.uuid4().hex[:8]}")
    # tls_set's defaults are the secure ones: CERT_REQUIRED and the host name check.
    client.tls_set(ca_certs=os.fspath(ca_certs) if ca_certs is not None else None)
    if username is not None:
        client.username_pw_set(username, password)
    return _await_connack(client, host, port, timeout)
