"""Chapter 8 - bridges: two brokers that pass chosen topics to each other.

You write render_bridge_config; _one_word is given.
Lesson: kata lesson bridge  (bridge.md, 日本語: bridge.ja.md)
Check: kata check bridge
"""

from __future__ import annotations

DIRECTIONS = ("in", "out", "both")


def _one_word(what: str, value: str) -> None:
    """ValueError unless `value` is one non-empty word (mosquitto splits options at blanks)."""
    if not value or any(c.isspace() for c in value):
        raise ValueError(f"{what} must be one word without spaces: {value!r}")


def render_bridge_config(
    name: str,
    remote_host: str,
    remote_port: int,
    topics: list[tuple[str, str, int]],
) -> str:
    """A mosquitto.conf bridge block: connect to remote_host:remote_port, carry `topics`.

    One option a line: `connection <name>`, `address <host>:<port>`,
    `try_private true`, `cleansession true`, `notifications true`, then one
    `topic <pattern> <direction> <qos>` line per entry, in order. ValueError
    for a bad word (_one_word), port, direction or qos, or no topics.
    """
    _one_word("the connection name", name)
    _one_word("the remote host", remote_host)
    if not 0 < remote_port < 65536:
        raise ValueError(f"the remote port must be within 1..65535, not {remote_port}")
    if not topics:
        raise ValueError("a bridge needs at least one (pattern, direction, qos) topic")
    lines = [
        f"# Bridge {name!r}: this broker connects to {remote_host}:{remote_port} as a client.",
        f"connection {name}",
        f"address {remote_host}:{remote_port}",
        # Tell the remote (a Mosquitto extension) that this client is a bridge:
        # it then sends no message back where it came from (no echo with `both`).
        "try_private true",
        # No stale subscriptions after the topics change; the price: messages
        # queued for the bridge are lost when its connection drops.
        "cleansession true",
        # The default, written out: the bridge's state on $SYS, on both brokers.
        "notifications true",
    ]
    for pattern, direction, qos in topics:
        _one_word("a topic pattern", pattern)
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, not {qos!r}")
        lines.append(f"topic {pattern} {direction} {qos}")
    return "\n".join(lines) + "\n"
