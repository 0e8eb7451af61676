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
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from .auth import connect_authenticated
from .tls import connect_tls

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class BrokerSettings:
    """Where a broker is and how to log in, as read from a URL."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None


def parse_broker_url(url: str) -> BrokerSettings:
    """mqtt[s]://[user[:password]@]host[:port] -> BrokerSettings; ValueError otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(f"a broker URL starts with mqtt:// or mqtts://, not {url!r}")
    if not parts.hostname:
        raise ValueError(f"the broker URL has no host: {url!r}")
    # .port raises ValueError itself for a port that is not a number 0-65535.
    port = parts.port if parts.port is not None else DEFAULT_PORTS[parts.scheme]
    username = urllib.parse.unquote(parts.username) if parts.username is not None else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    return BrokerSettings(parts.hostname, port, parts.scheme == "mqtts", username, password)


def connect_url(
    url: str, ca_certs: str | os.PathLike[str] | None = None, timeout: float = 5.0
) -> mqtt.Client:
    """A connected client for the broker the URL names (TLS for mqtts://)."""
    broker = parse_broker_url(url)
    if broker.tls:
        return connect_tls(
            broker.host, broker.port, ca_certs, timeout, broker.username, broker.password
        )
    return connect_authenticated(
        broker.host, broker.port, broker.username, broker.password, timeout
    )
