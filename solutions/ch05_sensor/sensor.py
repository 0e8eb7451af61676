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
from collections.abc import Callable, Iterable, Iterator, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

FIELDS = ("sensor_id", "ts", "value", "unit")
# How long run_sensor waits for the broker to acknowledge one reading.
PUBLISH_TIMEOUT = 5.0
_HUNDREDTHS = decimal.Decimal("0.01")


def _round_half_up(value: float) -> float:
    with decimal.localcontext() as ctx:
        # Floats reach 1.8e308: quantize needs room for every one of those digits.
        ctx.prec = 400
        exact = decimal.Decimal(repr(value)).quantize(_HUNDREDTHS, rounding=decimal.ROUND_HALF_UP)
    return float(exact)


def _finite(name: str, number: object) -> float:
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise ValueError(f"{name} must be a number, got {type(number).__name__} {number!r}")
    try:
        as_float = float(number)
    except OverflowError:
        raise ValueError(f"{name} is too large for a float: {number!r}") from None
    if not math.isfinite(as_float):
        raise ValueError(f"{name} must be a finite number, got {number!r}")
    return as_float


def _sensor_id(sensor_id: object) -> str:
    if not isinstance(sensor_id, str) or not sensor_id:
        raise ValueError(f"sensor_id must be a non-empty string, got {sensor_id!r}")
    return sensor_id


def make_reading(sensor_id: str, value: float, ts: float, unit: str = "°C") -> dict:
    """A reading dict with the four schema fields; value rounded half-up to 2 places."""
    if not isinstance(unit, str):
        raise ValueError(f"unit must be a string, got {unit!r}")
    return {
        "sensor_id": _sensor_id(sensor_id),
        "ts": _finite("ts", ts),
        "value": _round_half_up(_finite("value", value)),
        "unit": unit,
    }


def encode_reading(reading: dict) -> bytes:
    """Compact UTF-8 JSON; ValueError for NaN or inf, which JSON cannot carry."""
    text = json.dumps(reading, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def decode_reading(payload: bytes) -> dict:
    """The reading in `payload`, checked against the schema; ValueError for anything else."""
    if not payload:
        raise ValueError("empty payload (a cleared retained message?) is not a reading")
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"payload is not UTF-8: {exc}") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("payload is nested too deeply to be a reading") from None
    # json.JSONDecodeError is a ValueError already: "not JSON" needs no wrapping.
    if not isinstance(data, dict):
        raise ValueError(f"a reading is a JSON object, got {type(data).__name__}")
    missing = [name for name in FIELDS if name not in data]
    if missing:
        raise ValueError(f"reading without {', '.join(missing)}: {text[:80]}")
    if not isinstance(data["unit"], str):
        raise ValueError(f"unit must be a string, got {data['unit']!r}")
    # Unknown extra fields are dropped: a newer sensor must not break an older dashboard.
    return {
        "sensor_id": _sensor_id(data["sensor_id"]),
        "ts": _finite("ts", data["ts"]),
        "value": _finite("value", data["value"]),
        "unit": data["unit"],
    }


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
    """Publish one reading per value, `interval` apart; return how many were published."""
    published = 0
    for tick, value in enumerate(values):
        if tick:
            sleep(interval)
        if isinstance(value, float) and not math.isfinite(value):
            continue  # a failed read: nothing to report this tick, the beat goes on
        reading = make_reading(sensor_id, value, clock())
        info = client.publish(topic, encode_reading(reading), qos=1, retain=True)
        info.wait_for_publish(PUBLISH_TIMEOUT)
        if not info.is_published():
            raise TimeoutError(
                f"reading {published + 1} on {topic!r} was not acknowledged (no PUBACK) "
                f"within {PUBLISH_TIMEOUT} s"
            )
        published += 1
    return published


def _connect(host: str, port: int, timeout: float = 5.0) -> mqtt.Client:
    """A client whose CONNACK arrived, network loop running; stopped again on failure."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"kata-sensor-{uuid.uuid4().hex[:8]}"
    )
    connack = threading.Event()
    answer: dict[str, object] = {}

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        answer["reason"] = reason_code
        connack.set()

    client.on_connect = on_connect
    client.connect_timeout = timeout
    client.connect(host, port, keepalive=60)
    client.loop_start()
    if not connack.wait(timeout) or answer["reason"].is_failure:  # type: ignore[attr-defined]
        client.disconnect()
        client.loop_stop()
        why = answer.get("reason", f"no CONNACK within {timeout} s")
        raise ConnectionError(f"{host}:{port}: {why}")
    return client


def _random_temperatures(count: int, unit: str) -> Iterator[float]:
    """20-30 degrees, like the seed; endless when count is 0."""
    produced = 0
    while not count or produced < count:
        value = round(random.uniform(20.0, 30.0), 2)
        print(f"Reading: {value} {unit}", flush=True)
        yield value
        produced += 1


def main(argv: Sequence[str] | None = None) -> int:
    """The seed's random 20-30 °C sensor, publishing JSON readings."""
    parser = argparse.ArgumentParser(description="Publish random temperature readings.")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--sensor-id", default="room1")
    parser.add_argument("--topic", help="default: sensors/<sensor-id>/temperature")
    parser.add_argument("--count", type=int, default=0, help="stop after N readings (0: never)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between readings")
    args = parser.parse_args(argv)
    topic = args.topic or f"sensors/{args.sensor_id}/temperature"
    try:
        client = _connect(args.host, args.port)
    except (OSError, TimeoutError) as exc:
        print(f"error: {exc}", flush=True)
        return 1
    print(
        f"Sensor {args.sensor_id} publishing to '{topic}' on {args.host}:{args.port} "
        f"every {args.interval:g} s; Ctrl-C to stop",
        flush=True,
    )
    sent = 0
    try:
        sent = run_sensor(
            client,
            topic,
            _random_temperatures(args.count, "°C"),
            sensor_id=args.sensor_id,
            interval=args.interval,
        )
    except KeyboardInterrupt:
        pass
    except (OSError, TimeoutError, RuntimeError) as exc:
        print(f"error: {exc}", flush=True)
        return 1
    finally:
        client.disconnect()
        client.loop_stop()
    if args.count:
        print(f"Sent {sent} readings", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
