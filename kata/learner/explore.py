"""`kata explore`: a live tree of a broker's topics, in the spirit of MQTT Explorer.

    kata explore                          MQTT_BROKER_URL, else mqtt://localhost:1883
    kata explore --url mqtt://host:1883   any broker (mqtts://user:pass@host:8883 too)
    kata explore -t 'sensors/#' --sys     other filters; --sys adds $SYS/# (which # skips)

Each topic shows how many messages came, the last payload (cut to fit) and
[retained] when the broker keeps it. The default is the broker a learner
starts by hand (docker/compose.yaml); the test brokers live only as long as a
test run. The tree is a plain model and render() turns it into lines, so both
are tested without a terminal; a terminal is redrawn in place, a pipe gets
one snapshot after another.
"""

from __future__ import annotations

import argparse
import math
import os
import queue
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from kata.core.brokers import BrokerAddress as Target
from kata.core.brokers import parse_url
from kata.core.i18n import t, tn

DEFAULT_URL = "mqtt://localhost:1883"
REDRAW_TTY = 0.2  # seconds between two redraws of a terminal
SNAPSHOT_EVERY = 1.0  # seconds between two printed snapshots (not a terminal)
# Seconds between the client's pings: a broker that vanished without closing
# the connection is noticed within about two of them.
KEEPALIVE = 1
# Seconds between two reconnection attempts while the broker is away.
RECONNECT_DELAY = 1


def enable_ansi() -> None:
    """Let a Windows console obey the cursor and clear codes (other systems always do)."""
    if sys.platform != "win32":
        return
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.GetStdHandle(-11)  # standard output
    mode = ctypes.c_uint32()
    if kernel32.GetConsoleMode(handle, ctypes.byref(mode)):
        kernel32.SetConsoleMode(handle, mode.value | 0x0004)  # ENABLE_VIRTUAL_TERMINAL_PROCESSING


# --- the model ----------------------------------------------------------------


@dataclass
class TopicNode:
    name: str
    children: dict[str, TopicNode] = field(default_factory=dict)
    count: int = 0  # messages on exactly this topic
    payload: bytes | None = None
    retained: bool = False
    cleared: bool = False  # the retained message was deleted (empty retained publish)

    def topics(self) -> int:
        """Topics at or below this node that carried a message."""
        return (self.count > 0) + sum(c.topics() for c in self.children.values())

    def messages(self) -> int:
        return self.count + sum(c.messages() for c in self.children.values())


