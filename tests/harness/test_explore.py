"""`kata explore`: the topic tree model, its rendering, and the command on the session broker."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import urllib.parse

import pytest

from kata.core.brokers import Broker, free_port
from kata.core.catalog import ROOT
from kata.core.peers import Peer
from kata.learner.explore import Explorer, Target, TopicTree, format_payload, parse_url, render

# --- the model and its rendering ----------------------------------------------


def test_the_tree_counts_messages_and_keeps_the_last_payload_and_retained_flag() -> None:
    tree = TopicTree()
    tree.add("home/kitchen/temp", b"21.5", retain=True)
    tree.add("home/kitchen/temp", b"22.0", retain=True)
    tree.add("home/kitchen/hum", b"40")
    tree.add("home/hall", b"on")
    temp = tree.find("home/kitchen/temp")
    assert temp is not None and (temp.count, temp.payload, temp.retained) == (2, b"22.0", True)
    assert tree.find("home/kitchen/hum").retained is False
    assert tree.find("home/cellar") is None
    home = tree.find("home")
    assert (home.topics(), home.messages()) == (3, 4), "a branch sums what is below it"
    assert (tree.topics(), tree.total) == (3, 4)


def test_an_empty_retained_publish_clears_the_retained_marker() -> None:
    tree = TopicTree()
    tree.add("a/b", b"kept", retain=True)
    tree.add("a/b", b"", retain=True)
    node = tree.find("a/b")
    assert (node.retained, node.cleared, node.count) == (False, True, 2)
    assert render(tree) == ["a  (1 topic, 2 msgs)", "  b = (empty)  [retained cleared]  (2 msgs)"]


def test_render_draws_an_indented_tree_in_name_order() -> None:
    tree = TopicTree()
    tree.add("sensors/room2/temp", b"19", retain=True)
    tree.add("sensors/room1/temp", b"21")
    tree.add("sensors/room1/temp", b"22")
    tree.add("sensors", b"root level too")
    tree.add("/leading", b"x")
    assert render(tree) == [
        "(empty level)  (1 topic, 1 msg)",
        "  leading = x  (1 msg)",
        "sensors = root level too  (3 topics, 4 msgs)",
        "  room1  (1 topic, 2 msgs)",
        "    temp = 22  (2 msgs)",
        "  room2  (1 topic, 1 msg)",
        "    temp = 19  [retained]  (1 msg)",
    ]


def test_payloads_are_shown_on_one_line_cut_to_fit_or_as_hex() -> None:
    assert format_payload(b"", 20) == "(empty)"
    assert format_payload(b"two\nlines", 20) == "two\\nlines"
    assert format_payload(b"\x00\x01\xff", 40) == "<3 bytes: 00 01 ff>"
    assert format_payload("°C é".encode(), 20) == "°C é"
    cut = format_payload(b"x" * 50, 12)
    assert cut == "xxxxxxxxx..." and len(cut) == 12


def test_render_fits_the_width_and_the_height() -> None:
    tree = TopicTree()
    for n in range(10):
        tree.add(f"t/{n}", b"p" * 200)
    lines = render(tree, width=40, height=5)
    assert len(lines) == 5 and all(len(line) <= 40 for line in lines)
    assert lines[1].startswith("  0 = ppp") and lines[1].endswith("...  (1 msg)")
    assert lines[-1] == "... 7 more lines"


def test_urls_are_parsed_with_credentials_and_default_ports() -> None:
    assert parse_url("mqtt://localhost") == Target("localhost", 1883)
    assert parse_url("mqtts://u%40x:p%3Aw@broker.example") == Target(
        "broker.example", 8883, tls=True, username="u@x", password="p:w"
    )
    for bad in ("http://x", "mqtt://", "mqtt://h:port"):
        with pytest.raises(ValueError, match="URL"):
            parse_url(bad)


def test_a_terminal_is_redrawn_in_place_and_a_pipe_gets_snapshots() -> None:
    screen, log = io.StringIO(), io.StringIO()
    on_tty = Explorer(Target("h", 1), ["#"], out=screen, tty=True, width=60)
    piped = Explorer(Target("h", 1), ["#"], out=log, tty=False, width=60)
    for explorer in (on_tty, piped):
        explorer.tree.add("a/b", b"1", retain=True)
        explorer.draw()
        explorer.draw()
    assert screen.getvalue().count("\x1b[H\x1b[2J") == 2, "each redraw clears the screen first"
    assert "\x1b" not in log.getvalue(), "no terminal codes in a file or a pipe"
    assert log.getvalue().splitlines().count("  b = 1  [retained]  (1 msg)") == 2


# --- the command, against the session broker ------------------------------------


def _url(broker: Broker) -> str:
    auth = ""
    if broker.username is not None:
        quote = urllib.parse.quote
        auth = f"{quote(broker.username, safe='')}:{quote(broker.password or '', safe='')}@"
    return f"{'mqtts' if broker.tls else 'mqtt'}://{auth}{broker.host}:{broker.port}"


class Command(Peer):
    """`kata explore` in a subprocess, its stdout read line by line."""

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "MQTT_BROKER_URL"}
        argv = [sys.executable, "-m", "kata.cli", "explore", *args]
        super().__init__(argv, ROOT, env={**env, "PYTHONUTF8": "1"}, stderr_apart=True)

    def wait_for(self, text: str, timeout: float = 10.0) -> None:
        self.wait_for_line(lambda line: text in line, timeout)

    def finish(self, timeout: float = 10.0) -> tuple[int, str]:
        """Exit code and the last snapshot (from the last '---' header on)."""
        try:
            code = self.wait(timeout)
            self.stderr = self.stderr_text()
        finally:
            self.stop()
        last = max(i for i, line in enumerate(self.all_lines) if line.startswith("--- "))
        return code, "\n".join(self.all_lines[last:])


def test_explore_shows_retained_and_live_messages_as_a_tree(broker, probe, topic) -> None:
    probe.publish(f"{topic}/room1/temp", b"21.5", retain=True)
    explore = Command("--url", _url(broker), "-t", f"{topic}/#", "--count", "3", "--width", "200")
    explore.wait_for("kata explore: subscribed to")
    probe.publish(f"{topic}/room1/temp", b"22.0", retain=True)
    probe.publish(f"{topic}/room2/hum", b"40")
    code, snapshot = explore.finish()
    assert code == 0, explore.stderr
    leaf = topic.split("/")[-1]
    assert "3 msgs on 2 topics" in snapshot.splitlines()[0]
    assert f"  {leaf}  (2 topics, 3 msgs)" in snapshot
    assert "      temp = 22.0  [retained]  (2 msgs)" in snapshot, snapshot
    assert "      hum = 40  (1 msg)" in snapshot, snapshot


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT, a POSIX signal")
def test_ctrl_c_stops_explore_cleanly_with_a_last_snapshot(broker, probe, topic) -> None:
    explore = Command("--url", _url(broker), "-t", f"{topic}/#", "--interval", "0.1")
    explore.wait_for("kata explore: subscribed to")
    probe.publish(f"{topic}/state", b"on")
    explore.wait_for("state = on")  # a snapshot as the message arrives
    explore.process.send_signal(signal.SIGINT)
    code, snapshot = explore.finish()
    assert code == 0 and "Traceback" not in explore.stderr, explore.stderr
    assert "stopped" in snapshot.splitlines()[0] and "state = on  (1 msg)" in snapshot


def test_explore_says_how_to_get_a_broker_when_none_answers() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kata.cli", "explore", "--url", f"mqtt://127.0.0.1:{free_port()}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=30,
    )
    assert result.returncode == 1
    assert "cannot connect to mqtt://127.0.0.1:" in result.stderr and "--url" in result.stderr


@pytest.mark.needs_private_broker
def test_explore_says_within_seconds_that_the_broker_left_and_came_back(broker_factory) -> None:
    private = broker_factory()
    url = f"mqtt://{private.host}:{private.port}"
    explore = Command("--url", url, "-t", "kata/#", "--interval", "0.1")
    try:
        explore.wait_for("kata explore: subscribed to")
        private.kill()
        gone = time.monotonic()
        explore.wait_for("reconnecting", timeout=10)
        noticed = time.monotonic() - gone
        private.start()
        back = time.monotonic()
        explore.wait_for(", connected", timeout=10)
        returned = time.monotonic() - back
    finally:
        explore.stop()
    # Measured, not asserted to the tenth: a loaded CI machine is slower.
    print(f"explore: lost noticed after {noticed:.2f} s, back after {returned:.2f} s")
    assert noticed < 5 and returned < 5, (noticed, returned)
