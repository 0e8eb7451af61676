"""Chapter 6 - TLS: an encrypted connection to the broker you meant to reach.

You write connect_tls.
Lesson: kata lesson tls  (tls.md, 日本語: tls.ja.md)
Check: kata check tls
"""

from __future__ import annotations

import os
import ssl
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


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
    raise NotImplementedError("TODO: tls_set(ca_certs=...), then connect and wait for CONNACK")
