"""Chapter 6: passwords and ACLs (exercises/ch06_security/auth.py)."""

from __future__ import annotations

import contextlib

import pytest
from _security_helpers import assert_publishes_then_close, publish_v5
from hypothesis import given, settings
from hypothesis import strategies as st

from kata import exercise
from kata.core.expect import expect_connack_timeout, expect_raises
from kata.core.i18n import teach
from kata.core.peers import Relay
from kata.core.probe import Probe

auth = exercise("ch06_security.auth")

ACCESS = ("read", "write", "readwrite", "deny")


@pytest.mark.needs_listener("auth")
def test_right_credentials_connect(broker, topic, probe) -> None:
    client = auth.connect_authenticated(broker.host, broker.auth_port, "kata", broker.users["kata"])
    assert_publishes_then_close(client, probe, f"{topic}/logged-in")


@pytest.mark.needs_listener("auth")
@pytest.mark.parametrize(
    ("username", "password"),
    [(None, None), ("kata", "wrong-password"), ("nobody", "kata-secret")],
    ids=["anonymous", "wrong-password", "unknown-user"],
)
def test_a_refusal_raises_permission_error_after_one_attempt(
    broker, no_thread_leak, username, password
) -> None:
    # The relay counts TCP connections: paho's loop would retry a refused
    # connection every 1, 2, 4 ... s if nobody stops it.
    with Relay(broker.host, broker.auth_port) as relay:
        error = expect_raises(
            PermissionError,
            auth.connect_authenticated, broker.host, relay.port, username, password, timeout=5.0,
            why=teach(
                en=f"the broker refused the login of {username!r}. connect() returning only "
                "means CONNECT was sent: the answer is the reason_code on_connect receives "
                "(reason_code.is_failure)",
                ja=f"ブローカーは {username!r} のログインを拒否しました。connect() が戻っても "
                "CONNECT を送っただけです: 答えは on_connect が受け取る reason_code "
                "(reason_code.is_failure) です",
            ),
        )  # fmt: skip
        no_thread_leak()
        attempts = len(relay.attempts)
    assert attempts == 1, teach(
        en=f"the broker refused the login, and {attempts} connections were made: a wrong "
        "password never becomes right. Stop paho after the first refusal (disconnect() in "
        "on_connect, then loop_stop())",
        ja=f"ブローカーがログインを拒否したのに、接続が {attempts} 回行われました: 間違った"
        "パスワードが正しくなることはありません。最初の拒否で paho を止めます (on_connect の中で "
        "disconnect()、そのあと loop_stop())",
    )
    assert "not authori" in str(error).lower(), teach(
        en="say why: put the reason code on_connect received ('Not authorized') in the "
        f"PermissionError. Got {error!r}",
        ja="理由も書きます: on_connect が受け取った reason code ('Not authorized') を "
        f"PermissionError のメッセージに入れます。実際は {error!r}",
    )


def test_a_server_that_never_answers_times_out_naming_connack(
    silent_server, no_thread_leak
) -> None:
    expect_connack_timeout(
        auth.connect_authenticated, "127.0.0.1", silent_server, "kata", "kata-secret", timeout=0.05
    )
    no_thread_leak()


# --- render_acl ---------------------------------------------------------------


def parse_acl(text: str) -> dict[str, list[tuple[str, str]]]:
    """Read acl_file text the way mosquitto does (user blocks of topic lines)."""
    rules: dict[str, list[tuple[str, str]]] = {}
    user = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if keyword == "user":
            user = rest.strip()
            rules.setdefault(user, [])
            continue
        assert keyword == "topic", f"unexpected line in the acl_file: {raw!r}"
        assert user is not None, (
            f"a topic line before any 'user' line applies to anonymous: {raw!r}"
        )
        access, _, topic_filter = rest.strip().partition(" ")
        rules[user].append((access, topic_filter.strip()))
    return rules


def test_render_acl_writes_a_user_line_then_its_topic_lines() -> None:
    rules = {"sensor": [("readwrite", "sensors/#")], "dashboard": [("read", "sensors/#")]}
    text = auth.render_acl(rules)
    assert isinstance(text, str), f"render_acl returns the file's text, not {type(text).__name__}"
    assert parse_acl(text) == rules, (
        "expected 'user sensor' / 'topic readwrite sensors/#' / 'user dashboard' / "
        f"'topic read sensors/#'; got:\n{text}"
    )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert lines[:2] == ["user sensor", "topic readwrite sensors/#"], (
        "write exactly 'user NAME', then 'topic ACCESS TOPIC' for each of its rules"
    )


_names = st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)
_levels = st.one_of(
    st.just("+"), st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
)
_filters = st.builds(
    lambda levels, hash_end: "/".join(levels) + ("/#" if hash_end else ""),
    st.lists(_levels, min_size=1, max_size=4),
    st.booleans(),
)
_rules = st.dictionaries(
    _names, st.lists(st.tuples(st.sampled_from(ACCESS), _filters), max_size=4), max_size=4
)


@settings(max_examples=30)
@given(rules=_rules)
def test_render_acl_keeps_every_rule_in_order(rules) -> None:
    text = auth.render_acl(rules)
    assert parse_acl(text) == rules, f"rules {rules!r} came back as:\n{text}"


@pytest.mark.parametrize("access", ["rw", "READ", "write-only", ""])
def test_render_acl_rejects_an_unknown_access(access) -> None:
    expect_raises(
        ValueError,
        auth.render_acl, {"sensor": [(access, "sensors/#")]},
        why=teach(
            en=f"access {access!r} is not read, write, readwrite or deny: Mosquitto would refuse "
            "the whole acl_file",
            ja=f"アクセス {access!r} は read、write、readwrite、deny のどれでもありません: "
            "Mosquitto は acl_file 全体を読み込めなくなります",
        ),
    )  # fmt: skip


