"""Chapter 5: the sensor (exercises/ch05_sensor/sensor.py)."""

from __future__ import annotations

import contextlib
import decimal
import json
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata import exercise
from kata.core.brokers import free_port

sensor = exercise("ch05_sensor.sensor")

GOOD = {"sensor_id": "room1", "ts": 1_700_000_000.0, "value": 21.5, "unit": "°C"}

finite = st.floats(allow_nan=False, allow_infinity=False)
# Any text MQTT and UTF-8 can carry: lone surrogates cannot be encoded at all.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
sensor_ids = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=24)


def _half_up(value: float) -> float:
    """The decimal number you see, rounded half away from zero, by exact fractions."""
    exact = Fraction(Decimal(repr(value)))
    hundredths = math.floor(abs(exact) * 100 + Fraction(1, 2))
    return math.copysign(float(Fraction(hundredths, 100)), value)


# --- the reading and its schema ------------------------------------------------


def test_a_reading_has_the_four_schema_fields() -> None:
    reading = sensor.make_reading("room1", 21.5, 1_700_000_000.0)
    assert reading == GOOD, (
        "make_reading(sensor_id, value, ts) gives {'sensor_id', 'ts', 'value', 'unit'} "
        f"with unit '°C' by default; got {reading!r}"
    )
    assert sensor.make_reading("cellar", 55.0, 1.0, unit="%")["unit"] == "%"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (21.255, 21.26),
        (2.675, 2.68),  # the float is 2.67499999...: round(2.675, 2) == 2.67
        (1.005, 1.01),  # round(1.005, 2) == 1.0
        (0.125, 0.13),  # round() goes to even: 0.12
        (21.254, 21.25),
        (-21.255, -21.26),  # half away from zero, on both sides
        (20, 20.0),
    ],
)
def test_values_are_rounded_half_up_to_two_places(value, expected) -> None:
    got = sensor.make_reading("room1", value, 0.0)["value"]
    assert got == expected, (
        f"{value!r} should become {expected!r}, got {got!r}: round the decimal text "
        "half-up with decimal.Decimal(repr(value)).quantize(Decimal('0.01'), ROUND_HALF_UP); "
        "round() rounds half to even and sees the binary float"
    )


@settings(max_examples=100, deadline=None)
@given(finite)
def test_rounding_is_half_up_for_any_finite_value(value) -> None:
    try:
        got = sensor.make_reading("room1", value, 0.0)["value"]
    except decimal.InvalidOperation as exc:
        raise AssertionError(
            f"make_reading(..., {value!r}, ...) raised decimal.InvalidOperation: quantize needs "
            "room for every digit, more than the default 28 for large floats; round inside "
            "decimal.localcontext() with ctx.prec = 400"
        ) from exc
    assert got == _half_up(value), (
        f"{value!r} rounded half-up to 2 places is {_half_up(value)!r}, got {got!r} "
        "(very large floats need a decimal context with enough precision)"
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_nan_and_infinity_are_refused(bad) -> None:
    with pytest.raises(ValueError):
        sensor.make_reading("room1", bad, 0.0)
    with pytest.raises(ValueError):
        sensor.make_reading("room1", 21.0, bad)


def test_an_empty_sensor_id_is_refused() -> None:
    with pytest.raises(ValueError):
        sensor.make_reading("", 21.0, 0.0)


def test_encoding_is_compact_utf8_json() -> None:
    payload = sensor.encode_reading(dict(GOOD))
    assert isinstance(payload, bytes), f"encode_reading returns bytes, got {type(payload)}"
    assert json.loads(payload.decode("utf-8")) == GOOD
    assert "°C".encode() in payload, (
        f"'°C' should travel as UTF-8 (b'\\xc2\\xb0C'), not as an ASCII escape: {payload!r} "
        "(json.dumps(..., ensure_ascii=False))"
    )
    assert b", " not in payload and b": " not in payload, (
        f"compact JSON has no spaces after ',' and ':' (separators=(',', ':')): {payload!r}"
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf], ids=["nan", "inf"])
def test_encoding_refuses_what_json_cannot_carry(bad) -> None:
    with pytest.raises(ValueError):
        sensor.encode_reading({**GOOD, "value": bad})


@settings(max_examples=100, deadline=None)
@given(sensor_ids, finite, finite, text)
def test_any_reading_survives_the_round_trip(sensor_id, value, ts, unit) -> None:
    reading = sensor.make_reading(sensor_id, value, ts, unit=unit)
    back = sensor.decode_reading(sensor.encode_reading(reading))
    assert back == reading, (
        "decode_reading(encode_reading(r)) must give r back exactly: the dashboard sees "
        f"what the sensor sent. sent {reading!r}, got {back!r}"
    )


