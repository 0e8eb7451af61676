"""Naming a beginner's classic mistakes from what paho itself observed.

A beginner needs the cause in the first line, not only what the test expected:
- no network loop: connect() and never loop_start(), loop_forever() nor loop();
- a paho 1.x callback signature: paho's own call of the callback raised TypeError;
- subscribe() before connect(): MQTT_ERR_NO_CONN, and no later subscribe() succeeded;
- disconnect() while paho still held unconfirmed QoS 1/2 messages.
Pass-through wrappers around paho's Client methods record what clients made by the
tree under test did during a test (not the harness's probes); nothing is changed on
the way, and a diagnosis states only what was recorded.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt

from kata.core.guards import causes, traceback_in_tree, where_text
from kata.core.i18n import t, tn
from kata.core.target import in_tree

PAHO_CLIENT_FILE = Path(mqtt.__file__).resolve()

# paho's functions that call a learner's callback, and the callback each calls.
CALLBACK_DISPATCH = {
    "_handle_connack": "on_connect",
    "_do_on_disconnect": "on_disconnect",
    "_handle_suback": "on_subscribe",
    "_handle_unsuback": "on_unsubscribe",
    "_do_on_publish": "on_publish",
    "_packet_write": "on_publish",
    "_handle_on_message": "on_message",
    "_easy_log": "on_log",
    "_handle_on_connect_fail": "on_connect_fail",
}

# What paho 2.x (CallbackAPIVersion.VERSION2) passes to each callback.
SIGNATURES = {
    "on_connect": "on_connect(client, userdata, flags, reason_code, properties)",
    "on_disconnect": "on_disconnect(client, userdata, flags, reason_code, properties)",
    "on_subscribe": "on_subscribe(client, userdata, mid, reason_code_list, properties)",
    "on_unsubscribe": "on_unsubscribe(client, userdata, mid, reason_code_list, properties)",
    "on_publish": "on_publish(client, userdata, mid, reason_code, properties)",
    "on_message": "on_message(client, userdata, message)",
    "on_log": "on_log(client, userdata, level, buf)",
    "on_connect_fail": "on_connect_fail(client, userdata)",
}

# How long a test may wait on a client with no network loop before it is stopped
# and the mistake named: a CONNACK comes back from a local broker in ~1 ms.
EARLY_AFTER = 1.5
CHECK_EVERY = 0.25


class LearnerMistake(BaseException):
    """Raised in the main thread once a classic mistake is certain: the test stops there
    (a BaseException, so that a learner's `except Exception:` cannot swallow it)."""


@functools.lru_cache(maxsize=1024)
def _is_paho(filename: str) -> bool:
    try:
        return Path(filename).resolve() == PAHO_CLIENT_FILE
    except (OSError, ValueError):
        return False


def callback_signature(exc: BaseException | None) -> str | None:
    """The TypeError of paho calling a learner's callback with 2.x arguments, named; only
    when paho's call raised it (the last frame), not the callback's own code."""
    if not isinstance(exc, TypeError) or "argument" not in str(exc):
        return None
    last = exc.__traceback__
    while last is not None and last.tb_next is not None:
        last = last.tb_next
    if last is None:
        return None
    code = last.tb_frame.f_code
    callback = CALLBACK_DISPATCH.get(code.co_name)
    if callback is None or not _is_paho(code.co_filename):
        return None
    return t(
        "mistake.callback_signature",
        callback=callback,
        signature=SIGNATURES[callback],
        error=str(exc),
    )


# --- what paho observed, per test ------------------------------------------------


@dataclass
class ClientNotes:
    """What one client of the learner's did during a test."""

    client: weakref.ref
    connected_at: float | None = None  # connect() (or connect_async()) called
    looped: bool = False  # loop_start(), loop_forever() or loop() called
    failed_subscribes: list[str] = field(default_factory=list)  # MQTT_ERR_NO_CONN
    subscribed: bool = False  # a subscribe() paho accepted
    unconfirmed_at_disconnect: list[tuple[str, int]] = field(default_factory=list)
    disconnected_at: float | None = None  # when disconnect() left messages unconfirmed
    dropped: list[str] = field(default_factory=list)  # topics of messages no callback took
    dropped_at: float | None = None  # the first of them


@dataclass
class TestLog:
    clients: dict[int, ClientNotes] = field(default_factory=dict)

    def notes(self, client: object) -> ClientNotes | None:
        found = self.clients.get(id(client))
        return found if found is not None and found.client() is client else None


_CURRENT: TestLog | None = None
_INSTALLED: dict[str, Callable] = {}


def start_test() -> TestLog:
    global _CURRENT
    _CURRENT = TestLog()
    return _CURRENT


def stop_test() -> None:
    global _CURRENT
    _CURRENT = None


def _notes(client: mqtt.Client) -> ClientNotes | None:
    return _CURRENT.notes(client) if _CURRENT is not None else None


def _after_init(client: mqtt.Client, *_: object, **__: object) -> None:
    """Notes for a client made by the tree's code (found past paho and these wrappers)."""
    frame = sys._getframe(1)
    while frame is not None and (
        frame.f_code.co_filename == __file__ or _is_paho(frame.f_code.co_filename)
    ):
        frame = frame.f_back
    if _CURRENT is not None and frame is not None and in_tree(frame.f_code.co_filename):
        _CURRENT.clients[id(client)] = ClientNotes(weakref.ref(client))


def _after_connect(client: mqtt.Client, *_: object, **__: object) -> None:
    """connect() returned: the connection is open and CONNECT was sent."""
    notes = _notes(client)
    if notes is not None and notes.connected_at is None and _socket_of(client) is not None:
        notes.connected_at = time.monotonic()


def _after_connect_async(client: mqtt.Client, *_: object, **__: object) -> None:
    """connect_async() by the learner (paho's connect() calls it too): only a loop connects."""
    notes = _notes(client)
    caller = sys._getframe(2).f_code.co_filename  # above the wrapper
    if notes is not None and notes.connected_at is None and not _is_paho(caller):
        notes.connected_at = time.monotonic()


def _socket_of(client: mqtt.Client) -> object:
    return getattr(client, "_sock", None)


def _looped(client: mqtt.Client, *_: object, **__: object) -> None:
    # Before loop_forever() and loop() (loop_forever() returns only at the
    # end: it counts from its call), after loop_start().
    notes = _notes(client)
    if notes is not None:
        notes.looped = True


def _after_subscribe(client: mqtt.Client, result: object, *args: object, **kwargs: object) -> None:
    notes = _notes(client)
    if notes is None or not isinstance(result, tuple) or not result:
        return
    if result[0] == mqtt.MQTT_ERR_NO_CONN:
        notes.failed_subscribes.append(str(args[0] if args else kwargs.get("topic", "")))
    elif result[0] == mqtt.MQTT_ERR_SUCCESS:
        notes.subscribed = True


def _deaf_to(client: mqtt.Client, topic: str) -> bool:
    """No on_message and no callback for `topic` (message_callback_add): paho drops it."""
    try:
        return client.on_message is None and not list(client._on_message_filtered.iter_match(topic))
    except Exception:  # paho's insides changed: claim nothing
        return False


def _before_on_message(client: mqtt.Client, message: mqtt.MQTTMessage, *_: object) -> None:
    """A message paho is about to drop."""
    notes = _notes(client)
    if notes is not None and _deaf_to(client, message.topic):
        notes.dropped.append(message.topic)
        notes.dropped_at = notes.dropped_at or time.monotonic()


def _before_disconnect(client: mqtt.Client, *_: object, **__: object) -> None:
    notes = _notes(client)
    if notes is None or notes.unconfirmed_at_disconnect:
        return
    messages = getattr(client, "_out_messages", {})
    with contextlib.suppress(RuntimeError):  # changed by paho's thread meanwhile
        unconfirmed = [(m.topic, m.qos) for m in list(messages.values()) if m.qos > 0]
        if unconfirmed:
            notes.unconfirmed_at_disconnect = unconfirmed
            notes.disconnected_at = time.monotonic()


def _wrap(original: Callable, before: Callable | None, after: Callable | None) -> Callable:
    @functools.wraps(original)
    def wrapper(self: mqtt.Client, *args: object, **kwargs: object) -> object:
        __tracebackhide__ = True  # a learner's traceback goes from their code to paho's
        if before is not None and _CURRENT is not None:
            with contextlib.suppress(Exception):
                before(self, *args, **kwargs)
        result = original(self, *args, **kwargs)
        if after is not None and _CURRENT is not None:
            with contextlib.suppress(Exception):
                after(self, result, *args, **kwargs)
        return result

    wrapper.__kata_original__ = original  # type: ignore[attr-defined]
    return wrapper


def install() -> None:
    """Record what the learner's clients do (once per process; pass-through)."""
    if _INSTALLED:
        return
    plan: dict[str, tuple[Callable | None, Callable | None]] = {
        "__init__": (None, _after_init),
        "connect": (None, _after_connect),
        "connect_async": (None, _after_connect_async),
        "loop_start": (None, _looped),
        "loop_forever": (_looped, None),
        "loop": (_looped, None),
        "subscribe": (None, _after_subscribe),
        "disconnect": (_before_disconnect, None),
        "_handle_on_message": (_before_on_message, None),
    }
    for name, (before, after) in plan.items():
        _INSTALLED[name] = getattr(mqtt.Client, name)
        setattr(mqtt.Client, name, _wrap(_INSTALLED[name], before, after))


# --- naming -----------------------------------------------------------------------


def _mistake(
    log: TestLog, due: Callable[[float | None], bool], idle: Callable[[ClientNotes], bool]
) -> str | None:
    """The first mistake in `log`: an `idle` client that never looped, subscribe() before
    connect(), disconnect() with messages in flight; `due(when it was noted)`: it counts now."""
    clients = list(log.clients.values())
    if any(not notes.looped and idle(notes) for notes in clients):
        # No client id: a report of the same code must read the same every time.
        return t("mistake.no_loop")
    failed = next((n for n in clients if n.failed_subscribes and not n.subscribed), None)
    if failed is not None and due(failed.connected_at):
        return t("mistake.subscribe_not_connected", topic=failed.failed_subscribes[0])
    for notes in clients:
        unconfirmed = notes.unconfirmed_at_disconnect
        if unconfirmed and due(notes.disconnected_at):
            qos, topic = max(q for _, q in unconfirmed), unconfirmed[0][0]
            return tn("mistake.disconnect_in_flight", None, len(unconfirmed), qos=qos, topic=topic)
    return None


def early_mistake(log: TestLog | None = None, now: float | None = None) -> str | None:
    """A mistake certain while the test still runs (its waits would only time out); the
    hang timer asks every CHECK_EVERY seconds and stops the test with LearnerMistake."""
    log = _CURRENT if log is None else log
    now = time.monotonic() if now is None else now

    def long_ago(since: float | None) -> bool:
        return since is not None and now - since >= EARLY_AFTER

    def idle(notes: ClientNotes) -> bool:  # a client still connected (None: collected)
        return _socket_of(notes.client()) is not None and long_ago(notes.connected_at)

    def deaf(notes: ClientNotes) -> bool:  # still no callback for what arrived, for a while
        client = notes.client()
        return (
            long_ago(notes.dropped_at) and client is not None and _deaf_to(client, notes.dropped[0])
        )

    if log is None:
        return None
    return _mistake(log, long_ago, idle) or _no_on_message(log, deaf)


def _is_hang(exc: BaseException) -> bool:
    return type(exc).__name__ == "KataHang"  # plugin.py's, which imports this module


def api_version1(exc: BaseException | None) -> str | None:
    """mqtt.Client() without CallbackAPIVersion.VERSION2 (the paho 1.x style), named with
    the tree's line that made the client: paho's DeprecationWarning, an error in the tests."""
    for one in causes(exc):
        frames = traceback_in_tree(one) if isinstance(one, DeprecationWarning) else []
        if frames and "Callback API version 1" in str(one):
            return t("mistake.api_version1", where=where_text(frames[-1:]))
    return None


def name_mistake(exc: BaseException | None, log: TestLog | None) -> str | None:
    """The classic mistake behind a failed test, when paho recorded one; else None."""
    if isinstance(exc, LearnerMistake):
        return str(exc)
    seed_era = api_version1(exc)
    if seed_era is not None:
        return seed_era
    if log is None:
        return None
    timed_out = any(
        isinstance(e, (TimeoutError, LearnerMistake)) or _is_hang(e) for e in causes(exc)
    )
    found = _mistake(log, lambda _: True, lambda n: timed_out and n.connected_at is not None)
    if found is not None:
        return found
    found = _no_on_message(log, lambda notes: timed_out)
    if found is not None:
        return found
    # A hang stopped inside paho's loop_forever(), which the tree under test called.
    tb = exc.__traceback__ if exc is not None and _is_hang(exc) else None
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "loop_forever" and _is_paho(code.co_filename):
            return t("mistake.loop_forever")
        tb = tb.tb_next
    return None


def _no_on_message(log: TestLog, due: Callable[[ClientNotes], bool]) -> str | None:
    """Messages arrived that no callback took, on a client that is `due`."""
    dropped = [topic for notes in log.clients.values() if due(notes) for topic in notes.dropped]
    if not dropped:
        return None
    return tn("mistake.no_on_message", None, len(dropped), topic=dropped[0])
