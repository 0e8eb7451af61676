"""Chapter 5: the dashboard (exercises/ch05_sensor/dashboard.py)."""

from __future__ import annotations

import collections
import json
import math
import re
import subprocess

import matplotlib.image
import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle

from kata import exercise
from kata.core import target
from kata.core.brokers import free_port
from kata.core.catalog import ROOT
from kata.core.peers import Peer, in_background, python_module

dashboard = exercise("ch05_sensor.dashboard")
sensor = exercise("ch05_sensor.sensor")

START = 1_700_000_000.0


def _payload(value: float, ts: float = START, sensor_id: str = "room1", unit: str = "°C") -> bytes:
    reading = {"sensor_id": sensor_id, "ts": ts, "value": value, "unit": unit}
    return json.dumps(reading, ensure_ascii=False).encode("utf-8")


def _message(payload: bytes) -> mqtt.MQTTMessage:
    """A paho message exactly as on_message receives it, made without a broker."""
    msg = mqtt.MQTTMessage(topic=b"sensors/room1/temperature")
    msg.payload = payload
    return msg


def _feed(dash, values, **fields) -> None:
    for n, value in enumerate(values):
        dash.on_message(None, None, _message(_payload(value, ts=START + n, **fields)))


# --- on_message hands over, drain takes over -------------------------------------


def test_on_message_only_queues_and_drain_fills_the_window() -> None:
    dash = dashboard.Dashboard(maxlen=10)
    _feed(dash, [21.0, 22.5, 23.25])
    assert list(dash.values) == [], (
        "on_message runs on paho's network thread: it only decodes and enqueues; the window "
        "changes when drain() runs on your thread"
    )
    moved = dash.drain()
    assert moved == 3, f"drain() returns how many readings it moved: 3, not {moved!r}"
    assert list(dash.values) == [21.0, 22.5, 23.25]
    assert dash.drain() == 0, "a second drain() finds nothing new"


def test_the_window_is_a_deque_of_maxlen() -> None:
    dash = dashboard.Dashboard(maxlen=3)
    assert isinstance(dash.values, collections.deque) and dash.values.maxlen == 3, (
        "values is collections.deque(maxlen=maxlen): old values fall out by themselves"
    )


sane = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.lists(st.lists(sane, max_size=6), max_size=5))
def test_the_window_keeps_the_last_maxlen_values(maxlen, batches) -> None:
    dash = dashboard.Dashboard(maxlen=maxlen)
    everything: list[float] = []
    for batch in batches:
        _feed(dash, batch)
        everything += batch
        assert dash.drain() == len(batch)
    assert list(dash.values) == everything[-maxlen:], (
        f"with maxlen={maxlen}, after {everything} the window is the last {maxlen} values, "
        f"oldest first; got {list(dash.values)}"
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 8), st.lists(sane, max_size=20))
def test_stats_match_a_plain_recomputation(maxlen, values) -> None:
    dash = dashboard.Dashboard(maxlen=maxlen)
    _feed(dash, values)
    dash.drain()
    got = dash.stats()
    window = values[-maxlen:]
    if not window:
        assert got == {"count": 0, "min": None, "max": None, "mean": None, "last": None}, (
            f"stats() of an empty window: count 0 and None for the rest; got {got!r}"
        )
        return
    expected = {"count": len(window), "min": min(window), "max": max(window), "last": window[-1]}
    assert {k: got.get(k) for k in expected} == expected, (
        f"stats() over the window {window}: expected {expected}, got {got}"
    )
    mean = math.fsum(window) / len(window)
    assert got.get("mean") is not None and math.isclose(
        got["mean"], mean, rel_tol=1e-9, abs_tol=1e-9
    ), f"the mean of {window} is {mean}, got {got.get('mean')!r}"


limits = st.none() | st.integers(-50, 50).map(float)


