"""Chapter 5: the sensor (exercises/ch05_sensor/sensor.py)."""

from __future__ import annotations

import contextlib
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata import exercise
from kata.core.expect import expect_raises
from kata.core.i18n import teach

sensor = exercise("ch05_sensor.sensor")

GOOD = {"sensor_id": "room1", "ts": 1_700_000_000.0, "value": 21.5, "unit": "°C"}

finite = st.floats(allow_nan=False, allow_infinity=False)
# Any text MQTT and UTF-8 can carry: lone surrogates cannot be encoded at all.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
sensor_ids = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=24)


# --- the reading and its payload ----------------------------------------------------


def test_a_reading_has_the_four_schema_fields() -> None:
    reading = sensor.make_reading("room1", 21.5, 1_700_000_000.0)
    assert reading == GOOD, teach(
        en="make_reading('room1', 21.5, 1700000000.0) gives the fields sensor_id, ts, value "
        f"and unit, with unit '°C' by default; got {reading!r}",
        ja="make_reading('room1', 21.5, 1700000000.0) は sensor_id、ts、value、unit の "
        f"4 つのフィールドを持つ dict を返します (unit の既定値は '°C')。実際の値: {reading!r}",
    )
    unit = sensor.make_reading("cellar", 55.0, 1.0, unit="%")["unit"]
    assert unit == "%", teach(
        en=f"make_reading(..., unit='%') keeps the unit '%'; got {unit!r}",
        ja=f"make_reading(..., unit='%') の unit は '%' のままです。実際の値: {unit!r}",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (21.255, 21.26),
        (2.675, 2.68),  # the float is 2.67499999...: round(2.675, 2) == 2.67
        (0.125, 0.13),  # round() goes to even: 0.12
        (-21.255, -21.26),  # half away from zero, on both sides
        (20, 20.0),
    ],
)
def test_values_are_rounded_half_up_to_two_places(value, expected) -> None:
    got = sensor.make_reading("room1", value, 0.0)["value"]
    assert got == expected, teach(
        en=f"make_reading('room1', {value!r}, 0.0): the value should become {expected!r}, "
        f"got {got!r}. Round with the given _round_half_up(), not round() (half to even, "
        "and it sees the binary float)",
        ja=f"make_reading('room1', {value!r}, 0.0) の value は {expected!r} になるはずですが、"
        f"{got!r} でした。round() ではなく、用意されている _round_half_up() で丸めます "
        "(round() は偶数丸めで、2 進数の float を丸めます)",
    )


NOT_A_NUMBER = (
    "a measurement is a finite number (math.isfinite)",
    "計測値は有限の数です (math.isfinite)",
)
NO_SENSOR = ("a reading names its sensor", "計測値にはセンサーの名前が必要です")


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        (("room1", math.nan, 0.0), NOT_A_NUMBER),
        (("room1", math.inf, 0.0), NOT_A_NUMBER),
        (("room1", 21.0, -math.inf), NOT_A_NUMBER),
        (("", 21.0, 0.0), NO_SENSOR),
    ],
    ids=["value-nan", "value-inf", "ts-inf", "empty-sensor-id"],
)
def test_a_reading_refuses_what_is_not_a_measurement(args, rule) -> None:
    en, ja = rule
    expect_raises(ValueError, sensor.make_reading, *args, why=teach(en=en, ja=ja))