def _without(field: str) -> bytes:
    return json.dumps({k: v for k, v in GOOD.items() if k != field}).encode()


def _with(**changes: object) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


BAD_PAYLOADS = {
    "empty (a cleared retained message)": b"",
    "not UTF-8": '{"sensor_id":"room1","ts":1,"value":21.5,"unit":"°C"}'.encode("latin-1"),
    "not JSON": b"hello",
    "cut short": _with()[:-3],
    "the seed's plain number": b"23.41",
    "a JSON list": b"[21.5]",
    "JSON null": b"null",
    "without sensor_id": _without("sensor_id"),
    "without ts": _without("ts"),
    "without value": _without("value"),
    "without unit": _without("unit"),
    "value as text": _with(value="21.5"),
    "value true": _with(value=True),
    "value null": _with(value=None),
    "ts as text": _with(ts="2024-01-01T00:00:00"),
    "sensor_id a number": _with(sensor_id=7),
    "sensor_id empty": _with(sensor_id=""),
    "unit null": _with(unit=None),
    "value NaN": _with().replace(b"21.5", b"NaN"),
    "value Infinity": _with().replace(b"21.5", b"-Infinity"),
    "value beyond float (1e400)": _with().replace(b"21.5", b"1e400"),
    "value a 400-digit integer": _with().replace(b"21.5", b"9" * 400),
}


@pytest.mark.parametrize("payload", BAD_PAYLOADS.values(), ids=BAD_PAYLOADS.keys())
def test_decode_refuses_what_is_not_a_reading(payload) -> None:
    with pytest.raises(ValueError):
        sensor.decode_reading(payload)


def test_decode_gives_floats_and_drops_unknown_fields() -> None:
    payload = b'{"sensor_id":"room1","ts":1700000000,"value":21,"unit":"\xc2\xb0C","battery":0.9}'
    reading = sensor.decode_reading(payload)
    assert reading == {"sensor_id": "room1", "ts": 1.7e9, "value": 21.0, "unit": "°C"}, (
        f"exactly the four schema fields, extra ones dropped; got {reading!r}"
    )
    assert isinstance(reading["value"], float) and isinstance(reading["ts"], float), (
        "ts and value come back as float, also when the JSON wrote them as integers"
    )


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | text
field_names = st.sampled_from(["sensor_id", "ts", "value", "unit", "extra"])


def _finite_number(x: object) -> bool:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return False
    try:
        return math.isfinite(float(x))
    except OverflowError:
        return False


def _is_valid(obj: object) -> bool:
    return (
        isinstance(obj, dict)
        and all(name in obj for name in ("sensor_id", "ts", "value", "unit"))
        and isinstance(obj["sensor_id"], str)
        and obj["sensor_id"] != ""
        and isinstance(obj["unit"], str)
        and _finite_number(obj["ts"])
        and _finite_number(obj["value"])
    )


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(field_names, json_scalars, max_size=6) | json_scalars)
def test_decode_accepts_exactly_the_schema(obj) -> None:
    payload = json.dumps(obj, ensure_ascii=False).encode()
    if _is_valid(obj):
        reading = sensor.decode_reading(payload)
        assert reading["sensor_id"] == obj["sensor_id"], f"{payload!r} -> {reading!r}"
        assert reading["value"] == float(obj["value"]), f"{payload!r} -> {reading!r}"
    else:
        with pytest.raises(ValueError):
            sensor.decode_reading(payload)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=80))
def test_decode_raises_nothing_but_value_error_for_any_bytes(payload) -> None:
    # Whatever arrives on the topic, the dashboard only ever has to catch ValueError.
    with contextlib.suppress(ValueError):
        sensor.decode_reading(payload)


# --- run_sensor: the loop, with time injected ------------------------------------------


def _readings(messages) -> list[dict]:
    return [json.loads(m.payload.decode("utf-8")) for m in messages]


def test_run_sensor_publishes_every_reading_in_order(
    broker, topic, probe, sensor_client, fake_time
) -> None:
    probe.subscribe(f"{topic}/t", qos=1)
    values = (v for v in [21.0, 21.255, 22.5])  # a generator: values may be endless
    sent = sensor.run_sensor(
        sensor_client, f"{topic}/t", values, sensor_id="lab", interval=2.5,
        clock=fake_time.clock, sleep=fake_time.sleep,
    )  # fmt: skip
    assert sent == 3, f"run_sensor returns how many readings it published: 3, not {sent!r}"
    got = probe.expect(3)
    readings = _readings(got)
    start = 1_700_000_000.0
    assert [r["value"] for r in readings] == [21.0, 21.26, 22.5], "in order, rounded half-up"
    assert [r["ts"] for r in readings] == [start, start + 2.5, start + 5.0], (
        "stamp each reading with clock() when it is taken: with sleep(2.5) between readings "
        f"the timestamps are 2.5 s apart; got {[r['ts'] for r in readings]}"
    )
    assert {(r["sensor_id"], r["unit"]) for r in readings} == {("lab", "°C")}
    assert [m.qos for m in got] == [1, 1, 1], (
        "publish readings at QoS 1, so a reading is not lost between sensor and broker"
    )