class TopicTree:
    """Topics split at '/', with a count, the last payload and the retained flag of each."""

    def __init__(self) -> None:
        self.root = TopicNode("")
        self.total = 0

    def add(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> TopicNode:
        node = self.root
        for level in topic.split("/"):
            node = node.children.setdefault(level, TopicNode(level))
        node.count += 1
        node.payload = payload
        # A retained publish with an empty payload deletes what the broker keeps.
        node.cleared = retain and not payload
        node.retained = retain and bool(payload)
        self.total += 1
        return node

    def find(self, topic: str) -> TopicNode | None:
        node: TopicNode | None = self.root
        for level in topic.split("/"):
            node = node.children.get(level) if node else None
        return node

    def topics(self) -> int:
        return self.root.topics()


def format_payload(payload: bytes, width: int) -> str:
    """Text as it is (one line), anything else as hex; cut to `width` characters."""
    if not payload:
        return t("explore.empty_payload")
    try:
        text = payload.decode("utf-8")
        printable = all(ch.isprintable() or ch in "\n\r\t" for ch in text)
    except UnicodeDecodeError:
        printable = False
    if printable:
        shown = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", " ")
    else:
        shown = t("explore.bytes", count=len(payload), hex=payload[:16].hex(" "))
    width = max(width, 8)
    return shown if len(shown) <= width else shown[: width - 3] + "..."


def render(tree: TopicTree, *, width: int = 100, height: int | None = None) -> list[str]:
    """The tree as text lines, children in name order; at most `height` lines."""
    lines: list[str] = []

    def walk(node: TopicNode, depth: int) -> None:
        for name, child in sorted(node.children.items()):
            label = "  " * depth + (name or t("explore.empty_level"))
            suffix = ""
            if child.retained:
                suffix = "  " + t("explore.retained")
            elif child.cleared:
                suffix = "  " + t("explore.retained_cleared")
            if child.children:
                topics = tn("explore.topics", None, child.topics())
                suffix += f"  ({topics}, {tn('explore.messages', None, child.messages())})"
            elif child.count:
                suffix += f"  ({tn('explore.messages', None, child.count)})"
            if child.payload is not None:
                label += " = " + format_payload(child.payload, width - len(label) - len(suffix) - 3)
            lines.append((label + suffix)[:width])
            walk(child, depth + 1)

    walk(tree.root, 0)
    if height is not None and len(lines) > height:
        hidden = len(lines) - height + 1
        lines = [*lines[: height - 1], tn("explore.more_lines", None, hidden)[:width]]
    return lines


# --- the client and the screen ------------------------------------------------


class Explorer:
    """Subscribes, feeds the tree from the main thread, and draws it."""

    def __init__(
        self,
        target: Target,
        filters: list[str],
        *,
        out: TextIO = sys.stdout,
        tty: bool | None = None,
        ca_path: str | None = None,
        width: int | None = None,
        interval: float | None = None,
    ) -> None:
        self.target, self.filters, self.out = target, filters, out
        self.tty = out.isatty() if tty is None else tty
        if self.tty:
            enable_ansi()
        self.ca_path, self.width = ca_path, width
        self.interval = interval or (REDRAW_TTY if self.tty else SNAPSHOT_EVERY)
        self.tree = TopicTree()
        self.arrived: queue.Queue[tuple[str, bytes, int, bool]] = queue.Queue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.status = t("explore.status.connecting")
        self.stopped = False
        self._started = time.monotonic()

    # paho callbacks, on paho's thread: hand everything to the main thread.
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.status = t("explore.status.refused", reason=reason_code)
        else:
            self.status = t("explore.status.connected")
            # retainAsPublished: a live retained publish keeps its flag (MQTT 5),
            # so the tree can mark it; with 3.1.1 only the replay at subscribe does.
            options = SubscribeOptions(qos=0, retainAsPublished=True)
            client.subscribe([(f, options) for f in self.filters])
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if refused := [str(rc) for rc in reason_codes if rc.is_failure]:
            self.status = t("explore.status.not_subscribed", reasons=", ".join(refused))
        self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if not self.stopped:
            self.status = t("explore.status.reconnecting", reason=reason_code)

    def _on_message(self, client, userdata, msg) -> None:
        self.arrived.put((msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))

    def _client(self) -> mqtt.Client:
        client_id = f"kata-explore-{os.getpid()}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id, protocol=mqtt.MQTTv5)
        client.on_connect, client.on_subscribe = self._on_connect, self._on_subscribe
        client.on_disconnect, client.on_message = self._on_disconnect, self._on_message
        # Back within about a second of the broker's return, not paho's 1-2-4 s steps.
        client.reconnect_delay_set(min_delay=RECONNECT_DELAY, max_delay=RECONNECT_DELAY)
        if self.target.username is not None:
            client.username_pw_set(self.target.username, self.target.password)
        if self.target.tls or self.ca_path:
            client.tls_set(ca_certs=self.ca_path)
        return client

    def header(self) -> str:
        return t(
            "explore.header",
            url=self.target.url,
            filters="', '".join(self.filters),
            messages=tn("explore.messages", None, self.tree.total),
            topics=tn("explore.topics", None, self.tree.topics()),
            seconds=time.monotonic() - self._started,
            status=self.status,
        )

    def draw(self, final: bool = False) -> None:
        size = shutil.get_terminal_size((100, 30))
        width = self.width or size.columns
        if self.tty:
            # Home, clear, tree: the screen shows the latest state only.
            body = render(self.tree, width=width, height=max(size.lines - 3, 3))
            footer = "" if final else "\n" + t("explore.stop_hint")
            self.out.write("\x1b[H\x1b[2J" + "\n".join([self.header(), "", *body]) + footer + "\n")
        else:
            body = render(self.tree, width=width)
            self.out.write("\n".join([f"--- {self.header()}", *body]) + "\n")
        self.out.flush()

    def run(self, duration: float | None = None, count: int | None = None) -> int:
        """Explore until `duration` seconds, `count` messages, or Ctrl-C; the exit code."""
        client = self._client()
        try:
            client.connect(self.target.host, self.target.port, keepalive=KEEPALIVE)
        except OSError as exc:
            print(t("explore.cannot_connect", url=self.target.url, error=exc), file=sys.stderr)
            return 1
        client.loop_start()
        try:
            if not (self.connected.wait(10) and client.is_connected()):
                print(t("explore.failed", url=self.target.url, status=self.status), file=sys.stderr)
                return 1
            self.subscribed.wait(10)
            filters = "', '".join(self.filters)
            said = t("explore.subscribed", filters=filters, url=self.target.url)
            print(said, file=self.out, flush=True)
            self._loop(duration, count)
        except KeyboardInterrupt:
            pass
        finally:
            self.stopped = True
            self.status = t("explore.status.stopped")
            client.disconnect()
            client.loop_stop()
        self.draw(final=True)
        return 0

    def _loop(self, duration: float | None, count: int | None) -> None:
        deadline = time.monotonic() + (math.inf if duration is None else duration)
        # A terminal shows the empty tree at once; a log starts with the first message.
        dirty, last_draw = self.tty, 0.0
        # The loop starts connected: a loss since then is shown at once.
        shown_status = t("explore.status.connected")
        most = math.inf if count is None else count
        while time.monotonic() < deadline and self.tree.total < most:
            if self.status != shown_status:
                # Connected, lost, back: said at once, not with the next message.
                dirty, shown_status = True, self.status
            if dirty and time.monotonic() - last_draw >= self.interval:
                self.draw()
                dirty, last_draw = False, time.monotonic()
            # Short waits: the loop must also notice the deadline, the next
            # redraw time and (on Windows) Ctrl-C.
            try:
                self.tree.add(*self.arrived.get(timeout=0.1))
                dirty = True
            except queue.Empty:
                pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add, topic = parser.add_argument, t("help.explore.topic")
    add("--url", help=t("help.explore.url", default=DEFAULT_URL))
    add("-t", "--topic", action="append", dest="topics", metavar="FILTER", help=topic)
    add("--sys", action="store_true", help=t("help.explore.sys"))
    options = {"ca": str, "duration": float, "count": int, "width": int, "interval": float}
    for name, kind in options.items():
        add(f"--{name}", type=kind, help=t(f"help.explore.{name}"))


def main(args: argparse.Namespace) -> int:
    url = args.url or os.environ.get("MQTT_BROKER_URL") or DEFAULT_URL
    try:
        target = parse_url(url)
    except ValueError as exc:
        print(t("explore.bad_url", error=exc), file=sys.stderr)
        return 2
    filters = [*(args.topics or ["#"]), *(["$SYS/#"] if args.sys else [])]
    explorer = Explorer(target, filters, ca_path=args.ca, width=args.width, interval=args.interval)
    return explorer.run(duration=args.duration, count=args.count)
