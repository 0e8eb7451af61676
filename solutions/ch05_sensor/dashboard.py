"""Chapter 5 - the dashboard: receive on paho's thread, draw on yours.

The seed's dashboard redrew a matplotlib plot inside on_message. That runs
on paho's network thread, and GUI toolkits (Tk, Qt, macOS) may only be used
from the main thread: the window freezes or the program crashes, and while
it draws, no MQTT packet is read. The cure is the classic hand-over:

    paho's thread:  on_message -> decode_reading -> queue.Queue.put   (fast, never draws)
    your thread:    drain() -> window of values -> render() -> screen or PNG

- A payload that is not a reading (garbage, or the empty payload a cleared
  retained message delivers) is counted in `rejected` and never raised:
  an exception in on_message would kill paho's thread.
- The window is a collections.deque(maxlen=...): old values fall out.
- Readings outside [low, high] are alerts (either limit may be None).
- render() builds a matplotlib.figure.Figure without pyplot: no global state,
  safe on any thread, fine in tests (Agg). main() shows it in a window with
  plt.pause(), or writes a PNG when there is no display.

Implement the Dashboard class and main (the seed's live plot).
"""

from __future__ import annotations

import argparse
import queue
import statistics
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from paho.mqtt.enums import CallbackAPIVersion

from .sensor import decode_reading

_NON_INTERACTIVE = {"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"}


class Dashboard:
    """The last `maxlen` readings of a sensor, their statistics, alerts and a figure."""

    def __init__(
        self, maxlen: int = 50, low: float | None = None, high: float | None = None
    ) -> None:
        self.maxlen, self.low, self.high = maxlen, low, high
        self.values: deque[float] = deque(maxlen=maxlen)
        self.rejected = 0
        self.alerts: list[dict] = []
        self.last: dict | None = None
        # render() draws here; main() swaps in a pyplot window when there is a display.
        self.figure: Figure | None = None
        self._times: deque[float] = deque(maxlen=maxlen)
        self._inbox: queue.Queue[dict] = queue.Queue()

    def on_message(self, client, userdata, msg) -> None:
        """paho's callback: decode and enqueue, nothing else (this is paho's thread)."""
        try:
            reading = decode_reading(msg.payload)
        except ValueError:
            self.rejected += 1
            return
        self._inbox.put(reading)

    def _is_alert(self, value: float) -> bool:
        return (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        )

    def drain(self) -> int:
        """Move the queued readings into the window (on the caller's thread); how many."""
        moved = 0
        while True:
            try:
                reading = self._inbox.get_nowait()
            except queue.Empty:
                return moved
            self.values.append(reading["value"])
            self._times.append(reading["ts"])
            self.last = reading
            if self._is_alert(reading["value"]):
                self.alerts.append(reading)
            moved += 1

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


def _subscribe(client: mqtt.Client, host: str, port: int, topic: str, timeout: float) -> None:
    """Connect and subscribe from on_connect; return once the SUBACK arrived."""
    subscribed = threading.Event()
    refused: list[str] = []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
            subscribed.set()
            return
        client.subscribe(topic, qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:
        if reason_codes and reason_codes[0].is_failure:
            refused.append(f"subscription refused: {reason_codes[0]}")
        subscribed.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.connect_timeout = timeout
    client.connect(host, port, keepalive=60)
    client.loop_start()
    if not subscribed.wait(timeout) or refused:
        client.disconnect()
        client.loop_stop()
        why = refused[0] if refused else f"no SUBACK within {timeout} s"
        raise ConnectionError(f"{host}:{port}: {why} for {topic!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """The seed's live plot: a window redrawn with plt.pause(), or a PNG when headless."""
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

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"kata-dashboard-{uuid.uuid4().hex[:8]}"
    )
    client.on_message = on_message
    try:
        _subscribe(client, args.host, args.port, args.topic, timeout=5.0)
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
                    print(f"Received: {value} {unit}", flush=True)
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
        dashboard.save_png(out)
        print(f"Saved {out} ({total} readings, {len(dashboard.alerts)} alerts)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
