"""Chapter 5 - the sensor: a reading schema, and a publishing loop you can test without waiting.

The seed's sensor was a loop like this one:

    while True:
        client.publish("sensor/temperature", str(random.uniform(20, 30)))
        time.sleep(1)

It works, but the dashboard has to guess what "23.4170391" means. A reading
here is a small JSON object with a documented schema (the contract between
sensor and dashboard):

    {"sensor_id": "room1", "ts": 1700000000.0, "value": 21.26, "unit": "°C"}

    sensor_id  non-empty string        ts    seconds since the epoch (finite number)
    value      finite number, 2 places unit  string, "°C" by default

- Rounding: binary floats cannot hold 2.675 (it is 2.67499999...), and round()
  rounds half to even. Round the decimal text half-up with the decimal module:
  21.255 -> 21.26, 2.675 -> 2.68.
- NaN and inf are not JSON, yet json.dumps writes them unless allow_nan=False.
- Compact UTF-8 JSON: separators=(",", ":"), and ensure_ascii=False so "°C" is
  sent as its 2 UTF-8 bytes, not as "\\u00b0C".
- Time is injected: run_sensor takes clock and sleep, so a test can run an
  hour of readings in a millisecond and check every timestamp.

Implement make_reading, encode_reading, decode_reading, run_sensor and main.
Check your work: `kata check sensor` (or: pytest tests/ch05_sensor/test_sensor.py).
日本語のヒント: `kata hint sensor --lang ja`
"""

from __future__ import annotations

import argparse
import decimal
import json
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def make_reading(sensor_id: str, value: float, ts: float, unit: str = "°C") -> dict:
    """A reading: {"sensor_id": ..., "ts": ..., "value": ..., "unit": ...}.

    value is rounded half-up to 2 places as the decimal number you see:
    decimal.Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
    then back to float (21.255 -> 21.26, 2.675 -> 2.68, -1.005 -> -1.01).
    Floats go up to 1.8e308: quantize needs a context with enough precision
    (decimal.localcontext(), prec of a few hundred digits).
    ts is kept as a float. ValueError when value or ts is NaN or infinite, or
    sensor_id is empty.
    """
    raise NotImplementedError("TODO: validate, round value half-up with decimal, build the dict")


def encode_reading(reading: dict) -> bytes:
    """The reading as compact UTF-8 JSON bytes.

    No spaces after "," and ":", "°C" as UTF-8 (not an ASCII escape), and a
    ValueError for NaN or inf (json.dumps(..., allow_nan=False)).
    """
    raise NotImplementedError("TODO: json.dumps(compact, ensure_ascii=False, no NaN), encode")


def decode_reading(payload: bytes) -> dict:
    """The reading in `payload`, checked against the schema; ValueError for anything else.

    Refuse (ValueError): an empty payload (what a cleared retained message
    delivers), bytes that are not UTF-8, text that is not JSON or not a JSON
    object, a missing field, a wrong type (sensor_id a non-empty str, ts and
    value numbers but not true/false, unit a str), NaN, Infinity or numbers too
    big for a float. Return exactly the four fields (extra ones are dropped, so
    a newer sensor does not break an older dashboard), with ts and value as float.
    """
    raise NotImplementedError("TODO: decode UTF-8, json.loads, check every field")


def run_sensor(
    client: mqtt.Client,
    topic: str,
    values: Iterable[float],
    *,
    sensor_id: str,
    interval: float = 1.0,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], object] = time.sleep,
) -> int:
    """Publish one reading per value, `interval` apart; return how many were published.

    `client` is already connected with its network loop running (the caller
    owns it). `values` may be endless: take them one at a time. For each value:
    stamp it with clock(), publish encode_reading(...) to `topic` at QoS 1 with
    the retain flag (a dashboard that starts later sees the last value at once)
    and wait until the broker acknowledged it (TimeoutError if it does not).
    Call sleep(interval) between two values, not after the last one. A NaN or
    inf value is a failed read: publish nothing for it, keep the beat.
    """
    raise NotImplementedError("TODO: for each value: make, encode, publish QoS 1 retained, sleep")


def main(argv: Sequence[str] | None = None) -> int:
    """The seed's random 20-30 °C sensor as a command line tool.

    Options: --host (localhost) --port (1883) --sensor-id (room1) --topic
    (default sensors/<sensor-id>/temperature) --count (0 = until Ctrl-C)
    --interval (1.0 s). Connects (wait for CONNACK), prints a line saying where
    it publishes, then runs run_sensor with random.uniform(20, 30) values,
    printing "Reading: 23.41 °C" for each. Disconnects and returns 0 at the end
    or after Ctrl-C; returns 1 after printing "error: ..." when the broker
    cannot be reached.
    """
    raise NotImplementedError("TODO: argparse, connect, run_sensor with random values")


if __name__ == "__main__":
    raise SystemExit(main())
