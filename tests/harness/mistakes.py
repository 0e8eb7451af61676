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
    also: str = ""  # and somewhere in the failure


PUBLISHER = "ch03_clients/publisher.py"
SUBSCRIBER = "ch03_clients/subscriber.py"

MISTAKES = {
    "no network loop": Named(
        PUBLISHER,
        (
            (
                "    client.connect(host, port, keepalive=60)\n    client.loop_start()\n",
                "    client.connect(host, port, keepalive=60)\n",
            ),
        ),
        "no network loop: the client called connect() but never loop_start()",
    ),
    "seed-era mqtt.Client()": Named(
        PUBLISHER,
        (("        CallbackAPIVersion.VERSION2,\n        client_id=", "        client_id="),),
        "paho 1.x style client: mqtt.Client() without CallbackAPIVersion.VERSION2 "
        "(exercises/ch03_clients/publisher.py: make_client, line ",
    ),
    "1.x callback signature": Named(
        SUBSCRIBER,
        (
            (
                "def on_connect(self, client, userdata, flags, reason_code, properties)",
                "def on_connect(self, client, userdata, flags, reason_code)",
            ),
        ),
        "paho 1.x callback signature: paho 2.x calls "
        "on_connect(client, userdata, flags, reason_code, properties)",
    ),
    "no on_message": Named(
        SUBSCRIBER,
        (("    client.on_message = on_message\n    client.connect(", "    client.connect("),),
        "no on_message: ",
        "but the client has no on_message callback, so paho dropped",
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
    ),
    "disconnect before QoS completes": Named(
        PUBLISHER,
        (
            # publish() and return: the loop's wait for each confirmation is left out.
            (
                "            info.wait_for_publish(max(0.0, deadline - time.monotonic()))\n"
                "            if not info.is_published():\n"
                "                raise TimeoutError(",
                '            print(f"sent message {number}")\n'
                "            if False:\n"
                "                raise TimeoutError(",
            ),
        ),
        "disconnect() before QoS ",
    ),
    "a function that never returns": Named(
        PUBLISHER,
        (
            (
                "    client.loop_start()\n    arrived = connack.wait(timeout)",
                "    client.loop_forever()\n    arrived = connack.wait(timeout)",
            ),
        ),
        "loop_forever() does not return while the client is connected: call client.loop_start()",
        # kata check stops a learner's hang after 7 s (plain pytest: 15 s)
        "hang: exercises/ch03_clients/publisher.py: connect_client did not return within 7 s",
    ),
}
