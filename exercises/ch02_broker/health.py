"""Chapter 2 - is the broker ready? Ask it in MQTT.

`docker run` or `docker compose up` returns long before Mosquitto listens,
and an open TCP port proves little: a proxy, a half-started container or any
other program may accept the connection and never speak MQTT. The broker's
own signal is the CONNACK it sends back to a CONNECT (MQTT 3.1.1 §3.2). So
"ready" means: connect, send CONNECT, get a CONNACK. Even a CONNACK that
refuses you (return code 5, not authorized) proves the broker is up.

Until then: connection refused (nothing listens yet) means try again after a
short pause; a connection that stays silent must not block you past your
deadline. Reuse your chapter 1 packets.connect_packet for the bytes.
(docker compose has the same idea: a healthcheck runs a command such as
mosquitto_sub -t '$SYS/#' -C 1 inside the container.)

Implement wait_for_broker.
Check your work: kata check health (or: pytest tests/ch02_broker/test_health.py).
日本語のヒント: kata hint health --lang ja
"""

from __future__ import annotations

import socket
import time
import uuid

from ..ch01_basics import packets


def wait_for_broker(host: str, port: int, timeout: float = 10.0) -> float:
    """Block until host:port answers CONNECT with a CONNACK; return the seconds waited.

    Each attempt: socket.create_connection with a timeout, sendall a
    CONNECT, recv the 4 CONNACK bytes (0x20 0x02 ...). A refused or dropped
    connection, or an answer that is not a CONNACK: pause a few
    milliseconds and try again. No CONNACK by the deadline (a silent server
    included): TimeoutError "no CONNACK from host:port within 10.0 s".
    Measure with time.monotonic().
    """
    raise NotImplementedError("TODO: try CONNECT until a CONNACK comes or the time is up")
