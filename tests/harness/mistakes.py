"""Classic beginner mistakes as edits of a reference answer, and how the kata must name them.

Shared by tests/harness/test_mutants.py (the names are right) and
bench/loop.py (how fast they come).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Named:
    module: str  # under exercises/ and solutions/
    edits: tuple[tuple[str, str], ...]  # (text of the reference answer, the mistake)
    named: str  # the start of the first line of the failure a learner reads
    test: str  # the test that meets the mistake first (kata check runs until it)


PUBLISHER = "ch03_clients/publisher.py"
SUBSCRIBER = "ch03_clients/subscriber.py"
PUB_TESTS = "tests/ch03_clients/test_publisher.py::"
SUB_TESTS = "tests/ch03_clients/test_subscriber.py::"

MISTAKES = {
    "no network loop": Named(
        PUBLISHER,
        (
            (
                "    client.connect(host, port, keepalive=60)\n    client.loop_start()\n",
                "    client.connect(host, port, keepalive=60)\n",
            ),
        ),
        "no network loop: client 'kata-pub-",
        PUB_TESTS + "test_messages_arrive_in_order_with_the_requested_qos[0]",
    ),
    "1.x callback signature": Named(
        SUBSCRIBER,
        (
            (
                "def _on_connect(self, client, userdata, flags, reason_code, properties)",
                "def _on_connect(self, client, userdata, flags, reason_code)",
            ),
        ),
        "paho 1.x callback signature: paho 2.x calls "
        "on_connect(client, userdata, flags, reason_code, properties)",
        SUB_TESTS + "test_started_subscriber_gets_a_message_published_right_away",
    ),
    "subscribe before connect": Named(
        SUBSCRIBER,
        (
            ("            client.subscribe(topic_filter, qos)", "            pass"),
            (
                "    client.connect(host, port, keepalive=60)\n    client.loop_start()\n",
                "    client.subscribe(topic_filter, qos)\n"
                "    client.connect(host, port, keepalive=60)\n    client.loop_start()\n",
            ),
        ),
        "subscribe() before connect(): paho answered MQTT_ERR_NO_CONN",
        SUB_TESTS + "test_collect_returns_the_first_messages_in_order",
    ),
    "disconnect before QoS completes": Named(
        PUBLISHER,
        (("            _confirm(info, deadline, f", "            print(info, f"),),
        "disconnect() before QoS ",
        PUB_TESTS + "test_messages_arrive_in_order_with_the_requested_qos[1]",
    ),
    "a function that never returns": Named(
        PUBLISHER,
        (
            (
                "    client.loop_start()\n    try:\n        if not connack.wait(timeout):",
                "    client.loop_forever()\n    try:\n        if not connack.wait(timeout):",
            ),
        ),
        "hang: exercises/ch03_clients/publisher.py: publish_messages did not return within 5 s",
        PUB_TESTS + "test_messages_arrive_in_order_with_the_requested_qos[0]",
    ),
}