@settings(max_examples=60, deadline=None)
@given(limits, limits, st.lists(st.integers(-60, 60).map(lambda n: n / 2), max_size=20))
def test_alerts_hold_the_readings_outside_the_limits(low, high, values) -> None:
    dash = dashboard.Dashboard(low=low, high=high)
    _feed(dash, values)
    dash.drain()
    expected = [
        json.loads(_payload(v, ts=START + n))
        for n, v in enumerate(values)
        if (low is not None and v < low) or (high is not None and v > high)
    ]
    assert dash.alerts == expected, (
        f"with low={low} and high={high} (None: no limit), the alerts for {values} are the "
        f"readings (dicts) below low or above high, in order; got {dash.alerts}"
    )


def test_a_value_on_a_limit_is_no_alert() -> None:
    dash = dashboard.Dashboard(low=18.0, high=26.0)
    _feed(dash, [17.99, 18.0, 26.0, 26.01])
    dash.drain()
    assert [a["value"] for a in dash.alerts] == [17.99, 26.01], (
        "alerts are the readings outside [low, high]: the limits themselves are fine"
    )


# Bytes without "{" can never be a JSON object, so never a reading.
junk = st.binary(max_size=40).filter(lambda b: b"{" not in b) | st.sampled_from(
    [b"", b"{}", b'{"value": 21.5}', b"[21.5]", _payload(math.nan), "°C".encode("utf-16")]
)


readings = sane.map(lambda value: (_payload(value), value))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(readings, junk.map(lambda payload: (payload, None))), max_size=20))
def test_bad_payloads_are_counted_and_never_stop_the_dashboard(mixed) -> None:
    dash = dashboard.Dashboard()
    for payload, _ in mixed:
        dash.on_message(None, None, _message(payload))
    payloads = [payload for payload, _ in mixed]
    good = [value for _, value in mixed if value is not None]
    assert dash.drain() == len(good) and list(dash.values) == good, (
        "payloads that are readings reach the window, in order; the others are skipped"
    )
    assert dash.rejected == len(payloads) - len(good), (
        f"rejected counts the payloads that are not readings: {len(payloads) - len(good)}, "
        f"got {dash.rejected}. on_message must never raise: it would kill paho's thread"
    )


# --- through the broker ------------------------------------------------------------------


def test_every_reading_of_the_sensor_reaches_the_dashboard_in_order(
    topic, sensor_client, dashboard_link, fake_time
) -> None:
    dash = dashboard.Dashboard(maxlen=100, low=21.0, high=24.0)
    link = dashboard_link(dash.on_message, f"{topic}/sensors/+/temperature")
    values = [20.0 + i * 0.255 for i in range(24)]
    sent = sensor.run_sensor(
        sensor_client, f"{topic}/sensors/lab/temperature", values, sensor_id="lab",
        interval=5.0, clock=fake_time.clock, sleep=fake_time.sleep,
    )  # fmt: skip
    link.wait_for(sent)
    assert dash.drain() == 24, "the sensor sent 24 readings and the dashboard should have 24"
    expected = [sensor.make_reading("lab", v, 0.0)["value"] for v in values]
    assert list(dash.values) == expected, (
        f"every reading arrives, in order: expected {expected}, got {list(dash.values)}"
    )
    assert [a["value"] for a in dash.alerts] == [v for v in expected if v < 21 or v > 24]
    assert [a["ts"] for a in dash.alerts][:1] == [START], "alerts are whole readings"


def test_a_cleared_retained_reading_is_rejected_and_delivery_goes_on(
    topic, probe, dashboard_link
) -> None:
    dash = dashboard.Dashboard()
    feed = f"{topic}/sensors/lab/temperature"
    link = dashboard_link(dash.on_message, feed)
    probe.publish(feed, _payload(21.5), qos=1, retain=True)
    probe.publish(feed, b"", qos=1, retain=True)  # clearing the retained reading
    probe.publish(feed, b"23.41", qos=1)  # the seed's plain-number payload
    probe.publish(feed, _payload(22.0), qos=1)
    link.wait_for(4)
    assert (dash.drain(), dash.rejected) == (2, 2), (
        "the empty payload of a cleared retained message and a plain number are not "
        "readings: count them in rejected and keep going"
    )
    assert list(dash.values) == [21.5, 22.0]


