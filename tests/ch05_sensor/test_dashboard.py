"""Chapter 5: the dashboard (exercises/ch05_sensor/dashboard.py)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata import exercise
from kata.core import target
from kata.core.brokers import LOOPBACK, free_port
from kata.core.catalog import ROOT
from kata.core.expect import expect_raises
from kata.core.i18n import teach
from kata.core.peers import LineQueue, Peer, after_next_connack, in_background, python_module
from kata.core.probe import Probe

dashboard = exercise("ch05_sensor.dashboard")
sensor = exercise("ch05_sensor.sensor")

START = 1_700_000_000.0
FEED = b"sensors/room1/temperature"


def _payload(value: float, ts: float = START, sensor_id: str = "room1", unit: str = "°C") -> bytes:
    reading = {"sensor_id": sensor_id, "ts": ts, "value": value, "unit": unit}
    return json.dumps(reading, ensure_ascii=False).encode("utf-8")


def _message(payload: bytes, topic: bytes = FEED) -> mqtt.MQTTMessage:
    """A paho message exactly as on_message receives it, made without a broker."""
    msg = mqtt.MQTTMessage(topic=topic)
    msg.payload = payload
    return msg


def _feed(dash, values, **fields) -> None:
    for n, value in enumerate(values):
        dash.on_message(None, None, _message(_payload(value, ts=START + n, **fields)))


# --- on_message hands over (paho's thread), drain takes over (yours) -----------------------


def test_on_message_only_queues_and_drain_fills_the_window() -> None:
    dash = dashboard.Dashboard(maxlen=10)
    _feed(dash, [21.0, 22.5, 23.25])
    assert list(dash.values) == [], teach(
        en="on_message runs on paho's network thread (loop_start): it only decodes and puts "
        "the reading in the inbox; the window changes when drain() runs on your thread. "
        f"After 3 messages and no drain() the window was {list(dash.values)}",
        ja="on_message は paho のネットワークスレッド (loop_start) で動きます。"
        "デコードして inbox に入れるだけです。"
        "ウィンドウを変えるのは、あなたのスレッドで動く drain() です。"
        f"drain() 前の 3 件受信後のウィンドウ: {list(dash.values)}",
    )
    moved = dash.drain()
    assert moved == 3, teach(
        en=f"drain() returns how many readings it moved: 3, not {moved!r}",
        ja=f"drain() は移した計測値の数を返します: 3 のはずが {moved!r} でした",
    )
    assert list(dash.values) == [21.0, 22.5, 23.25], list(dash.values)
    again = dash.drain()
    assert again == 0, teach(
        en=f"a second drain() finds nothing new and returns 0, not {again!r}",
        ja=f"続けて呼んだ drain() には新しいものがないので 0 を返します。実際: {again!r}",
    )


sane = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.lists(st.lists(sane, max_size=6), max_size=5))
def test_the_window_keeps_the_last_maxlen_values(maxlen, batches) -> None:
    dash = dashboard.Dashboard(maxlen=maxlen)
    everything: list[float] = []
    for batch in batches:
        _feed(dash, batch)
        everything += batch
        moved = dash.drain()
        assert moved == len(batch), teach(
            en=f"drain() after {len(batch)} messages should move {len(batch)}, moved {moved!r}",
            ja=f"{len(batch)} 件受信したあとの drain() は {len(batch)} 件移すはずが "
            f"{moved!r} 件でした",
        )
    assert list(dash.values) == everything[-maxlen:], teach(
        en=f"with maxlen={maxlen}, after {everything} the window is the last {maxlen} values, "
        f"oldest first; got {list(dash.values)}",
        ja=f"maxlen={maxlen} で {everything} を受け取ったら、ウィンドウは最後の {maxlen} 件"
        f"(古い順) です。実際: {list(dash.values)}",
    )


def test_a_value_on_a_limit_is_no_alert() -> None:
    dash = dashboard.Dashboard(low=18.0, high=26.0)
    _feed(dash, [17.99, 18.0, 26.0, 26.01])
    dash.drain()
    assert [a["value"] for a in dash.alerts] == [17.99, 26.01], teach(
        en="drain() hands each reading to _record(), which keeps the alerts: the readings "
        f"outside [low, high]; got {dash.alerts}",
        ja="drain() は計測値を 1 件ずつ _record() に渡します。_record() が [low, high] の外の"
        f"計測値を alerts に入れます。実際: {dash.alerts}",
    )


def test_the_study_plans_plain_number_is_a_reading_of_its_topic() -> None:
    dash = dashboard.Dashboard()
    before = time.time()
    dash.on_message(None, None, _message(b"23.45", topic=b"sensor/temperature"))
    after = time.time()
    dash.drain()
    assert list(dash.values) == [23.45] and dash.rejected == 0, teach(
        en="the study plan's sensor sends a plain number, b'23.45'. Decode payloads with the "
        "given to_reading(msg.payload, msg.topic), which accepts it; the window was "
        f"{list(dash.values)} with {dash.rejected} rejected",
        ja="元の講座のセンサーは b'23.45' のような数値だけを送ります。ペイロードは用意されている "
        "to_reading(msg.payload, msg.topic) でデコードします (数値だけのペイロードも受け付けます)。"
        f"ウィンドウ: {list(dash.values)}、rejected: {dash.rejected}",
    )
    last = dash.last
    assert last is not None and last["sensor_id"] == "sensor/temperature", last
    assert before <= last["ts"] <= after, teach(
        en=f"a plain number is stamped with its arrival time, {before}..{after}: {last}",
        ja=f"数値だけの計測値には届いた時刻 ({before}..{after}) が付きます: {last}",
    )


# Bytes without "{" can never be a JSON object, so never a reading, unless a plain number.
PLAIN = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?")
junk = st.binary(max_size=40).filter(
    lambda b: b"{" not in b and not PLAIN.fullmatch(b)
) | st.sampled_from(
    [b"", b"{}", b'{"value": 21.5}', b"[21.5]", _payload(math.nan), b"nan", b"1e400", b"9" * 400]
)
readings = sane.map(lambda value: (_payload(value), value)) | st.sampled_from(
    [(b"23.45", 23.45), (b"-5", -5.0), (b"30.0", 30.0)]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(readings, junk.map(lambda payload: (payload, None))), max_size=20))
def test_bad_payloads_are_counted_and_never_stop_the_dashboard(mixed) -> None:
    dash = dashboard.Dashboard()
    for payload, _ in mixed:
        dash.on_message(None, None, _message(payload))
    payloads = [payload for payload, _ in mixed]
    good = [value for _, value in mixed if value is not None]
    moved = dash.drain()
    assert moved == len(good) and list(dash.values) == good, teach(
        en=f"the payloads that are readings reach the window, in order: {good}; "
        f"got {list(dash.values)}",
        ja=f"計測値であるペイロードだけが順番どおりウィンドウに入ります: {good}。"
        f"実際: {list(dash.values)}",
    )
    assert dash.rejected == len(payloads) - len(good), teach(
        en=f"rejected counts the payloads that are not readings: {len(payloads) - len(good)}, "
        f"got {dash.rejected}. on_message must never raise: on paho's thread an exception "
        "stops the network loop",
        ja=f"rejected は計測値でないペイロードの数です: {len(payloads) - len(good)} のはずが "
        f"{dash.rejected} でした。on_message は例外を外に出してはいけません: paho の"
        "スレッドで例外が出るとネットワークループが止まります",
    )


# --- subscribe_feed: the dashboard's client --------------------------------------------------


def test_subscribe_feed_returns_after_the_suback_and_hands_over_every_message(
    topic, probe, dashboard_link
) -> None:
    got: list[tuple[str, bytes, int]] = []
    feed = dashboard_link(
        lambda client, userdata, msg: got.append((msg.topic, msg.payload, msg.qos)),
        f"{topic}/sensors/+/temperature",
    )
    # Published the moment subscribe_feed returned: lost unless the SUBACK was already in.
    for n in range(3):
        probe.publish(f"{topic}/sensors/lab/temperature", b"%d" % n, qos=1)
    feed.wait_for(3)
    assert [payload for _, payload, _ in got] == [b"0", b"1", b"2"], teach(
        en="every message on the filter reaches on_message, in order; "
        f"it got {[payload for _, payload, _ in got]}",
        ja=f"フィルターに合うメッセージはすべて順番どおり on_message に届きます。実際: {got}",
    )
    assert {qos for _, _, qos in got} == {1}, teach(
        en="subscribe at QoS 1 (qos=1 by default): a QoS 1 reading is then delivered at QoS 1 "
        f"(the lower of the two); got QoS {[qos for _, _, qos in got]}",
        ja="既定の qos=1 でサブスクライブします。すると QoS 1 の計測値は QoS 1 のまま届きます "
        f"(2 つのうち低いほう)。実際の QoS: {[qos for _, _, qos in got]}",
    )


def test_subscribe_feed_waits_for_the_suback(scripted_broker, no_thread_leak) -> None:
    slow = scripted_broker(suback_after=0.1)
    client = dashboard.subscribe_feed(LOOPBACK, slow.port, "kata/slow", print, timeout=5.0)
    returned_too_early = not slow.sent["SUBACK"].is_set()
    client.disconnect()
    client.loop_stop()
    assert not returned_too_early, teach(
        en="subscribe_feed returned before the broker's SUBACK (this broker sends it 0.1 s "
        "after the SUBSCRIBE): a message published right after could be lost. Wait for "
        "on_subscribe (a threading.Event), not only for on_connect",
        ja="subscribe_feed がブローカーの SUBACK より前に戻りました (このブローカーは SUBSCRIBE の "
        "0.1 秒後に SUBACK を返します)。直後に公開されたメッセージを取りこぼすかもしれません。"
        "on_connect だけでなく on_subscribe まで (threading.Event で) 待ちます",
    )
    no_thread_leak()


@pytest.mark.parametrize(
    ("answer", "what"),
    [
        ({"connack_code": 5}, "a CONNACK with return code 5 (not authorized)"),
        ({"suback_code": 0x80}, "a SUBACK with return code 0x80 (failure)"),
    ],
    ids=["connack-refused", "suback-refused"],
)
def test_subscribe_feed_reports_a_refusal(scripted_broker, answer, what, no_thread_leak) -> None:
    refusing = scripted_broker(**answer)
    expect_raises(
        ConnectionError,
        dashboard.subscribe_feed, LOOPBACK, refusing.port, "kata/no", print, timeout=2.0,
        why=teach(
            en=f"the broker answered with {what}: raise ConnectionError when "
            "reason_code.is_failure (on_connect) or reason_codes[0].is_failure (on_subscribe)",
            ja=f"ブローカーの応答は {what} でした。on_connect の reason_code.is_failure、"
            "または on_subscribe の reason_codes[0].is_failure が真なら ConnectionError を"
            "送出します",
        ),
    )  # fmt: skip
    no_thread_leak()


WHERE_JA = {"closed port": "閉じたポート", "silent server": "MQTT を話さないサーバー"}


@pytest.mark.parametrize("where", WHERE_JA)
def test_subscribe_feed_fails_without_a_broker_and_leaves_no_thread(
    where, request, no_thread_leak
) -> None:
    port = free_port() if where == "closed port" else request.getfixturevalue("silent_server")
    expect_raises(
        (OSError, TimeoutError),
        dashboard.subscribe_feed, LOOPBACK, port, "kata/x", print, timeout=0.05,
        why=teach(
            en=f"no broker there ({where}): ConnectionRefusedError from connect(), or "
            "TimeoutError when no SUBACK comes within timeout",
            ja=f"そこにブローカーはいません ({WHERE_JA[where]}): connect() の "
            "ConnectionRefusedError か、timeout 以内に SUBACK が来ないときの TimeoutError です",
        ),
    )  # fmt: skip
    no_thread_leak()


@pytest.mark.needs_private_broker
def test_subscribe_feed_subscribes_again_after_the_broker_restarts(
    broker_factory, topic, dashboard_link
) -> None:
    private = broker_factory()
    got: list[bytes] = []
    feed = dashboard_link(
        lambda client, userdata, msg: got.append(msg.payload),
        f"{topic}/again",
        host=private.host,
        port=private.port,
    )
    # paho waits 1 s before its first reconnect; what is tested is what happens after
    # it, so the client (the caller owns it) tries sooner, and again while the broker starts.
    feed.client.reconnect_delay_set(min_delay=0.02, max_delay=0.1)  # type: ignore
    reconnected = after_next_connack(feed.client)
    # Killed as in a crash (it has nothing to save): its clients notice at once.
    private.kill()
    private.start()
    # This broker keeps no sessions: a retained message reaches the dashboard only if
    # its client reconnected AND subscribed again (on_connect).
    with Probe(private.host, private.port) as publisher:
        publisher.publish(f"{topic}/again", _payload(21.5), qos=1, retain=True)
        if not reconnected.wait(8.0):
            pytest.fail(
                teach(
                    en="after the broker restarted, the dashboard's client did not connect "
                    "again within 8 s: keep paho's loop_start() thread running, it reconnects "
                    "by itself",
                    ja="ブローカーの再起動後、8 秒以内にダッシュボードのクライアントが再接続"
                    "しませんでした。loop_start() のスレッドを動かしたままにします。再接続は"
                    "自動で行われます",
                ),
                pytrace=False,
            )
        try:
            feed.wait_for(1, timeout=2.0)
        except AssertionError:
            pytest.fail(
                teach(
                    en="after the broker restarted, the client connected again, but nothing "
                    "arrived within 2 s: the new connection has no subscription unless "
                    "on_connect subscribes (the study plan subscribed once, right after "
                    "connect())",
                    ja="ブローカーの再起動後、クライアントは再接続しましたが、2 秒以内に何も"
                    "届きませんでした。新しい接続には、on_connect の中でサブスクライブしない限り"
                    "サブスクリプションがありません (元の講座は connect() の直後に 1 回だけ"
                    "サブスクライブしていました)",
                ),
                pytrace=False,
            )
    assert got[:1] == [_payload(21.5)], got


# --- the pipeline: run_sensor -> broker -> subscribe_feed -> on_message -> drain -------------


def test_every_reading_of_the_sensor_reaches_the_dashboard_in_order(
    topic, sensor_client, dashboard_link, fake_time
) -> None:
    dash = dashboard.Dashboard(maxlen=100, low=21.0, high=24.0)
    feed = dashboard_link(dash.on_message, f"{topic}/sensors/+/temperature")
    values = [20.0 + i * 0.255 for i in range(24)]
    sent = sensor.run_sensor(
        sensor_client, f"{topic}/sensors/lab/temperature", values, sensor_id="lab",
        interval=5.0, clock=fake_time.clock, sleep=fake_time.sleep,
    )  # fmt: skip
    feed.wait_for(sent)
    moved = dash.drain()
    assert moved == 24, teach(
        en=f"the sensor sent 24 readings and drain() should move 24, not {moved!r}",
        ja=f"センサーは 24 件送ったので drain() は 24 件移すはずですが、{moved!r} でした",
    )
    expected = [sensor.make_reading("lab", v, 0.0)["value"] for v in values]
    assert list(dash.values) == expected, teach(
        en=f"every reading arrives, in order: expected {expected}, got {list(dash.values)}",
        ja=f"すべての計測値が順番どおりに届きます。期待: {expected}、実際: {list(dash.values)}",
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
    probe.publish(feed, b"23.41", qos=1)  # the study plan's plain-number payload
    probe.publish(feed, _payload(22.0), qos=1)
    link.wait_for(4)
    moved = dash.drain()
    assert (moved, dash.rejected) == (3, 1), teach(
        en="a subscriber receives the empty payload that clears a retained message: it is no "
        "reading, count it in rejected and keep going (the plain number 23.41 is a reading); "
        f"drain() moved {moved}, rejected is {dash.rejected}",
        ja="保持メッセージを消す空のペイロードもサブスクライバーに届きます。これは計測値では"
        "ないので rejected に数えて、処理を続けます (数値だけの 23.41 は計測値です)。"
        f"drain() が移した数: {moved}、rejected: {dash.rejected}",
    )
    assert list(dash.values) == [21.5, 23.41, 22.0], list(dash.values)


# --- the figure (given): one path end to end -------------------------------------------------


def _data_line(fig, values):
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    for line in lines:
        if [float(y) for y in line.get_ydata()] == values:
            return line
    shown = [list(map(float, line.get_ydata())) for line in lines]
    raise AssertionError(f"no line in the figure has the window {values} as its y data: {shown}")


def _horizontal_marks(ax, data_line) -> set[float]:
    """y of every horizontal line (axhline) and edge of every band (axhspan)."""
    from matplotlib.patches import Polygon, Rectangle  # matplotlib: only where a test draws

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


def test_render_draws_the_window_with_names_and_limits() -> None:
    from matplotlib.figure import Figure

    dash = dashboard.Dashboard(low=1012.0, high=1014.0)
    _feed(dash, [1012.5, 1013.0, 1011.75, 1014.25], sensor_id="roof", unit="hPa")
    dash.drain()
    fig = dash.render()
    assert isinstance(fig, Figure), f"render() returns a matplotlib Figure, got {type(fig)}"
    line = _data_line(fig, [1012.5, 1013.0, 1011.75, 1014.25])
    ax = line.axes
    assert "time" in ax.get_xlabel().lower() and "hPa" in ax.get_ylabel()
    assert "roof" in ax.get_title() and "hPa" in ax.get_title(), ax.get_title()
    assert {1012.0, 1014.0} <= _horizontal_marks(ax, line)


def test_render_works_before_the_first_reading() -> None:
    from matplotlib.figure import Figure

    dash = dashboard.Dashboard(low=18.0, high=26.0)
    dash.on_message(None, None, _message(b""))  # a cleared retained reading: no reading yet
    assert dash.drain() == 0 and dash.rejected == 1
    assert isinstance(dash.render(), Figure), "an empty dashboard still renders"


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _assert_png(path) -> None:
    assert path.is_file(), f"no PNG was written to {path}"
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG file"
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.shape[0] >= 100 and image.shape[1] >= 100, f"a tiny image: {image.shape}"
    assert float(image[..., :3].std()) > 0.01, f"{path} is blank: nothing was drawn"


# --- main (given): the study plan's two-terminal demo ------------------------------------------


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


@pytest.mark.slow  # two Python processes with matplotlib, ~1 s
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
    assert shown == sent, teach(
        en=f"the dashboard prints 'Received: <value> <unit>' for each reading the sensor sent "
        f"({sent}); it printed {shown}",
        ja=f"ダッシュボードはセンサーが送った計測値ごとに 'Received: <value> <unit>' を表示します "
        f"({sent})。表示されたもの: {shown}",
    )
    _assert_png(png)


def test_dashboard_main_plots_the_study_plans_plain_numbers(
    broker, topic, probe, tmp_path, monkeypatch, no_thread_leak
) -> None:
    out = LineQueue()
    monkeypatch.setattr(sys, "stdout", out)
    feed, png = f"{topic}/sensor/temperature", tmp_path / "plain.png"
    args = ["--host", broker.host, "--port", str(broker.port), "--topic", feed]
    done = out.follow(in_background(dashboard.main, [*args, "--count", "2", "--out", str(png)]))
    out.wait_for(lambda line: line.startswith("Subscribed"))
    probe.publish(feed, b"23.45")  # what the study plan's sensor sends
    probe.publish(feed, b"24.5")
    assert done.result(timeout=10) == 0, "main returns 0 after --count readings"
    shown = []
    while not out.lines.empty():
        line = out.lines.get_nowait()
        shown += [line] if isinstance(line, str) else []
    received = [float(m[1]) for m in map(RECEIVED.match, shown) if m]
    assert received == [23.45, 24.5], teach(
        en=f"the study plan's plain numbers 23.45 and 24.5 are plotted; main printed {shown}",
        ja=f"元の講座の数値だけのペイロード 23.45 と 24.5 も表示されます。main の出力: {shown}",
    )
    _assert_png(png)
    no_thread_leak()


def test_dashboard_main_says_error_when_no_broker_listens(capsys, no_thread_leak) -> None:
    code = dashboard.main(["--host", "127.0.0.1", "--port", str(free_port()), "--count", "1"])
    out = capsys.readouterr().out
    assert code == 1 and "error" in out.lower(), teach(
        en="with no broker, subscribe_feed raises and main prints 'error: ...' and returns 1",
        ja="ブローカーがいないと subscribe_feed が例外を送出し、main は 'error: ...' と表示して"
        "1 を返します",
    )
    no_thread_leak()
