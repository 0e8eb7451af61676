"""Chapter 6: reconnection with backoff (exercises/ch06_security/reconnect.py)."""

from __future__ import annotations

import time

import pytest

from kata import exercise
from kata.core.brokers import free_port
from kata.core.expect import expect_raises, nothing_listens
from kata.core.i18n import teach
from kata.core.peers import Inbox, Relay
from kata.core.probe import Probe

reconnect = exercise("ch06_security.reconnect")

RESUBSCRIBE = teach(
    en="a clean session comes back without subscriptions: subscribe in on_connect, which runs "
    "after every successful reconnect",
    ja="クリーンセッションはサブスクリプションなしで戻ってきます: 再接続が成功するたびに"
    "呼ばれる on_connect の中でサブスクライブします",
)
BACKOFF = teach(
    en="while the broker is down, try again after min_delay, then double the wait up to "
    "max_delay: client.reconnect_delay_set(min_delay, max_delay)",
    ja="ブローカーが止まっている間は、min_delay 待ってから再試行し、待ち時間を max_delay まで"
    "倍々に延ばします: client.reconnect_delay_set(min_delay, max_delay)",
)


@pytest.fixture
def resilient():
    """resilient(host, port, topic_filter, handler, **kw) -> a started subscriber, stopped after."""
    made = []

    def make(host, port, topic_filter, handler, **kwargs):
        sub = reconnect.ResilientSubscriber(host, port, topic_filter, handler, **kwargs)
        made.append(sub)
        sub.start(timeout=5.0)
        return sub

    yield make
    for sub in made:
        sub.stop()


def test_start_returns_once_subscribed(broker, topic, probe, resilient) -> None:
    inbox = Inbox()
    sub = resilient(broker.host, broker.port, f"{topic}/live", inbox)
    probe.publish(f"{topic}/live", b"first", qos=1)
    inbox.wait_for("first")
    assert sub.reconnects == 0, f"no outage yet, so reconnects is 0, not {sub.reconnects}"


@pytest.mark.needs_private_broker
def test_keeps_receiving_after_the_broker_restarts(broker_factory, topic, resilient) -> None:
    private = broker_factory()
    inbox = Inbox()
    sub = resilient(private.host, private.port, f"{topic}/again", inbox)
    # Killed as in a crash (it has nothing to save): its clients notice at once.
    private.kill()
    private.start()
    # This broker keeps no sessions: a retained message reaches the
    # subscriber only once it has reconnected AND subscribed again.
    with Probe(private.host, private.port) as publisher:
        publisher.publish(f"{topic}/again", b"after restart", qos=1, retain=True)
        inbox.wait_for("after restart", timeout=10.0, why=RESUBSCRIBE)
    assert sub.reconnects == 1, teach(
        en=f"one restart, one reconnection: reconnects should be 1, not {sub.reconnects} "
        "(count in on_connect, after the first connection)",
        ja=f"再起動 1 回で再接続 1 回: reconnects は {sub.reconnects} ではなく 1 のはずです "
        "(on_connect の中で、最初の接続より後の分を数えます)",
    )


def test_reconnects_counts_recoveries_not_attempts(broker, topic, probe, resilient) -> None:
    with Relay(broker.host, broker.port) as relay:
        inbox = Inbox()
        sub = resilient(
            broker.host, relay.port, f"{topic}/count", inbox, min_delay=0.002, max_delay=0.01
        )
        for outage in (1, 2):
            relay.cut()
            relay.wait_attempts(3, timeout=3.0, why=BACKOFF)  # three failed attempts
            relay.restore()
            probe.publish(f"{topic}/count", f"after outage {outage}", qos=1, retain=True)
            inbox.wait_for(f"after outage {outage}", why=RESUBSCRIBE)
        assert sub.reconnects == 2, teach(
            en="two outages, each over after several failed attempts: reconnects should be 2, "
            f"not {sub.reconnects}. Count successful reconnections (on_connect), not attempts",
            ja="停止が 2 回あり、どちらも何度か失敗したあとで戻りました: reconnects は "
            f"{sub.reconnects} ではなく 2 のはずです。数えるのは成功した再接続 (on_connect) で、"
            "試行の回数ではありません",
        )


