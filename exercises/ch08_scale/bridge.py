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
    raise NotImplementedError("TODO: check the arguments, then one config line per option")