def test_the_payload_is_compact_utf8_json() -> None:
    payload = sensor.encode_reading(dict(GOOD))
    assert isinstance(payload, bytes), teach(
        en=f"an MQTT payload is bytes: encode_reading returns bytes, got {type(payload)}",
        ja="MQTT のペイロードはバイト列です。encode_reading は bytes を返します。"
        f"実際: {type(payload)}",
    )
    assert json.loads(payload.decode("utf-8")) == GOOD
    assert "°C".encode() in payload, teach(
        en=f"'°C' should travel as UTF-8 (b'\\xc2\\xb0C'), not as an ASCII escape: {payload!r} "
        "(json.dumps(..., ensure_ascii=False))",
        ja=f"'°C' は ASCII のエスケープではなく UTF-8 (b'\\xc2\\xb0C') で送ります: {payload!r} "
        "(json.dumps(..., ensure_ascii=False))",
    )
    assert b", " not in payload and b": " not in payload, teach(
        en=f"compact JSON has no spaces after ',' and ':' (separators=(',', ':')): {payload!r}",
        ja=f"コンパクトな JSON では ',' と ':' のあとに空白を入れません "
        f"(separators=(',', ':')): {payload!r}",
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf], ids=["nan", "inf"])
def test_the_payload_refuses_what_json_cannot_carry(bad) -> None:
    expect_raises(
        ValueError,
        sensor.encode_reading, {**GOOD, "value": bad},
        why=teach(
            en="JSON has no NaN or Infinity: json.dumps(..., allow_nan=False) refuses them",
            ja="JSON には NaN も Infinity もありません: json.dumps(..., allow_nan=False) は"
            "それらを拒否します",
        ),
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(sensor_ids, finite, finite, text)
def test_any_reading_survives_the_round_trip(sensor_id, value, ts, unit) -> None:
    reading = sensor.make_reading(sensor_id, value, ts, unit=unit)
    back = sensor.decode_reading(sensor.encode_reading(reading))
    assert back == reading, teach(
        en="decode_reading(encode_reading(r)) must give r back exactly: the dashboard sees "
        f"what the sensor sent. sent {reading!r}, got {back!r}",
        ja="decode_reading(encode_reading(r)) は r をそのまま返します: ダッシュボードには"
        f"センサーが送ったとおりの値が届きます。送信: {reading!r}、結果: {back!r}",
    )


def _without(field: str) -> bytes:
    return json.dumps({k: v for k, v in GOOD.items() if k != field}).encode()


def _with(**changes: object) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


BAD_PAYLOADS = {
    "empty (a cleared retained message)": b"",
    "not UTF-8": '{"sensor_id":"room1","ts":1,"value":21.5,"unit":"°C"}'.encode("latin-1"),
    "not JSON": b"hello",
    "the study plan's plain number": b"23.41",
    "a JSON list": b"[21.5]",
    "without value": _without("value"),
    "value as text": _with(value="21.5"),
    "value NaN": _with().replace(b"21.5", b"NaN"),
}


@pytest.mark.parametrize("payload", BAD_PAYLOADS.values(), ids=BAD_PAYLOADS.keys())
def test_decode_refuses_what_is_not_a_reading(payload) -> None:
    expect_raises(
        ValueError,
        sensor.decode_reading, payload,
        why=teach(
            en="a reading is UTF-8 JSON with the four schema fields, its value a finite number",
            ja="計測値は、スキーマの 4 つのフィールドを持つ UTF-8 の JSON で、value は有限の数です",
        ),
    )  # fmt: skip


def test_decode_names_the_cleared_retained_message() -> None:
    empty = teach(en="an empty payload is no reading", ja="空のペイロードは計測値ではありません")
    message = str(expect_raises(ValueError, sensor.decode_reading, b"", why=empty))
    assert "empty" in message.lower(), teach(
        en="an empty payload is what a subscriber receives when someone clears a retained "
        f"message: say 'empty' in the ValueError; it said {message!r}",
        ja="空のペイロードは、保持メッセージ (リテイン) が消されたときに"
        "サブスクライバーへ届くものです。"
        f"ValueError のメッセージに 'empty' と書いてください。実際: {message!r}",
    )


def test_decode_gives_floats_and_drops_unknown_fields() -> None:
    payload = b'{"sensor_id":"room1","ts":1700000000,"value":21,"unit":"\xc2\xb0C","battery":0.9}'
    reading = sensor.decode_reading(payload)
    assert reading == {"sensor_id": "room1", "ts": 1.7e9, "value": 21.0, "unit": "°C"}, teach(
        en=f"exactly the four schema fields, extra ones dropped; got {reading!r}",
        ja=f"スキーマの 4 つのフィールドだけを返し、それ以外は捨てます。実際: {reading!r}",
    )
    assert isinstance(reading["value"], float) and isinstance(reading["ts"], float)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=80))
def test_decode_raises_nothing_but_value_error_for_any_bytes(payload) -> None:
    # Whatever arrives on the topic, the dashboard only ever has to catch ValueError.
    with contextlib.suppress(ValueError):
        sensor.decode_reading(payload)


