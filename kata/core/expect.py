"""Demanding an exception: a failure names the call, its input and the rule it breaks.

pytest.raises alone says "DID NOT RAISE"; expect_raises says which call with which
input should have raised, why, and what it returned instead, in the learner's language:

    error = expect_raises(
        ValueError, packets.encode_remaining_length, -1,
        why=teach(en="a remaining length is 0..268435455", ja="..."),
    )

Any other exception passes through: a stub's NotImplementedError stays
"not done yet", and a learner's own error keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest

from kata.core.i18n import t
from kata.core.peers import PAST_CONNACK

Expected = type[BaseException] | tuple[type[BaseException], ...]


def short(value: object, limit: int = 80) -> str:
    """repr(value), cut to about `limit` characters (a 65536-byte topic stays readable)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, str):
        size = f"{len(value.encode('utf-8'))} UTF-8 bytes"
    elif isinstance(value, bytes | bytearray):
        size = f"{len(value)} bytes"
    else:
        size = f"{len(text)} characters"
    return f"{text[: limit - 10]}... ({size})"


def call_text(call: Callable[..., object], args: tuple, kwargs: dict) -> str:
    """How the call reads in the test: "publish_packet('a/+', b'x')"."""
    shown = [short(arg) for arg in args] + [f"{k}={short(v)}" for k, v in kwargs.items()]
    return f"{getattr(call, '__name__', 'the call')}({', '.join(shown)})"


def _names(expected: Expected) -> str:
    kinds = expected if isinstance(expected, tuple) else (expected,)
    return t("expect.or").join(kind.__name__ for kind in kinds)


def _stop_client(result: object) -> None:
    if isinstance(result, mqtt.Client):
        result.disconnect()
        result.loop_stop()


def expect_raises(
    expected: Expected,
    call: Callable[..., object],
    *args: object,
    why: str,
    undo: Callable[[object], None] = _stop_client,
    **kwargs: object,
) -> BaseException:
    """The `expected` exception that call(*args, **kwargs) raises; a teaching failure if none.

    `why`: the rule the input breaks (i18n.teach). When the call returns instead,
    `undo(result)` runs first, so nothing it started (a paho client) outlives the test.
    """
    try:
        result = call(*args, **kwargs)
    except expected as error:
        return error
    undo(result)
    pytest.fail(
        t(
            "expect.did_not_raise",
            call=call_text(call, args, kwargs),
            expected=_names(expected),
            why=why,
            result=short(result),
        ),
        pytrace=False,
    )


def nothing_listens() -> str:
    """The reason why a call to a closed port raises, in the learner's language."""
    return t("expect.nothing_listens")


def expect_connack_timeout(
    call: Callable[..., object], *args: object, why: str | None = None, **kwargs: object
) -> BaseException:
    """call(*args, **kwargs) on a server that never sends CONNACK: a TimeoutError naming it
    ("no CONNACK within 0.2 s from 127.0.0.1:40123"). `why` replaces the default reason."""
    reason = why if why is not None else t("expect.silent_server")
    error = expect_raises(TimeoutError, call, *args, why=reason, **kwargs)
    assert "CONNACK" in str(error), t("expect.name_connack", error=error)
    return error


def expect_timeout_listing(call: Callable[..., object], *args: object, arrived: str) -> None:
    """call(*args, timeout=...) waits for two messages where one, `arrived`, waits
    retained: a TimeoutError that lists it. The retained message comes right after
    the SUBACK, well within the short timeout; on a machine too busy for that, once
    more with time (peers.PAST_CONNACK)."""
    for timeout in PAST_CONNACK:
        error = expect_raises(
            TimeoutError, call, *args, timeout=timeout, why=t("expect.one_of_two")
        )
        if arrived in str(error):
            return
    pytest.fail(t("expect.list_what_arrived", arrived=arrived, error=error), pytrace=False)