def test_backoff_doubles_up_to_max_delay(broker, topic, resilient) -> None:
    min_delay, max_delay, count = 0.002, 0.03, 10
    with Relay(broker.host, broker.port) as relay:
        resilient(
            broker.host, relay.port, f"{topic}/backoff", Inbox(),
            min_delay=min_delay, max_delay=max_delay,
        )  # fmt: skip
        cut_at = time.monotonic()
        relay.cut()
        # Expected waits: 0.002 0.004 0.008 0.016, then 0.03 six times: about 0.2 s.
        # Uncapped, the 10th wait alone would be 1 s.
        times = relay.wait_attempts(
            count, timeout=3.0,
            why=f"with min_delay={min_delay} and max_delay={max_delay} they take about 0.2 s. "
            "Is the wait capped at max_delay (reconnect_delay_set(min_delay, max_delay))?",
        )  # fmt: skip
    gaps = [b - a for a, b in zip([cut_at, *times], times, strict=False)]
    shown = ", ".join(f"{g:.3f}" for g in gaps)
    assert min(gaps) >= min_delay * 0.9, (
        f"waits between attempts were {shown} s: wait at least min_delay ({min_delay} s) "
        "before trying again (reconnect_delay_set(min_delay, max_delay))"
    )
    assert min(gaps[:3]) < max_delay / 2 and gaps[-1] >= max_delay * 0.9, (
        f"waits between attempts were {shown} s: start with min_delay ({min_delay} s) and "
        f"double the wait after each failure, up to max_delay ({max_delay} s)"
    )
    # A busy machine may add a little to a wait, never a doubling or two.
    assert max(gaps) <= max_delay + 0.5, (
        f"waits between attempts were {shown} s: no wait may exceed max_delay ({max_delay} s)"
    )


@pytest.mark.slow  # paho's reconnect sleep, ~1 s
def test_stop_returns_promptly_while_the_broker_is_down(
    broker, topic, resilient, no_thread_leak
) -> None:
    with Relay(broker.host, broker.port) as relay:
        # A long backoff: the subscriber is waiting when stop() is called.
        sub = resilient(
            broker.host, relay.port, f"{topic}/stop", Inbox(), min_delay=3.0, max_delay=3.0
        )
        relay.cut()
        relay.wait_hung_up()
        began = time.monotonic()
        sub.stop()
        took = time.monotonic() - began
    no_thread_leak()
    # paho sleeps its backoff in slices of at most 1 s and checks for
    # disconnect() between them: stop() takes up to ~1 s, never the whole 3 s.
    assert took < 1.6, teach(
        en=f"stop() took {took:.2f} s while the subscriber waited to reconnect: a plain "
        "time.sleep(delay) cannot be interrupted; let paho do the waiting "
        "(disconnect() + loop_stop()) or wait on a threading.Event",
        ja=f"再接続を待っている間の stop() に {took:.2f} 秒かかりました: 普通の "
        "time.sleep(delay) は途中で止められません。待つのは paho に任せるか "
        "(disconnect() + loop_stop())、threading.Event で待ちます",
    )


def test_stop_leaves_no_network_thread(broker, topic, resilient, no_thread_leak) -> None:
    sub = resilient(broker.host, broker.port, f"{topic}/stop", Inbox())
    sub.stop()
    no_thread_leak()


def test_start_without_a_broker_fails_and_leaves_no_thread(no_thread_leak) -> None:
    sub = reconnect.ResilientSubscriber("127.0.0.1", free_port(), "kata/x", Inbox())
    expect_raises(
        (OSError, TimeoutError),
        sub.start, timeout=1.0,
        why=nothing_listens(),
    )  # fmt: skip
    no_thread_leak()
