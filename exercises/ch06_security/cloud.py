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
    raise NotImplementedError("TODO: urllib.parse.urlsplit, check the scheme, unquote credentials")


def connect_url(
    url: str, ca_certs: str | os.PathLike[str] | None = None, timeout: float = 5.0
) -> mqtt.Client:
    """A connected client for the broker the URL names (TLS for mqtts://).

    Logs in with the URL's credentials; ca_certs as in connect_tls (None: the
    system's CAs). Errors as in connect_authenticated and connect_tls.
    """
    raise NotImplementedError("TODO: parse_broker_url, then connect_tls or connect_authenticated")
