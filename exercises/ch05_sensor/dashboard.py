"""Chapter 5 - the dashboard: paho's network thread receives, your thread draws.

on_message (paho's thread) only decodes and enqueues; drain() (your thread)
moves readings into the window; render() draws it. The kata gives the figure,
the statistics and main(); you write on_message, drain and subscribe_feed.

Lesson: kata lesson dashboard  (dashboard.md, 日本語: dashboard.ja.md)
Check: kata check dashboard
"""

from __future__ import annotations

import argparse
import queue
import re
import statistics
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from paho.mqtt.enums import CallbackAPIVersion

from .sensor import decode_reading, make_reading

# The study plan's payload: str(round(random.uniform(20, 30), 2)), e.g. "23.45".
PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


def to_reading(payload: bytes, topic: str, arrived: float | None = None) -> dict:
    """A reading from a payload: the kata's JSON reading, or the study plan's plain number.

    A plain number such as b"23.45" becomes a reading of sensor `topic`, stamped
    `arrived` (default: now), without a unit. ValueError for anything else.
    """
    try:
        return decode_reading(payload)
    except ValueError as exc:
        not_json = exc
    text = bytes(payload).decode("ascii", errors="replace")
    if not PLAIN_NUMBER.fullmatch(text):
        raise ValueError(f"neither a JSON reading nor a plain number: {not_json}")
    return make_reading(topic, float(text), time.time() if arrived is None else arrived, unit="")


class Dashboard:
    """The last `maxlen` readings of a sensor, their statistics, alerts and a figure.

    inbox: a queue.Queue, from paho's thread (on_message) to yours (drain).
    values: the window, a deque of the last `maxlen` values, oldest first.
    rejected: payloads that were not readings. alerts: readings outside
    [low, high]. last: the latest reading in the window (or None).
    """

    def __init__(
        self, maxlen: int = 50, low: float | None = None, high: float | None = None
    ) -> None:
        self.maxlen, self.low, self.high = maxlen, low, high
        self.inbox: queue.Queue[dict] = queue.Queue()
        self.values: deque[float] = deque(maxlen=maxlen)
        self.rejected = 0
        self.alerts: list[dict] = []
        self.last: dict | None = None
        # render() draws here; main() swaps in a pyplot window when there is a display.
        self.figure: Figure | None = None
        self._times: deque[float] = deque(maxlen=maxlen)

    def on_message(self, client, userdata, msg) -> None:
        """paho's callback, on paho's thread: to_reading(...) into the inbox, nothing else.

        Pass msg.payload and msg.topic. A payload to_reading refuses (ValueError)
        adds 1 to `rejected` and is dropped: never raise, never draw here.
        """
        raise NotImplementedError("TODO: to_reading() into self.inbox; on ValueError rejected += 1")

    def drain(self) -> int:
        """On your thread: move every reading waiting in the inbox into the window.

        Take them with inbox.get_nowait() until queue.Empty (never wait) and
        hand each one to self._record(reading). Return how many were moved.
        """
        raise NotImplementedError("TODO: get_nowait() until queue.Empty, _record each one")

    def _record(self, reading: dict) -> None:
        """One reading into the window (value and time), `last`, and `alerts` if outside."""
        self.values.append(reading["value"])
        self._times.append(reading["ts"])
        self.last = reading
        if self._is_alert(reading["value"]):
            self.alerts.append(reading)

    def _is_alert(self, value: float) -> bool:
        """Below low or above high; the limits themselves are fine, None is no limit."""
        return (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        )

    def stats(self) -> dict:
        """count/min/max/mean/last over the window; None for all but count when empty."""
        window = list(self.values)
        if not window:
            return {"count": 0, "min": None, "max": None, "mean": None, "last": None}
        return {
            "count": len(window),
            "min": min(window),
            "max": max(window),
            "mean": statistics.fmean(window),
            "last": window[-1],
        }

    def render(self) -> Figure:
        """The window as a line over time, with labels, title, limits and alert band."""
        fig = self.figure if self.figure is not None else Figure(figsize=(8, 4.5))
        self.figure = fig
        fig.clear()
        fig.set_layout_engine("constrained")
        ax = fig.add_subplot()
        unit = self.last["unit"] if self.last else ""
        sensor = self.last["sensor_id"] if self.last else "no sensor yet"
        if self.low is not None and self.high is not None:
            ax.axhspan(self.low, self.high, color="tab:green", alpha=0.12, label="normal range")
        limits = [limit for limit in (self.low, self.high) if limit is not None]
        for n, limit in enumerate(limits):
            label = "alert limit" + ("s" if len(limits) > 1 else "") if n == 0 else None
            ax.axhline(limit, color="tab:red", linestyle="--", linewidth=1, label=label)
        if self.values:
            times = [datetime.fromtimestamp(ts) for ts in self._times]
            values = list(self.values)
            ax.plot(times, values, color="tab:blue", marker="o", markersize=3, label="reading")
            outside = [(t, v) for t, v in zip(times, values, strict=True) if self._is_alert(v)]
            if outside:
                ax.scatter(*zip(*outside, strict=True), color="tab:red", zorder=3, label="alert")
            # Readings may be a minute or a millisecond apart: let matplotlib pick the ticks.
            locator = AutoDateLocator()
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
            s = self.stats()
            summary = (
                f"last  {s['last']:.2f} {unit}\nmin   {s['min']:.2f}\nmax   {s['max']:.2f}\n"
                f"mean  {s['mean']:.2f}\n\n{s['count']} in window\n"
                f"{len(self.alerts)} alerts\n{self.rejected} rejected"
            )
            ax.text(1.02, 0.0, summary, transform=ax.transAxes, va="bottom", family="monospace")
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        else:
            ax.text(0.5, 0.5, "waiting for readings...", transform=ax.transAxes, ha="center")
        ax.set_xlabel("time")
        ax.set_ylabel(f"reading ({unit})" if unit else "reading")
        ax.set_title(f"sensor {sensor}" + (f" ({unit})" if unit else ""))
        ax.grid(True, alpha=0.3)
        return fig

    def save_png(self, path: str | Path) -> None:
        """render() and write it as a PNG file."""
        self.render().savefig(path, format="png", dpi=100)


