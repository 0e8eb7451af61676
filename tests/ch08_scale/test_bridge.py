"""Chapter 8: bridges (exercises/ch08_scale/bridge.py).

Two private mosquitto processes (kind="local": a broker in a container
cannot reach another one through 127.0.0.1). The remote starts first; the
local one starts with the bridge block appended to its config.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata import exercise
from kata.core.brokers import Broker
from kata.core.expect import expect_raises
from kata.core.i18n import teach
from kata.core.probe import Probe

bridge = exercise("ch08_scale.bridge")

NAME = "kata-bridge"


@dataclass
class Pair:
    local: Broker
    remote: Broker
    on_local: Probe
    on_remote: Probe
    ctl: str  # a prefix bridged both ways, for the markers that prove absence

    def nothing_crossed_to_local(self) -> list:
        """What reached the local probe before a marker sent from the remote came over."""
        return self.on_local.settle(via=self.on_remote, under=self.ctl)

    def nothing_crossed_to_remote(self) -> list:
        return self.on_remote.settle(via=self.on_local, under=self.ctl)


@pytest.fixture
def bridged(broker_factory, topic):
    """bridged(topics) -> a Pair whose local broker runs render_bridge_config(...topics)."""
    probes: list[Probe] = []
    brokers: list[Broker] = []

    def make(topics: list[tuple[str, str, int]]) -> Pair:
        remote = broker_factory(kind="local")
        brokers.append(remote)
        on_remote = Probe(remote.host, remote.port)
        probes.append(on_remote)
        ctl = f"{topic}/ctl"
        # Retained, so it reaches the local side the moment the bridge has
        # subscribed on the remote, whenever that is.
        on_remote.publish(f"{ctl}/ready", b"ready", qos=1, retain=True)
        config = bridge.render_bridge_config(
            NAME, remote.host, remote.port, [*topics, (f"{ctl}/#", "both", 1)]
        )
        local = broker_factory(kind="local", extra=config)
        brokers.append(local)
        on_local = Probe(local.host, local.port)
        probes.append(on_local)
        pair = Pair(local, remote, on_local, on_remote, ctl)
        _wait_until_bridged(pair)
        return pair

    yield make
    for probe in probes:
        probe.close()
    for private in brokers:
        # Nothing to save: SIGKILL ends it at once (SIGTERM waits up to 0.1 s).
        private.kill()


def _wait_until_bridged(pair: Pair) -> None:
    """The bridge is up (its $SYS state) and has subscribed on the remote (the ready marker)."""
    pair.on_local.subscribe("$SYS/broker/connection/+/state", qos=1)
    states = []
    try:
        while b"1" not in states:
            states.append(pair.on_local.get(timeout=5.0).payload)
    except TimeoutError:
        raise AssertionError(
            f"the bridge never reported state 1 (states seen: {states}); is `address` right? "
            f"local broker log:\n{pair.local.log_tail(8)}"
        ) from None
    pair.on_local.unsubscribe("$SYS/broker/connection/+/state")
    pair.on_local.drain()
    pair.on_local.subscribe(f"{pair.ctl}/ready", qos=1)
    try:
        pair.on_local.get(timeout=5.0)
    except TimeoutError:
        raise AssertionError("the bridge connected but carried nothing from the remote") from None


def _config_lines(text: str) -> list[str]:
    stripped = (line.strip() for line in text.splitlines())
    return [line for line in stripped if line and not line.startswith("#")]


def test_the_config_is_a_bridge_block() -> None:
    text = bridge.render_bridge_config("edge", "10.0.0.7", 1884, [("sensors/#", "out", 1)])
    lines = _config_lines(text)
    assert lines[0] == "connection edge", "a bridge block starts with `connection <name>`"
    assert "address 10.0.0.7:1884" in lines, "the remote broker is `address <host>:<port>`"
    assert "topic sensors/# out 1" in lines, "each topic is `topic <pattern> <direction> <qos>`"
    assert "try_private true" in lines, teach(
        en="say try_private true: the remote then sends nothing back to the bridge (no echo "
        "with `both`)",
        ja="try_private true を書きます: するとリモートはブリッジへ何も送り返さなくなります "
        "(`both` でこだまが起きない)",
    )


_LEVEL = st.sampled_from(["a", "b", "sensors", "+", "x1"])
_PATTERN = st.builds(
    lambda levels, tail: "/".join(levels) + ("/#" if tail else ""),
    st.lists(_LEVEL, min_size=1, max_size=3),
    st.booleans(),
)
_TOPIC = st.tuples(_PATTERN, st.sampled_from(["in", "out", "both"]), st.integers(0, 2))


def test_every_topic_becomes_one_line_in_order() -> None:
    # @given on an inner function: a failing @given test function makes
    # hypothesis's pytest plugin import libcst, whose DeprecationWarning is an
    # error under filterwarnings=error (an INTERNALERROR instead of a report).
    @settings(max_examples=30, deadline=None)
    @given(topics=st.lists(_TOPIC, min_size=1, max_size=5))
    def one_line_each(topics: list[tuple[str, str, int]]) -> None:
        lines = _config_lines(bridge.render_bridge_config("b", "127.0.0.1", 1883, topics))
        found = [tuple(line.split()[1:]) for line in lines if line.startswith("topic ")]
        assert found == [(p, d, str(q)) for p, d, q in topics], (
            "one `topic <pattern> <direction> <qos>` line per entry, in the order given"
        )

    one_line_each()


@pytest.mark.parametrize(
    ("name", "host", "port", "topics"),
    [
        ("", "127.0.0.1", 1883, [("a/#", "out", 0)]),
        ("two words", "127.0.0.1", 1883, [("a/#", "out", 0)]),
        ("b", "", 1883, [("a/#", "out", 0)]),
        ("b", "127.0.0.1", 0, [("a/#", "out", 0)]),
        ("b", "127.0.0.1", 70000, [("a/#", "out", 0)]),
        ("b", "127.0.0.1", 1883, []),
        ("b", "127.0.0.1", 1883, [("a/#", "sideways", 0)]),
        ("b", "127.0.0.1", 1883, [("a/#", "out", 3)]),
        ("b", "127.0.0.1", 1883, [("a b/#", "out", 0)]),
        ("b", "127.0.0.1", 1883, [("", "out", 0)]),
    ],
    ids=[
        "empty-name", "spaced-name", "empty-host", "port-0", "port-70000", "no-topics",
        "bad-direction", "qos-3", "spaced-pattern", "empty-pattern",
    ],
)  # fmt: skip
def test_what_mosquitto_would_refuse_is_a_value_error(name, host, port, topics) -> None:
    expect_raises(
        ValueError,
        bridge.render_bridge_config, name, host, port, topics,
        why=teach(
            en="names, hosts and patterns are one word, the port is 1..65535, directions are "
            "in/out/both, qos is 0/1/2, and there is at least one topic",
            ja="名前、ホスト、パターンは 1 語で、ポートは 1..65535、向きは in/out/both、"
            "qos は 0/1/2 で、トピックは 1 つ以上必要です",
        ),
    )  # fmt: skip


@pytest.mark.needs_private_broker
def test_out_carries_local_messages_to_the_remote_only(bridged, topic) -> None:
    pair = bridged([(f"{topic}/up/#", "out", 1)])
    pair.on_remote.subscribe(f"{topic}/up/#", qos=1)
    pair.on_local.subscribe(f"{topic}/up/#", qos=1)
    pair.on_local.publish(f"{topic}/up/reading", b"21.5", qos=1)
    got = pair.on_remote.get()
    assert (got.topic, got.payload) == (f"{topic}/up/reading", b"21.5"), teach(
        en="`out`: a message published on the local broker reaches the remote one",
        ja="`out`: ローカルのブローカーでパブリッシュしたメッセージはリモートに届きます",
    )
    pair.on_local.drain()
    pair.on_remote.publish(f"{topic}/up/command", b"from remote", qos=1)
    crossed = [m.payload for m in pair.nothing_crossed_to_local()]
    assert crossed == [], teach(
        en=f"`out` carries nothing from the remote to the local broker: {crossed}",
        ja=f"`out` はリモートからローカルへは何も運びません: {crossed}",
    )


@pytest.mark.needs_private_broker
def test_in_carries_remote_messages_to_the_local_broker_only(bridged, topic) -> None:
    pair = bridged([(f"{topic}/down/#", "in", 1)])
    pair.on_local.subscribe(f"{topic}/down/#", qos=1)
    pair.on_remote.subscribe(f"{topic}/down/#", qos=1)
    pair.on_remote.publish(f"{topic}/down/config", b"interval=5", qos=1)
    got = pair.on_local.get()
    assert (got.topic, got.payload) == (f"{topic}/down/config", b"interval=5"), teach(
        en="`in`: a message published on the remote broker reaches the local one",
        ja="`in`: リモートのブローカーでパブリッシュしたメッセージはローカルに届きます",
    )
    pair.on_remote.drain()
    pair.on_local.publish(f"{topic}/down/echo", b"from local", qos=1)
    crossed = [m.payload for m in pair.nothing_crossed_to_remote()]
    assert crossed == [], teach(
        en=f"`in` carries nothing from the local to the remote broker: {crossed}",
        ja=f"`in` はローカルからリモートへは何も運びません: {crossed}",
    )


@pytest.mark.needs_private_broker
def test_both_carries_each_way_once_without_a_loop(bridged, topic) -> None:
    pair = bridged([(f"{topic}/sync/#", "both", 1)])
    pair.on_local.subscribe(f"{topic}/sync/#", qos=1)
    pair.on_remote.subscribe(f"{topic}/sync/#", qos=1)
    pair.on_local.publish(f"{topic}/sync/a", b"from local", qos=1)
    pair.on_remote.publish(f"{topic}/sync/b", b"from remote", qos=1)
    # A marker sent after a message travels behind it on the same bridge
    # connection, and behind any copy the other side sends back. First the
    # remote has surely received "from local", then the local side "from
    # remote" and any echo, then the remote any echo of "from remote".
    on_remote = pair.nothing_crossed_to_remote()
    on_local = sorted(m.payload for m in pair.nothing_crossed_to_local())
    on_remote = sorted(m.payload for m in on_remote + pair.nothing_crossed_to_remote())
    expected = [b"from local", b"from remote"]
    assert on_local == expected and on_remote == expected, teach(
        en="`both`: each broker sees each message exactly once. A second copy means the message "
        f"came back over the bridge (keep try_private true). Local saw {on_local}, "
        f"remote saw {on_remote}",
        ja="`both`: どちらのブローカーでも、各メッセージはちょうど 1 回見えます。2 つ目のコピーは"
        "メッセージがブリッジを通って戻ってきたということです (try_private true のままに)。"
        f"ローカルで見えたのは {on_local}、リモートは {on_remote}",
    )


@pytest.mark.needs_private_broker
@pytest.mark.parametrize(("direction", "qos"), [("out", 0), ("out", 1), ("in", 2)])
def test_a_message_crosses_at_most_at_the_bridge_qos(bridged, topic, direction, qos) -> None:
    pair = bridged([(f"{topic}/q/#", direction, qos)])
    sender, receiver = (
        (pair.on_local, pair.on_remote) if direction == "out" else (pair.on_remote, pair.on_local)
    )
    receiver.subscribe(f"{topic}/q/#", qos=2)
    sender.publish(f"{topic}/q/m", b"qos 2 in", qos=2)
    got = receiver.get()
    assert got.qos == qos, teach(
        en=f"a QoS 2 message over a `{direction} {qos}` bridge topic arrives at QoS {qos} "
        f"(the topic line's qos is the most the bridge uses), not QoS {got.qos}",
        ja=f"`{direction} {qos}` のブリッジのトピックを通る QoS 2 のメッセージは QoS {qos} で"
        f"届きます (topic 行の qos がブリッジの使う上限)。実際は QoS {got.qos}",
    )