# --- the figure ---------------------------------------------------------------------------


def _data_line(fig, values):
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    for line in lines:
        if [float(y) for y in line.get_ydata()] == values:
            return line
    shown = [list(map(float, line.get_ydata())) for line in lines]
    raise AssertionError(
        f"no line in the figure has the window {values} as its y data; lines: {shown}"
    )


def _horizontal_marks(ax, data_line) -> set[float]:
    """y of every horizontal line (axhline) and edge of every band (axhspan)."""
    marks: set[float] = set()
    for line in ax.get_lines():
        ys = [float(y) for y in line.get_ydata()]
        if line is not data_line and ys and all(y == ys[0] for y in ys):
            marks.add(ys[0])
    for patch in ax.patches:
        if isinstance(patch, Rectangle):  # axhspan since matplotlib 3.9
            marks |= {patch.get_y(), patch.get_y() + patch.get_height()}
        elif isinstance(patch, Polygon):  # axhspan before 3.9
            ys = [float(y) for y in patch.get_xy()[:, 1]]
            marks |= {min(ys), max(ys)}
    return marks


def _filled(values, **kwargs):
    dash = dashboard.Dashboard(**kwargs)
    _feed(dash, values, sensor_id="roof", unit="hPa")
    dash.drain()
    return dash


def test_render_draws_the_window_as_a_line() -> None:
    dash = _filled([1012.5, 1013.0, 1011.75, 1014.25])
    fig = dash.render()
    assert isinstance(fig, Figure), f"render() returns a matplotlib Figure, got {type(fig)}"
    _data_line(fig, [1012.5, 1013.0, 1011.75, 1014.25])


def test_the_figure_names_time_unit_and_sensor() -> None:
    dash = _filled([1012.5, 1013.0, 1011.75])
    fig = dash.render()
    ax = _data_line(fig, [1012.5, 1013.0, 1011.75]).axes
    assert "time" in ax.get_xlabel().lower(), f"label the x axis with time: {ax.get_xlabel()!r}"
    assert "hPa" in ax.get_ylabel(), f"the y label names the unit (hPa): {ax.get_ylabel()!r}"
    title = " ".join([ax.get_title(), fig.get_suptitle()])
    assert "roof" in title and "hPa" in title, (
        f"the title names the sensor (roof) and the unit (hPa): {title!r}"
    )


@pytest.mark.parametrize(("low", "high"), [(1012.0, 1014.0), (None, 1014.0), (1012.0, None)])
def test_the_alert_limits_are_drawn_when_set(low, high) -> None:
    dash = _filled([1012.5, 1013.0, 1011.75, 1014.25], low=low, high=high)
    fig = dash.render()
    line = _data_line(fig, [1012.5, 1013.0, 1011.75, 1014.25])
    marks = _horizontal_marks(line.axes, line)
    wanted = {limit for limit in (low, high) if limit is not None}
    assert wanted <= marks, (
        f"draw each limit that is set as a horizontal line (ax.axhline) or the edge of a band "
        f"(ax.axhspan): expected marks at {sorted(wanted)}, found {sorted(marks)}"
    )


def test_render_works_before_the_first_reading() -> None:
    fig = dashboard.Dashboard(low=18.0, high=26.0).render()
    assert isinstance(fig, Figure), "an empty dashboard still renders (e.g. 'waiting...')"


def test_render_leaves_no_pyplot_figures_behind() -> None:
    import matplotlib.pyplot as plt

    dash = _filled([1.0, 2.0])
    before = plt.get_fignums()
    for _ in range(3):
        dash.render()
    assert plt.get_fignums() == before, (
        "render() opened pyplot figures; pyplot keeps each one until plt.close(), so a live "
        "dashboard would grow without end. Build matplotlib.figure.Figure() directly"
    )


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _assert_png(path) -> None:
    assert path.is_file(), f"no PNG was written to {path}"
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG file"
    image = matplotlib.image.imread(path)
    assert image.shape[0] >= 100 and image.shape[1] >= 100, f"a tiny image: {image.shape}"
    assert float(image[..., :3].std()) > 0.01, f"{path} is blank: nothing was drawn"


