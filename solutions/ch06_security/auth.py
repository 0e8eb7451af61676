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


def _await_connack(client: mqtt.Client, host: str, port: int, timeout: float) -> mqtt.Client:
    """Connect `client`, wait for CONNACK; the running client, or an exception and no thread.

    Shared with tls.py: the same answer (CONNACK) decides over TLS.
    """
    connack = threading.Event()
    answer: dict[str, object] = {}

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        answer["reason"] = reason_code
        if reason_code.is_failure:
            # Hang up here, on paho's thread, before its loop schedules a retry.
            client.disconnect()
        connack.set()

    client.on_connect = on_connect
    client.connect_timeout = timeout
    client.connect(host, port, keepalive=60)
    client.loop_start()
    reason = None
    try:
        if not connack.wait(timeout):
            raise TimeoutError(f"no CONNACK within {timeout} s from {host}:{port}")
        reason = answer["reason"]
        if reason.is_failure:  # type: ignore[attr-defined]
            raise PermissionError(f"{host}:{port} refused the connection: {reason}")
    except BaseException:
        client.disconnect()
        client.loop_stop()
        raise
    return client


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
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"kata-auth-{uuid.uuid4().hex[:8]}")
    if username is not None:
        client.username_pw_set(username, password)
    return _await_connack(client, host, port, timeout)


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
    lines: list[str] = []
    for user, entries in rules.items():
        lines.append(f"user {_one_line('a user name', user)}")
        for access, topic in entries:
            if access not in ACCESS:
                raise ValueError(f"access must be one of {', '.join(ACCESS)}, not {access!r}")
            lines.append(f"topic {access} {_one_line('a topic', topic)}")
        lines.append("")
    return "\n".join(lines)