# --- run_sensor: the publishing loop, with time injected --------------------------------


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
    assert sent == 3, teach(
        en=f"run_sensor returns how many readings it published: 3, not {sent!r}",
        ja=f"run_sensor は公開した計測値の数を返します: 3 のはずが {sent!r} でした",
    )
    got = probe.expect(3)
    readings = _readings(got)
    start = 1_700_000_000.0
    assert [r["value"] for r in readings] == [21.0, 21.26, 22.5], teach(
        en=f"the readings arrive in order, rounded half-up: {readings}",
        ja=f"計測値は順番どおり、四捨五入された値で届きます: {readings}",
    )
    assert [r["ts"] for r in readings] == [start, start + 2.5, start + 5.0], teach(
        en="stamp each reading with clock() when it is taken: with sleep(2.5) between readings "
        f"the timestamps are 2.5 s apart; got {[r['ts'] for r in readings]}",
        ja="計測値には、取ったときの clock() を付けます。sleep(2.5) を挟むので時刻は 2.5 秒ずつ"
        f"進みます。実際: {[r['ts'] for r in readings]}",
    )
    assert {(r["sensor_id"], r["unit"]) for r in readings} == {("lab", "°C")}
    assert [m.qos for m in got] == [1, 1, 1], teach(
        en="publish readings at QoS 1 (at least once): the broker acknowledges each one with "
        f"a PUBACK; a QoS 1 subscriber got them at QoS {[m.qos for m in got]}",
        ja="計測値は QoS 1 (最低 1 回) で送ります。ブローカーは 1 件ごとに PUBACK を返します。"
        f"QoS 1 のサブスクライバーに届いた QoS: {[m.qos for m in got]}",
    )


def test_run_sensor_sleeps_between_readings_not_after_the_last(
    topic, sensor_client, fake_time
) -> None:
    sensor.run_sensor(
        sensor_client, f"{topic}/t", [20.0, 21.0, 22.0, 23.0], sensor_id="lab", interval=0.5,
        clock=fake_time.clock, sleep=fake_time.sleep,
    )  # fmt: skip
    assert fake_time.sleeps == [0.5, 0.5, 0.5], teach(
        en="call sleep(interval) between two readings and not after the last one "
        f"(4 readings: 3 sleeps); sleep was called with {fake_time.sleeps}",
        ja="sleep(interval) は計測値と計測値のあいだに呼び、最後のあとには呼びません "
        f"(4 件なら 3 回)。sleep の呼び出し: {fake_time.sleeps}",
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
    assert [r["value"] for r in readings] == [20.0, 22.0] and sent == 2, teach(
        en="a NaN value (a failed read) publishes nothing and is not counted; "
        f"got {readings} and a count of {sent}",
        ja="NaN の値 (読み取りの失敗) は何も公開せず、数にも入れません。"
        f"届いたもの: {readings}、戻り値: {sent}",
    )
    assert readings[1]["ts"] == 1_700_000_002.0 and fake_time.sleeps == [1.0, 1.0], teach(
        en="the beat goes on: the skipped value still takes its interval",
        ja="リズムは崩しません: 飛ばした値のぶんも interval だけ待ちます",
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
    got = late.settle()  # a retained message comes right after the SUBACK, before the marker
    message = got[0] if got else None
    assert message and message.retain and json.loads(message.payload)["value"] == 21.0, teach(
        en="publish with retain=True: the broker keeps the last reading and gives it at once "
        f"to a dashboard that subscribes later; a late subscriber got {got}",
        ja="retain=True で公開します: ブローカーは最後の計測値を保持メッセージとして持ち、"
        "あとからサブスクライブしたダッシュボードにすぐ渡します。"
        f"遅れてサブスクライブしたクライアントが受け取ったもの: {got}",
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
    assert sent == 100 and len(got) == 100, teach(
        en=f"{len(got)} of 100 readings reached the broker: wait for each one's PUBACK "
        "(info.wait_for_publish) before run_sensor returns",
        ja=f"100 件のうち {len(got)} 件しかブローカーに届きませんでした。run_sensor が戻る前に、"
        "1 件ずつ PUBACK を待ちます (info.wait_for_publish)",
    )


# --- main: the study plan's sensor, given ------------------------------------------------


def test_main_publishes_random_readings_between_20_and_30(
    broker, topic, probe, capsys, no_thread_leak
) -> None:
    probe.subscribe(f"{topic}/room", qos=1)
    args = ["--host", broker.host, "--port", str(broker.port), "--topic", f"{topic}/room"]
    code = sensor.main([*args, "--sensor-id", "attic", "--count", "3", "--interval", "0"])
    assert code == 0, f"main returns 0 after --count readings, got {code!r}"
    readings = _readings(probe.expect(3))
    assert all(r["sensor_id"] == "attic" and r["unit"] == "°C" for r in readings), readings
    assert all(20.0 <= r["value"] <= 30.0 for r in readings), readings
    out = capsys.readouterr().out
    assert out.count("Reading:") == 3, f"main prints 'Reading: <value> °C' per reading: {out!r}"
    no_thread_leak()
