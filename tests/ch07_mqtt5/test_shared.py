"""Chapter 7: shared subscriptions (exercises/ch07_mqtt5/shared.py)."""

from __future__ import annotations

import queue
from collections import Counter

import pytest

from kata import exercise
from kata.core.expect import expect_raises
from kata.core.i18n import teach

shared = exercise("ch07_mqtt5.shared")
subscriber = exercise("ch03_clients.subscriber")


class Jobs:
    """A handler shared by the workers: records every message it is given."""

    def __init__(self, fail_on: bytes | None = None) -> None:
        self.seen: queue.Queue[object] = queue.Queue()
        self.fail_on = fail_on

    def __call__(self, message) -> None:
        self.seen.put(message)
        if message.payload == self.fail_on:
            raise ValueError(f"this handler does not like {message.payload!r}")

    def take(self, count: int, timeout: float = 5.0) -> list:
        got = []
        for _ in range(count):
            try:
                got.append(self.seen.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(
                    f"{count} jobs were published, the workers handled {len(got)} within "
                    f"{timeout} s: {[getattr(m, 'payload', m) for m in got]}"
                ) from None
        return got

    def rest(self) -> list:
        out = []
        while True:
            try:
                out.append(self.seen.get_nowait())
            except queue.Empty:
                return out


@pytest.fixture
def groups(broker):
    """groups(group, topic_filter, n, handler) -> started workers, all stopped after."""
    started: list = []

    def start(group, topic_filter, n, handler):
        workers = shared.start_workers(
            broker.host, broker.port, group, topic_filter, n, handler, timeout=5.0
        )
        started.extend(workers)
        return workers

    yield start
    for worker in started:
        worker.stop()


def _publish_jobs(probe, topic: str, count: int) -> list[bytes]:
    jobs = [f"job-{i}".encode() for i in range(count)]
    for job in jobs:
        probe.publish(f"{topic}/jobs/{job.decode()}", job, qos=1)
    return jobs


def test_every_job_is_handled_once_and_the_load_is_spread(topic, probe, groups) -> None:
    jobs = Jobs()
    workers = groups("workers", f"{topic}/jobs/#", 3, jobs)
    assert len(workers) == 3, (
        f"start_workers(..., n=3, ...) should return 3 workers, not {len(workers)}"
    )
    sent = _publish_jobs(probe, topic, 12)
    handled = jobs.take(12)
    for worker in workers:
        worker.stop()  # once stopped, nothing more can reach the handler
    handled += jobs.rest()
    first = handled[0]
    assert isinstance(first, subscriber.Message) and first.qos == 1, (
        "the handler gets a chapter 3 Message (QoS 1: workers subscribe at QoS 1)"
    )
    twice = [p for p, n in Counter(m.payload for m in handled).items() if n > 1]
    assert not twice, teach(
        en=f"{twice} were handled more than once: subscribe to $share/<group>/<filter>, "
        "not to <filter> (a plain subscription gives every worker a copy)",
        ja=f"{twice} が 2 回以上処理されました: <filter> ではなく $share/<group>/<filter> を"
        "サブスクライブします (普通のサブスクリプションでは、どのワーカーにもコピーが届きます)",
    )
    assert sorted(m.payload for m in handled) == sorted(sent)
    counts = [w.handled for w in workers]
    assert sum(counts) == 12, f"each worker's `handled` counts its jobs; they add up to {counts}"
    assert sum(1 for n in counts if n) >= 2, teach(
        en=f"jobs per worker: {counts}; the broker spreads a group's messages over its "
        "members (Mosquitto takes turns), so more than one worker should have worked",
        ja=f"ワーカーごとの仕事の数: {counts}。ブローカーはグループのメッセージをメンバーに"
        "分けるので (Mosquitto は順番に回します)、2 つ以上のワーカーが働いているはずです",
    )


def test_a_plain_subscriber_beside_the_group_sees_every_job(
    topic, probe, probe_factory, groups
) -> None:
    jobs = Jobs()
    groups("workers", f"{topic}/jobs/#", 2, jobs)
    plain = probe_factory()
    plain.subscribe(f"{topic}/jobs/#", qos=1)
    sent = _publish_jobs(probe, topic, 6)
    assert [m.payload for m in plain.expect(6)] == sent, teach(
        en="a plain subscription to the same filter still gets a copy of every message",
        ja="同じフィルターの普通のサブスクリプションには、これまでどおり全メッセージのコピーが届きます",
    )
    handled = sorted(m.payload for m in jobs.take(6))
    assert handled == sorted(sent), (
        f"the group handles each job once beside the plain subscriber; it handled {handled}"
    )


def test_each_group_handles_every_job(topic, probe, groups) -> None:
    loggers, billers = Jobs(), Jobs()
    groups("loggers", f"{topic}/jobs/#", 2, loggers)
    groups("billers", f"{topic}/jobs/#", 2, billers)
    sent = _publish_jobs(probe, topic, 6)
    for name, jobs in (("loggers", loggers), ("billers", billers)):
        assert sorted(m.payload for m in jobs.take(6)) == sorted(sent), teach(
            en=f"group {name!r}: every group gets each message once, whatever other groups do",
            ja=f"グループ {name!r}: ほかのグループに関係なく、どのグループにも"
            "各メッセージが 1 回届きます",
        )


def test_a_failing_handler_is_counted_and_the_worker_goes_on(topic, probe, groups) -> None:
    jobs = Jobs(fail_on=b"job-0")
    (worker,) = groups("workers", f"{topic}/jobs/#", 1, jobs)
    _publish_jobs(probe, topic, 2)
    assert [m.payload for m in jobs.take(2)] == [b"job-0", b"job-1"], (
        "an exception in the handler must not stop the worker: catch it in on_message"
    )
    assert worker.errors == 1, f"errors counts handler failures: expected 1, got {worker.errors}"


def _stop_all(workers) -> None:
    """Stop the workers that start_workers returned by mistake."""
    for worker in workers or ():
        worker.stop()


@pytest.mark.parametrize("group", ["", "a/b", "+", "#"])
def test_a_group_name_is_one_plain_level(broker, topic, group) -> None:
    expect_raises(
        ValueError,
        shared.start_workers, broker.host, broker.port, group, f"{topic}/jobs/#", 1, Jobs(),
        why=teach(
            en="a share name is one topic level of at least one character, without '/', '+' "
            "or '#' (MQTT 5.0 §4.8.2)",
            ja="共有名は 1 文字以上の 1 つのトピックレベルで、'/'、'+'、'#' は使えません "
            "(MQTT 5.0 §4.8.2)",
        ),
        undo=_stop_all,
    )  # fmt: skip


def test_a_group_needs_a_worker(broker, topic) -> None:
    expect_raises(
        ValueError,
        shared.start_workers, broker.host, broker.port, "workers", f"{topic}/jobs/#", 0, Jobs(),
        why=teach(en="a group needs a worker", ja="グループにはワーカーが 1 つ以上必要です"),
        undo=_stop_all,
    )  # fmt: skip


def test_stopped_workers_leave_no_thread(topic, groups, no_thread_leak) -> None:
    for worker in groups("workers", f"{topic}/jobs/#", 2, Jobs()):
        worker.stop()
    no_thread_leak()