def subscribe_feed(
    host: str,
    port: int,
    topic_filter: str,
    on_message: Callable,
    *,
    qos: int = 1,
    timeout: float = 5.0,
) -> mqtt.Client:
    """A VERSION2 client that hands every message on `topic_filter` to `on_message`.

    Subscribe (at `qos`) in on_connect, so that a reconnect subscribes again;
    loop_start(); return once the SUBACK arrived (on_subscribe). The caller then
    owns the client. On a refusal or no SUBACK within `timeout`: disconnect(),
    loop_stop(), then raise ConnectionError or TimeoutError naming what failed.
    """
    raise NotImplementedError("TODO: subscribe in on_connect, loop_start, wait for on_subscribe")


def main(argv: Sequence[str] | None = None) -> int:
    """The study plan's live plot, drawn on the main thread; a PNG when headless (given)."""
    parser = argparse.ArgumentParser(description="Plot a sensor's readings live.")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--topic", default="sensors/room1/temperature")
    parser.add_argument("--maxlen", type=int, default=50, help="readings in the window")
    parser.add_argument("--low", type=float, default=None, help="alert below this value")
    parser.add_argument("--high", type=float, default=None, help="alert above this value")
    parser.add_argument("--count", type=int, default=0, help="stop after N readings (0: never)")
    parser.add_argument("--out", default=None, help="PNG file (headless default: dashboard.png)")
    args = parser.parse_args(argv)

    dashboard = Dashboard(args.maxlen, args.low, args.high)
    arrived = threading.Event()

    def on_message(client, userdata, msg) -> None:
        dashboard.on_message(client, userdata, msg)
        arrived.set()  # wakes the headless loop at once

    try:
        client = subscribe_feed(args.host, args.port, args.topic, on_message, timeout=5.0)
    except (OSError, TimeoutError) as exc:
        print(f"error: {exc}", flush=True)
        return 1
    print(f"Subscribed to '{args.topic}' on {args.host}:{args.port}; Ctrl-C to stop", flush=True)

    # pyplot only here: it picks a GUI backend when there is a display, Agg otherwise.
    import matplotlib.pyplot as plt

    headless = plt.get_backend().lower() in _NON_INTERACTIVE
    out = args.out or ("dashboard.png" if headless else None)
    if not headless:
        dashboard.figure = plt.figure("MQTT dashboard", figsize=(8, 4.5))
        dashboard.render()
        plt.show(block=False)
    total, unsaved, saved_at = 0, False, 0.0
    try:
        while not args.count or total < args.count:
            if headless:
                arrived.wait(0.5)
                arrived.clear()
            else:
                if not plt.fignum_exists(dashboard.figure.number):  # type: ignore[union-attr]
                    break  # the window was closed
                plt.pause(0.5)  # draws and runs the GUI's events on this (main) thread
            new = dashboard.drain()
            if new:
                total += new
                unit = dashboard.last["unit"] if dashboard.last else ""
                for value in list(dashboard.values)[-new:]:
                    print(f"Received: {value} {unit}".rstrip(), flush=True)
                if not headless:
                    dashboard.render()
            unsaved = unsaved or bool(new)
            # Headless: a picture per second at most is plenty for a file someone watches.
            if headless and unsaved and time.monotonic() - saved_at >= 1.0:
                dashboard.save_png(out)  # type: ignore[arg-type]
                unsaved, saved_at = False, time.monotonic()
    except KeyboardInterrupt:
        pass
    finally:
        client.disconnect()
        client.loop_stop()
    if out:
        if unsaved or not saved_at:  # not again when the loop has just saved it
            dashboard.save_png(out)
        print(f"Saved {out} ({total} readings, {len(dashboard.alerts)} alerts)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