@pytest.mark.parametrize(
    "rules",
    [
        {"evil\ntopic readwrite #": [("read", "sensors/#")]},
        {"sensor": [("read", "sensors/#\nuser admin")]},
        {"": [("read", "sensors/#")]},
        {"sensor": [("read", "")]},
        {" sensor": [("read", "sensors/#")]},
    ],
    ids=["newline-in-user", "newline-in-topic", "empty-user", "empty-topic", "blank-around-user"],
)
def test_render_acl_rejects_what_would_change_the_rules(rules) -> None:
    expect_raises(
        ValueError,
        auth.render_acl, rules,
        why=teach(
            en=f"{rules!r} holds a name or topic that is empty, padded or spans lines: "
            "written as it is, it would change what the acl_file means (check it with _one_line)",
            ja=f"{rules!r} には、空か、前後に空白があるか、複数行にわたる名前かトピックがあります: "
            "そのまま書くと acl_file の意味が変わってしまいます (_one_line で確かめます)",
        ),
    )  # fmt: skip


# --- the ACL on a real broker -------------------------------------------------------

USERS = {"sensor": "sensor-pw", "dashboard": "dashboard-pw"}
RULES = {
    "sensor": [("readwrite", "sensors/#"), ("deny", "sensors/private/#")],
    "dashboard": [("read", "sensors/#")],
}


def _acl_broker(broker_factory):
    """A private broker whose password listener enforces render_acl(RULES).

    Its plain listener has no ACL: the observer there sees everything.
    """
    acl = auth.render_acl(RULES)
    return broker_factory(listeners=("mqtt", "auth"), users=USERS, acl=acl)


def _login(private, user: str, **kwargs) -> Probe:
    return Probe(private.host, private.auth_port, username=user, password=USERS[user], **kwargs)


@pytest.mark.needs_private_broker
def test_sensor_writes_sensors_but_cannot_read_commands(broker_factory) -> None:
    private = _acl_broker(broker_factory)
    with Probe(private.host, private.port) as observer, _login(private, "sensor") as sensor:
        observer.subscribe("sensors/#", qos=1)
        sensor.publish("sensors/kitchen/temp", b"21.5", qos=1)
        assert observer.get().payload == b"21.5", "'topic readwrite sensors/#' lets sensor publish"
        # mosquitto 2.0 grants the SUBACK and filters later, at delivery time.
        with contextlib.suppress(PermissionError):
            sensor.subscribe("commands/#", qos=1)
        observer.publish("commands/kitchen", b"reboot", qos=1)
        leaked = sensor.settle(under="sensors")
    assert leaked == [], f"sensor may not read commands/#, yet it received {leaked}"


@pytest.mark.needs_private_broker
def test_dashboard_reads_but_its_publish_is_dropped(broker_factory) -> None:
    private = _acl_broker(broker_factory)
    with (
        Probe(private.host, private.port) as observer,
        _login(private, "sensor") as sensor,
        _login(private, "dashboard") as dashboard,
    ):
        dashboard.subscribe("sensors/#", qos=1)
        observer.subscribe("sensors/#", qos=1)
        sensor.publish("sensors/kitchen/temp", b"21.5", qos=1)
        assert dashboard.get().payload == b"21.5", "'topic read sensors/#' lets dashboard read"
        assert observer.get().payload == b"21.5"

        # MQTT 3.1.1: the PUBACK comes back as if all went well...
        dashboard.publish("sensors/kitchen/temp", b"-99 from dashboard", qos=1)
        # MQTT 5: the PUBACK carries reason code 0x87 "Not authorized".
        reason = publish_v5(
            private.host, private.auth_port, "dashboard", USERS["dashboard"],
            "sensors/kitchen/temp", b"-98 from dashboard",
        )  # fmt: skip
        # ...and the broker dropped both.
        arrived = observer.settle()
    assert arrived == [], f"dashboard may only read sensors/#, yet its publish arrived: {arrived}"
    assert reason.value == 0x87, (
        f"an MQTT 5 PUBACK for a denied publish says 'Not authorized' (0x87), got {reason}"
    )


@pytest.mark.needs_private_broker
def test_deny_takes_back_part_of_a_broader_grant(broker_factory) -> None:
    private = _acl_broker(broker_factory)
    with Probe(private.host, private.port) as observer, _login(private, "sensor") as sensor:
        observer.subscribe("sensors/#", qos=1)
        sensor.subscribe("sensors/#", qos=1)
        sensor.publish("sensors/private/key", b"from sensor", qos=1)
        observer.publish("sensors/private/key", b"from observer", qos=1)
        seen_by_observer = [m.payload for m in observer.settle()]
        seen_by_sensor = [m.payload for m in sensor.settle(via=observer, under="sensors")]
    denied = teach(
        en="'topic deny sensors/private/#' takes that part away from 'topic readwrite "
        "sensors/#': sensor may neither publish nor read there",
        ja="'topic deny sensors/private/#' は 'topic readwrite sensors/#' から"
        "その部分を取り消します: sensor はそこにパブリッシュも受信もできません",
    )
    assert seen_by_observer == [b"from observer"], f"{denied}. Observer saw {seen_by_observer}"
    assert seen_by_sensor == [], f"{denied}. Sensor received {seen_by_sensor}"
