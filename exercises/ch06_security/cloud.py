"""Chapter 6 - cloud brokers: everything about a connection in one URL.

Cloud brokers hand you their address as a URL, e.g. for HiveMQ Cloud
    mqtts://my-user:my-password@abc123.s1.eu.hivemq.cloud:8883
  - the scheme says plain (mqtt://, port 1883) or TLS (mqtts://, port 8883);
  - an explicit :port wins over the default;
  - user and password are percent-encoded (RFC 3986 §3.2.1): a password with
    @ : / or % in it is written %40 %3A %2F %25, and must be decoded;
  - an IPv6 address goes in brackets: mqtts://[::1]:8883.
urllib.parse.urlsplit() does the splitting; unquote() does the decoding.
Public cloud brokers have certificates from public CAs, so ca_certs=None
(your system's CAs) is right for them. (AWS IoT Core logs devices in with a
client certificate, client.tls_set(certfile=..., keyfile=...), not a password.)
The whole kata runs against such a broker too: set MQTT_BROKER_URL=<the URL>.

Implement parse_broker_url and connect_url (reuse auth.py and tls.py).
`BrokerSettings` is given.
Check your work: `kata check cloud` (or: pytest tests/ch06_security/test_cloud.py).
日本語のヒント: `kata hint cloud --lang ja`
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from .auth import connect_authenticated
from .tls import connect_tls


@dataclass(frozen=True)
class BrokerSettings:
    """Where a broker is and how to log in, as read from a URL."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None


def parse_broker_url(url: str) -> BrokerSettings:
    """mqtt[s]://[user[:password]@]host[:port] -> BrokerSettings; ValueError otherwise.

    mqtt:// is plain on port 1883, mqtts:// is TLS on port 8883, unless the
    URL names a port. username and password are percent-decoded, None when
    absent. An IPv6 host comes without its brackets ("::1"). Any other scheme
    (http://, tcp://, none at all), a missing host or a bad port: ValueError.
    """
    raise NotImplementedError("TODO: urllib.parse.urlsplit, check the scheme, unquote credentials")


def connect_url(
    url: str, ca_certs: str | os.PathLike[str] | None = None, timeout: float = 5.0
) -> mqtt.Client:
    """A connected client for the broker the URL names (TLS for mqtts://).

    Uses the URL's username and password. ca_certs as in connect_tls (None:
    the system's CAs, right for a public cloud broker). Errors as in
    connect_authenticated and connect_tls.
    """
    raise NotImplementedError("TODO: parse_broker_url, then connect_tls or connect_authenticated")
