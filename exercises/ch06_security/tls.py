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
Check your work: `kata check tls` (or: pytest tests/ch06_security/test_tls.py).
日本語のヒント: `kata hint tls --lang ja`
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

    ca_certs is the CA file to trust (None: the system's CAs). Let the ssl
    errors of a failed check through unchanged (ssl.SSLCertVerificationError),
    and any OSError of a port that does not speak TLS. With a username, the
    broker checks the password: a refusal raises PermissionError, as in
    connect_authenticated. Nothing may leave a network thread behind.
    """
    raise NotImplementedError("TODO: tls_set(ca_certs=...), then connect and wait for CONNACK")
