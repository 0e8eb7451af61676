"""Chapter 2: the broker's $SYS topics (exercises/ch02_broker/sys_topics.py)."""

from __future__ import annotations

import pytest

from kata import exercise
from kata.core.brokers import free_port
from kata.core.expect import expect_raises, nothing_listens
from kata.core.i18n import teach

sys_topics = exercise("ch02_broker.sys_topics")


def _read(probe, name: str) -> str:
    """The retained value of one $SYS topic, as the probe sees it."""
    probe.subscribe(name, qos=0)
    try:
        while True:
            message = probe.get()
            if message.topic == name:
                return message.text
    finally:
        probe.unsubscribe(name)


@pytest.fixture
def mosquitto_broker(broker):
    if broker.kind == "external":
        pytest.skip("$SYS/broker/... is Mosquitto's; an external broker may not publish it")
    return broker


def test_broker_info_reads_the_session_broker(mosquitto_broker, probe, no_thread_leak) -> None:
    info = sys_topics.broker_info(mosquitto_broker.host, mosquitto_broker.port, timeout=5.0)
    no_thread_leak()
    assert isinstance(info, dict), f"broker_info returns a dict, not {info!r}"
    assert {"version", "uptime_s", "clients_connected"} <= set(info), (
        f"keys: version, uptime_s, clients_connected (return to_info(values)); got {sorted(info)}"
    )
    version = _read(probe, "$SYS/broker/version")
    assert info["version"] == version, teach(
        en=f"version is the text of $SYS/broker/version ({version!r}), got {info['version']!r}",
        ja=f"version は $SYS/broker/version の文字列 ({version!r}) です。結果: {info['version']!r}",
    )
    uptime = int(_read(probe, "$SYS/broker/uptime").split()[0])
    assert isinstance(info["uptime_s"], int), (
        f"uptime_s is the number in '{uptime} seconds' as an int, not {info['uptime_s']!r}"
    )
    # Read a moment apart: the broker may have published a newer uptime in between.
    assert uptime - 2 <= info["uptime_s"] <= uptime, teach(
        en=f"uptime_s comes from $SYS/broker/uptime ('{uptime} seconds'), got {info['uptime_s']!r}",
        ja=f"uptime_s は $SYS/broker/uptime ('{uptime} seconds') から読みます。"
        f"結果: {info['uptime_s']!r}",
    )
    connected = int(_read(probe, "$SYS/broker/clients/connected"))
    # The broker recounts every second; clients come and go (broker_info's own one too).
    assert isinstance(info["clients_connected"], int), (
        f"clients_connected is a number (an int), not {info['clients_connected']!r}"
    )
    assert abs(info["clients_connected"] - connected) <= 2, teach(
        en=f"clients_connected comes from $SYS/broker/clients/connected ({connected}), "
        f"got {info['clients_connected']!r}",
        ja=f"clients_connected は $SYS/broker/clients/connected ({connected}) から読みます。"
        f"結果: {info['clients_connected']!r}",
    )


@pytest.mark.needs_private_broker
def test_a_broker_without_sys_times_out_naming_the_topics(broker_factory, no_thread_leak):
    private = broker_factory(kind="local", extra="sys_interval 0")  # 0 turns $SYS off
    error = expect_raises(
        TimeoutError,
        sys_topics.broker_info, private.host, private.port, timeout=0.05,
        why=teach(
            en="sys_interval 0: this broker publishes no $SYS topics, so broker_info "
            "should give up after timeout=0.05 s",
            ja="sys_interval 0: このブローカーは $SYS トピックを出さないので、broker_info は "
            "timeout=0.05 秒で諦めるはずです",
        ),
    )  # fmt: skip
    assert "$SYS/broker/uptime" in str(error), (
        f"name the topics that did not arrive (wait_for_topics does); got {error!r}"
    )
    # The traceback holds broker_info's frame and its paho client, and `error`
    # holds the traceback: a reference cycle. Collected later by gc, paho's
    # internal socket pair would be reported unclosed (paho closes it only in
    # Client.__del__). Dropping `error` frees it all now.
    del error
    no_thread_leak()


def test_a_closed_port_fails_and_leaves_no_thread(no_thread_leak) -> None:
    port = free_port()
    expect_raises(
        (OSError, TimeoutError),
        sys_topics.broker_info, "127.0.0.1", port, timeout=1.0,
        why=nothing_listens(),
    )  # fmt: skip
    no_thread_leak()