def test_run_sensor_sleeps_between_readings_not_after_the_last(
    topic, sensor_client, fake_time
) -> None:
    sensor.run_sensor(
        sensor_client, f"{topic}/t", [20.0, 21.0, 22.0, 23.0], sensor_id="lab", interval=0.5,
        clock=fake_time.clock, sleep=fake_time.sleep,
    )  # fmt: skip
    assert fake_time.sleeps == [0.5, 0.5, 0.5], (
        "call sleep(interval) between two readings and not after the last one "
        f"(4 readings: 3 sleeps); sleep was called with {fake_time.sleeps}"
    )


def test_a_failed_read_is_skipped_and_the_beat_goes_on(
    topic, probe, sensor_client, fake_time
) -> None:
    probe.subscribe(f"{topic}/t", qos=1)
    sent = sensor.run_sensor(
        sensor_client, f"{topic}/t", [20.0, math.nan, 22.0], sensor_id="lab", interval=1.0,
        clock=fake_time.clock, sleep=fake_time.sleep,
    )  # fmt: skip
    readings = _readings(probe.settle())
    assert [r["value"] for r in readings] == [20.0, 22.0] and sent == 2, (
        "a NaN value (a failed read) publishes nothing and is not counted; "
        f"got {readings} and a count of {sent}"
    )
    assert readings[1]["ts"] == 1_700_000_002.0 and fake_time.sleeps == [1.0, 1.0], (
        "the beat goes on: the skipped value still takes its interval"
    )


def test_the_last_reading_is_retained_for_late_dashboards(
    topic, probe_factory, sensor_client, fake_time
) -> None:
    sensor.run_sensor(
        sensor_client, f"{topic}/t", [20.0, 21.0], sensor_id="lab",
        clock=fake_time.clock, sleep=fake_time.sleep,
    )  # fmt: skip
    late = probe_factory()
    late.subscribe(f"{topic}/t", qos=1)
    message = late.get()
    assert message.retain and json.loads(message.payload)["value"] == 21.0, (
        "publish with retain=True: a dashboard that subscribes later gets the last reading "
        f"at once; a late subscriber got {message}"
    )


def test_every_reading_is_acknowledged_before_run_sensor_returns(
    topic, probe, sensor_client, fake_time
) -> None:
    probe.subscribe(f"{topic}/t", qos=1)
    sent = sensor.run_sensor(
        sensor_client, f"{topic}/t", [20.0 + i / 100 for i in range(100)], sensor_id="lab",
        interval=0, clock=fake_time.clock, sleep=fake_time.sleep,
    )  # fmt: skip
    # The caller disconnects at once: whatever was not acknowledged yet is lost.
    sensor_client.disconnect()
    sensor_client.loop_stop()
    got = probe.settle()
    assert sent == 100 and len(got) == 100, (
        f"{len(got)} of 100 readings reached the broker: wait for each one's PUBACK "
        "(info.wait_for_publish) before run_sensor returns"
    )


# --- main: the seed's sensor -----------------------------------------------------------


def test_main_publishes_random_readings_between_20_and_30(
    broker, topic, probe, capsys, no_thread_leak
) -> None:
    probe.subscribe(f"{topic}/room", qos=1)
    args = ["--host", broker.host, "--port", str(broker.port), "--topic", f"{topic}/room"]
    code = sensor.main([*args, "--sensor-id", "attic", "--count", "3", "--interval", "0"])
    assert code == 0, f"main returns 0 after --count readings, got {code!r}"
    readings = _readings(probe.expect(3))
    assert all(r["sensor_id"] == "attic" and r["unit"] == "°C" for r in readings)
    assert all(20.0 <= r["value"] <= 30.0 for r in readings), (
        f"the seed's sensor reads 20-30 °C; got {[r['value'] for r in readings]}"
    )
    out = capsys.readouterr().out
    assert out.count("Reading:") == 3, f"print 'Reading: <value> °C' per reading; printed {out!r}"
    no_thread_leak()


def test_main_says_error_when_no_broker_listens(capsys, no_thread_leak) -> None:
    code = sensor.main(["--host", "127.0.0.1", "--port", str(free_port()), "--count", "1"])
    out = capsys.readouterr().out
    assert code == 1 and "error" in out.lower(), (
        "with no broker, main prints 'error: ...' and returns 1 instead of a traceback"
    )
    no_thread_leak()
