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
Check your work: `kata check dashboard` (or: pytest tests/ch05_sensor/test_dashboard.py).
日本語のヒント: `kata hint dashboard --lang ja`
"""

from __future__ import annotations

import argparse
import queue
import statistics
import threading
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


class Dashboard:
    """The last `maxlen` readings of a sensor, their statistics, alerts and a figure.

    Attributes the tests read: values (a deque of the last `maxlen` reading
    values, floats, oldest first), rejected (int), alerts (list of reading dicts).
    Keep whatever else you need (timestamps, the last reading, a queue.Queue).
    """

    def __init__(
        self, maxlen: int = 50, low: float | None = None, high: float | None = None
    ) -> None:
        raise NotImplementedError("TODO: values = deque(maxlen=maxlen), rejected, alerts, a queue")

    def on_message(self, client, userdata, msg) -> None:
        """paho's callback (paho's thread): decode msg.payload and enqueue, nothing else.

        A payload decode_reading refuses adds 1 to `rejected`; never raise.
        The window does not change here: that is drain()'s job.
        """
        raise NotImplementedError("TODO: decode_reading, queue.put; ValueError -> rejected += 1")

    def drain(self) -> int:
        """Move every queued reading into the window, on the caller's thread; return how many.

        A reading whose value is below `low` or above `high` (the limits
        themselves are fine; None means no limit) is also appended to `alerts`.
        """
        raise NotImplementedError("TODO: get_nowait until queue.Empty; append values and alerts")

    def stats(self) -> dict:
        """{"count", "min", "max", "mean", "last"} over the window.

        For an empty window: count 0 and None for the others.
        """
        raise NotImplementedError("TODO: count/min/max/mean/last of list(self.values)")

    def render(self) -> Figure:
        """A matplotlib Figure (matplotlib.figure.Figure(), no pyplot) of the window.

        One axes with: the window's values as a line (y data equal to `values`,
        x the reading times), the x label naming time, the y label naming the
        unit, a title naming the sensor and the unit, and a horizontal line at
        each limit that is set (ax.axhline; shading the band between them with
        ax.axhspan is nice). Before any reading it still returns a figure.
        Tip: keep the Figure in an attribute and clear() it on each call, so
        main() can hand it a pyplot window to draw in.
        """
        raise NotImplementedError("TODO: Figure(), add_subplot, plot, labels, title, axhline")

    def save_png(self, path: str | Path) -> None:
        """Write render() to `path` as a PNG image (Figure.savefig)."""
        raise NotImplementedError("TODO: self.render().savefig(path, format='png')")


def main(argv: Sequence[str] | None = None) -> int:
    """The seed's live plot, drawn on the main thread.

    Options: --host (localhost) --port (1883) --topic (sensors/room1/temperature)
    --maxlen (50) --low --high (no limits) --count (0 = until Ctrl-C) --out (PNG path).
    Subscribe (QoS 1, from on_connect) with a Dashboard's on_message; once the
    SUBACK is in, print "Subscribed to '<topic>' on <host>:<port>; Ctrl-C to stop".
    Then loop: drain(), print "Received: 23.41 °C" for each new value, redraw.
    With a display (import matplotlib.pyplot as plt; plt.get_backend() is not
    "agg"), draw in a window and wait with plt.pause(0.5); without one, wait
    for the next message and write the PNG (--out, default dashboard.png)
    instead. Stop after --count readings, on Ctrl-C or when the window is
    closed; write --out if given, disconnect and return 0. Return 1 after
    printing "error: ..." when the broker cannot be reached.
    """
    raise NotImplementedError("TODO: argparse, subscribe, loop: drain, print, redraw or save")


if __name__ == "__main__":
    raise SystemExit(main())
