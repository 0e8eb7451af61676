"""Chapter 6 - passwords and ACLs: who may connect, and what each user may touch.

You write connect_authenticated and render_acl; _one_line is given.
Lesson: kata lesson auth  (auth.md, 日本語: auth.ja.md)
Check: kata check auth
"""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

# The access types of an acl_file `topic` line (mosquitto.conf(5), acl_file).
ACCESS = ("read", "write", "readwrite", "deny")


def connect_authenticated(
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    timeout: float = 5.0,
) -> mqtt.Client:
    """A connected client (network loop running) logged in as `username` (None: anonymous).

    A refusal raises PermissionError naming the CONNACK's reason, after exactly
    one attempt and with no network thread left. TimeoutError "no CONNACK
    within 5.0 s from host:port" when no answer comes.
    """
    raise NotImplementedError("TODO: username_pw_set, connect, wait for on_connect, check reason")


def _one_line(what: str, text: str) -> str:
    """`text` itself; ValueError when it is empty, has blanks around it or spans lines."""
    # A line break would end the rule early and start a new one that the
    # broker obeys: "evil\ntopic readwrite #" grants everything.
    if not text or text != text.strip() or "\n" in text or "\r" in text:
        raise ValueError(f"{what} must be one non-empty line without surrounding blanks: {text!r}")
    return text


def render_acl(rules: dict[str, list[tuple[str, str]]]) -> str:
    """The mosquitto acl_file text for {user: [(access, topic), ...]}.

    Per user a line "user NAME", then one "topic ACCESS TOPIC" line per rule,
    in the order given. ValueError for an access not in ACCESS, and for a
    name or topic that _one_line refuses.
    """
    raise NotImplementedError("TODO: 'user NAME', then 'topic ACCESS TOPIC' per rule; check access")
