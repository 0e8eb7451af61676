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
Check your work: kata check bridge (or: pytest tests/ch08_scale/test_bridge.py).
日本語のヒント: kata hint bridge --lang ja
"""

from __future__ import annotations

DIRECTIONS = ("in", "out", "both")


def render_bridge_config(
    name: str,
    remote_host: str,
    remote_port: int,
    topics: list[tuple[str, str, int]],
) -> str:
    """A mosquitto.conf bridge block: connect to remote_host:remote_port, carry `topics`.

    Returns the text to append to the local broker's config, one option a
    line: `connection <name>`, `address <host>:<port>`, the loop guard
    `try_private true`, `cleansession true`, `notifications true`, then one
    `topic <pattern> <direction> <qos>` line per entry of `topics`, in order.
    ValueError for an empty or spaced name, host or pattern, a port outside
    1..65535, no topics, a direction other than in/out/both, a qos other
    than 0/1/2.
    """
    raise NotImplementedError("TODO: check the arguments, then one config line per option")
