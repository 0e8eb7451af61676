"""Chapter 6 - TLS: an encrypted connection to the broker you meant to reach.

Plain MQTT (port 1883) sends everything, passwords included, as clear text.
MQTT over TLS (port 8883, MQTT 5 §4.2) first checks the server's certificate:
  1. it is signed by a certificate authority (CA) you trust, and
  2. it was issued for the host name (or IP address) you connected to.
Both checks are what makes it secure: encryption to an impostor is worthless.

paho: client.tls_set(ca_certs=path) trusts that CA file and turns both checks
on; ca_certs=None trusts your system's CAs (what a cloud broker with a public
certificate needs). Never call client.tls_insecure_set(True) or pass
cert_reqs=ssl.CERT_NONE: they switch the checks off and hide real mistakes.
The handshake runs inside client.connect(), so a failed check raises there:
  - ssl.SSLCertVerificationError "self-signed certificate in certificate chain"
    or "unable to get local issuer certificate": you do not trust the CA;
  - ssl.SSLCertVerificationError "Hostname mismatch" / "IP address mismatch":
    the certificate is for another name;
  - ConnectionResetError or ssl.SSLError: that port does not speak TLS.
Username and password work over TLS exactly as without it (see auth.py).

Implement connect_tls.
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
    """A client connected over TLS that verified the certificate and the host name."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kata-tls-{uuid.uuid4().hex[:8]}")
    # tls_set's defaults are the secure ones: CERT_REQUIRED and the host name check.
    client.tls_set(ca_certs=os.fspath(ca_certs) if ca_certs is not None else None)
    if username is not None:
        client.username_pw_set(username, password)
    return _await_connack(client, host, port, timeout)
