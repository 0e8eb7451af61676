"""Chapter 5 - the sensor: a reading as a JSON payload, published at QoS 1 with retain.

A reading: {"sensor_id": "room1", "ts": 1700000000.0, "value": 21.26, "unit": "°C"}.
The kata gives the rounding, the schema checks, the connection and main();
you write make_reading, encode_reading, decode_reading and run_sensor.

Lesson: kata lesson sensor  (sensor.md, 日本語: sensor.ja.md)
Check: kata check sensor
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


# --- given: rounding and the schema checks -------------------------------------------


def _round_half_up(value: float) -> float:
    """value rounded half-up to 2 places as the decimal you see (2.675 -> 2.68)."""
    with decimal.localcontext() as ctx:
        # Floats reach 1.8e308: quantize needs room for every one of those digits.
        ctx.prec = 400
        exact = decimal.Decimal(repr(value)).quantize(_HUNDREDTHS, rounding=decimal.ROUND_HALF_UP)
    return float(exact)


def _finite(name: str, number: object) -> float:
    """number as a finite float; ValueError for NaN, inf, bools, text and huge integers."""
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
    """sensor_id itself; ValueError unless it is a non-empty string."""
    if not isinstance(sensor_id, str) or not sensor_id:
        raise ValueError(f"sensor_id must be a non-empty string, got {sensor_id!r}")
    return sensor_id


def _unit(unit: object) -> str:
    """unit itself; ValueError unless it is a string."""
    if not isinstance(unit, str):
        raise ValueError(f"unit must be a string, got {unit!r}")
    return unit


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def _reading_from_json(text: str) -> dict:
    """The reading in JSON `text`, checked against the schema; ValueError for anything else.

    Unknown extra fields are dropped: a newer sensor must not break an older dashboard.
    """
    try:
        # json.JSONDecodeError is a ValueError already: "not JSON" needs no wrapping.
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("payload is nested too deeply to be a reading") from None
    if not isinstance(data, dict):
        raise ValueError(f"a reading is a JSON object, got {type(data).__name__}")
    missing = [name for name in FIELDS if name not in data]
    if missing:
        raise ValueError(f"reading without {', '.join(missing)}: {text[:80]}")
    return {
        "sensor_id": _sensor_id(data["sensor_id"]),
        "ts": _finite("ts", data["ts"]),
        "value": _finite("value", data["value"]),
        "unit": _unit(data["unit"]),
    }


# --- yours: the reading as a payload, and the publishing loop ---------------------------


def make_reading(sensor_id: str, value: float, ts: float, unit: str = "°C") -> dict:
    """A reading: {"sensor_id", "ts", "value", "unit"}, built with the given checks.

    sensor_id via _sensor_id, ts via _finite("ts", ...), value via _finite then
    _round_half_up (21.255 -> 21.26), unit via _unit. They raise ValueError on
    bad input (NaN, inf, an empty sensor_id): let it through.
    """
    return {
        "sensor_id": _sensor_id(sensor_id),
        "ts": _finite("ts", ts),
        "value": _round_half_up(_finite("value", value)),
        "unit": _unit(unit),
    }


def encode_reading(reading: dict) -> bytes:
    """The payload: the reading as compact UTF-8 JSON bytes.

    json.dumps with separators=(",", ":"), ensure_ascii=False ("°C" as UTF-8)
    and allow_nan=False (ValueError for NaN or inf), then .encode("utf-8").
    """
    text = json.dumps(reading, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def decode_reading(payload: bytes) -> dict:
    """The reading in a received payload; ValueError for anything that is not one.

    An empty payload (what a cleared retained message delivers) is refused with
    a ValueError whose message says "empty". Otherwise decode the bytes as UTF-8
    and hand the text to _reading_from_json (given: json.loads, schema checks).
    """
    if not payload:
        raise ValueError("empty payload (a cleared retained message?) is not a reading")
    return _reading_from_json(bytes(payload).decode("utf-8"))


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

    `client` is connected, its loop running. Per value: stamp it with clock(),
    publish the encoded reading at QoS 1 with retain=True, wait for the PUBACK
    (TimeoutError if none). sleep(interval) between values, not after the last;
    skip a NaN/inf value (a failed read) but keep its interval.
    """
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


# --- given: the command line sensor ----------------------------------------------------


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
    """20-30 degrees, like the study plan's sensor; endless when count is 0."""
    produced = 0
    while not count or produced < count:
        value = round(random.uniform(20.0, 30.0), 2)
        print(f"Reading: {value} {unit}", flush=True)
        yield value
        produced += 1


def main(argv: Sequence[str] | None = None) -> int:
    """The study plan's random 20-30 °C sensor, publishing JSON readings (given)."""
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
    except NotImplementedError:
        raise  # a TODO of the exercise (a RuntimeError too), not a broker problem
    except (OSError, TimeoutError, RuntimeError, ValueError) as exc:
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
