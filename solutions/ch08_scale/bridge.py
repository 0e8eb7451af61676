"""Chapter 8 - bridges: two brokers that pass chosen topics to each other.

One broker is rarely the end: a broker in each building, one in the cloud,
a test broker beside the production one. A bridge is a client that one
broker (the local one) runs against another (the remote one), configured
in the local broker's mosquitto.conf (man mosquitto.conf, "Bridges"):

    connection <name>                 # starts a bridge block
    address <host>:<port>             # the remote broker
    topic <pattern> <direction> <qos> # one line per topic pattern

direction is `out` (local -> remote), `in` (remote -> local) or `both`; qos
is the highest QoS the bridge uses for that pattern: a QoS 2 message
crosses a QoS 0 bridge as QoS 0. Messages cross only on listed patterns,
and only in the listed direction.

`both` would ping-pong a message forever if the remote sent it back to the
bridge it came from. `try_private true` (the default) tells a mosquitto
remote that this client is a bridge, so it never echoes a message back;
MQTT 5 bridges use the No Local subscription option for the same thing.
`notifications true` makes the local broker publish the bridge's state,
retained, on $SYS/broker/connection/<client id>/state: 1 up, 0 down.

Implement render_bridge_config: the lines to append to the local broker's config.
"""

from __future__ import annotations

DIRECTIONS = ("in", "out", "both")


def _one_word(what: str, value: str) -> None:
    if not value or any(c.isspace() for c in value):
        raise ValueError(f"{what} must be one word without spaces: {value!r}")


def render_bridge_config(
    name: str,
    remote_host: str,
    remote_port: int,
    topics: list[tuple[str, str, int]],
) -> str:
    """A mosquitto.conf bridge block: connect to remote_host:remote_port, carry `topics`."""
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
        # Tell the remote that this client is a bridge: it then never sends a
        # message back where it came from (no loop with `both`).
        "try_private true",
        "cleansession true",
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