def test_save_png_writes_a_real_image(tmp_path) -> None:
    dash = _filled([1012.5, 1013.0, 1011.75, 1014.25], low=1012.0, high=1014.0)
    dash.save_png(tmp_path / "dash.png")
    _assert_png(tmp_path / "dash.png")


# --- main: the seed's two-terminal demo ------------------------------------------------------


def _not_done_or_failed(peer: Peer, module: str, what: str) -> None:
    """Turn a subprocess's failure into the test's: a stub is 'not done yet'."""
    output = "\n".join(peer.all_lines)
    if "NotImplementedError" in output:
        frames = re.findall(r'[/\\](ch05_sensor[/\\]\w+\.py)", line \d+, in (\w+)', output)
        tree = module.split(".")[0]
        where = f"{tree}/{frames[-1][0]}: {frames[-1][1]}" if frames else module
        raise NotImplementedError(f"{where} (run as python -m {module})")
    tail = "\n".join(peer.all_lines[-15:])
    raise AssertionError(f"python -m {module} {what}; its output ends with:\n{tail}")


RECEIVED = re.compile(r"Received:\s*([-+0-9.eE]+)")


def _expect_success(peer: Peer, module: str, when: str) -> None:
    try:
        code: int | None = peer.wait(timeout=10)
    except subprocess.TimeoutExpired:
        code = None
    if code is None:
        _not_done_or_failed(peer, module, f"did not exit {when}")
    if code != 0:
        _not_done_or_failed(peer, module, f"exited with {code} {when}")


def test_the_two_terminal_demo_runs_headless(broker, topic, probe, tmp_path, monkeypatch) -> None:
    # No window in a test: with the Agg backend the dashboard writes its PNG instead.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    tree = target.current()
    feed = f"{topic}/sensors/lab/temperature"
    probe.subscribe(feed, qos=1)
    png = tmp_path / "live.png"
    where = ["--host", broker.host, "--port", str(broker.port), "--topic", feed]
    dash_module, sensor_module = f"{tree}.ch05_sensor.dashboard", f"{tree}.ch05_sensor.sensor"
    dash_args = ["--count", "4", "--low", "21", "--high", "29", "--out", str(png)]
    with python_module(dash_module, *where, *dash_args, cwd=ROOT) as dash:
        dash.output.follow(in_background(dash.wait, 30))
        try:
            dash.wait_for_line(lambda line: line.startswith("Subscribed"), timeout=10)
        except (AssertionError, TimeoutError):
            _not_done_or_failed(dash, dash_module, "did not print 'Subscribed to ...'")
        sensor_args = ["--sensor-id", "lab", "--count", "4", "--interval", "0"]
        with python_module(sensor_module, *where, *sensor_args, cwd=ROOT) as sen:
            _expect_success(sen, sensor_module, "after --count 4 readings")
        _expect_success(dash, dash_module, "after receiving --count 4 readings")
    sent = [json.loads(m.payload)["value"] for m in probe.expect(4)]
    shown = [float(m[1]) for m in map(RECEIVED.match, dash.all_lines) if m]
    assert shown == sent, (
        f"the dashboard prints 'Received: <value> <unit>' for each reading the sensor sent "
        f"({sent}); it printed {shown}"
    )
    _assert_png(png)


def test_dashboard_main_says_error_when_no_broker_listens(capsys, no_thread_leak) -> None:
    code = dashboard.main(["--host", "127.0.0.1", "--port", str(free_port()), "--count", "1"])
    out = capsys.readouterr().out
    assert code == 1 and "error" in out.lower(), (
        "with no broker, main prints 'error: ...' and returns 1 instead of a traceback"
    )
    no_thread_leak()
