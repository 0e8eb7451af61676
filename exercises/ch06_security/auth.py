"""Chapter 6 - passwords and ACLs: who may connect, and what each user may touch.

A broker with `allow_anonymous false` and a `password_file` checks the
username and password in CONNECT and answers in CONNACK (MQTT 3.1.1 §3.2.2.3,
MQTT 5 §3.2.2.2). client.connect() returning 0 only means the CONNECT was
sent: whether you are let in is the reason code that on_connect receives
("Not authorized", 0x87; in 3.1.1 return code 5). And paho's network thread
retries a refused connection forever (1, 2, 4 ... s apart): a wrong password
never becomes right, so stop it after the first refusal.

Once in, an `acl_file` decides per user and topic (mosquitto.conf(5)):
    user sensor
    topic readwrite sensors/#
A denied publish is dropped without an error in MQTT 3.1.1 (the PUBACK still
says success); MQTT 5 answers with PUBACK reason code "Not authorized".
mosquitto (2.0.11 at least) even grants a subscription the ACL forbids:
its messages simply never come.

Implement connect_authenticated and render_acl.
Check your work: `kata check auth` (or: pytest tests/ch06_security/test_auth.py).
日本語のヒント: `kata hint auth --lang ja`
"""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def connect_authenticated(
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    timeout: float = 5.0,
) -> mqtt.Client:
    """A connected client (network loop running) logged in as `username`.

    username None means anonymous (no username_pw_set). Wait for on_connect
    and read its reason_code: when it is a failure (reason_code.is_failure),
    raise PermissionError naming the reason (e.g. "Not authorized"), after
    exactly one attempt: stop paho before its loop retries (disconnect() in
    on_connect, then loop_stop()), so no network thread is left behind.
    TimeoutError "no CONNACK within 5.0 s from host:port" when no answer comes.
    On success the caller owns the client (and later calls disconnect() and loop_stop()).
    """
    raise NotImplementedError("TODO: username_pw_set, connect, wait for on_connect, check reason")


def render_acl(rules: dict[str, list[tuple[str, str]]]) -> str:
    """The mosquitto acl_file text for {user: [(access, topic), ...]}.

    For every user a line "user NAME", then one line "topic ACCESS TOPIC" per
    rule, in the order given. ACCESS is "read", "write" or "readwrite";
    anything else raises ValueError (mosquitto would read a typo as part of
    the topic). A user name or topic that is empty, has blanks around it or
    contains a line break raises ValueError: "x\ntopic readwrite #" would
    smuggle in a rule of its own.
    """
    raise NotImplementedError("TODO: 'user NAME' then 'topic ACCESS TOPIC' lines; check access")
