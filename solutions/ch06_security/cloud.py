"""Chapter 6 - cloud brokers: everything about a connection in one URL.

You write parse_broker_url and connect_url; BrokerSettings is given.
Lesson: kata lesson cloud  (cloud.md, 日本語: cloud.ja.md)
Check: kata check cloud
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
    """mqtt[s]://[user[:password]@]host[:port] -> BrokerSettings; ValueError otherwise.

    mqtt:// is plain on 1883, mqtts:// TLS on 8883, unless the URL names a
    port. Credentials are percent-decoded (None when absent); an IPv6 host
    comes without brackets. Another scheme, no host or a bad port: ValueError.
    """
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
    """A connected client for the broker the URL names (TLS for mqtts://).

    Logs in with the URL's credentials; ca_certs as in connect_tls (None: the
    system's CAs). Errors as in connect_authenticated and connect_tls.
    """
    broker = parse_broker_url(url)
    if broker.tls:
        return connect_tls(
            broker.host, broker.port, ca_certs, timeout, broker.username, broker.password
        )
    return connect_authenticated(
        broker.host, broker.port, broker.username, broker.password, timeout
    )
