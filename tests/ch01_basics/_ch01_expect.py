"""Chapter 1's way to demand an exception: a failure names the call, its input and the rule.

pytest.raises alone reports "DID NOT RAISE"; expect_raise says which input
should have raised and why, in the learner's language.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kata.core.i18n import teach


def short(value: object, limit: int = 40) -> str:
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


def expect_raise(
    expected: type[BaseException],
    call: Callable[..., object],
    *args: object,
    why_en: str,
    why_ja: str,
    **kwargs: object,
) -> BaseException:
    """The `expected` exception that call(*args, **kwargs) raises; a teaching failure if none."""
    try:
        result = call(*args, **kwargs)
    except expected as exc:
        return exc
    arguments = [short(arg) for arg in args] + [f"{k}={short(v)}" for k, v in kwargs.items()]
    shown = f"{getattr(call, '__name__', 'the call')}({', '.join(arguments)})"
    pytest.fail(
        teach(
            en=f"{shown} should raise {expected.__name__}: {why_en}; it returned {short(result)}",
            ja=f"{shown} は {expected.__name__} を送出するはずです: {why_ja}。"
            f"実際は {short(result)} を返しました",
        )
    )
