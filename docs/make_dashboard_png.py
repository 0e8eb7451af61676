"""Render docs/dashboard.png, the picture of chapter 5's dashboard shown in the README.

    python docs/make_dashboard_png.py            # writes docs/dashboard.png

Readings go through the same path as live ones (encode_reading -> on_message
-> drain), from a reference solution, with a fixed seed so the picture only
changes when the dashboard does. No broker is needed.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402

from solutions.ch05_sensor.dashboard import Dashboard  # noqa: E402
from solutions.ch05_sensor.sensor import encode_reading, make_reading  # noqa: E402


def _message(payload: bytes) -> mqtt.MQTTMessage:
    msg = mqtt.MQTTMessage(topic=b"sensors/room1/temperature")
    msg.payload = payload
    return msg


def main(out: Path = ROOT / "docs" / "dashboard.png") -> None:
    rng = random.Random(5)
    dashboard = Dashboard(maxlen=50, low=21.0, high=28.0)
    start = 1_700_000_000.0
    for i in range(60):
        value = 24.5 + 3.8 * math.sin(i / 6.0) + rng.uniform(-0.7, 0.7)
        reading = make_reading("room1", value, start + 2.0 * i)
        dashboard.on_message(None, None, _message(encode_reading(reading)))
        if i in (17, 41):
            dashboard.on_message(None, None, _message(b""))  # a cleared retained message
    dashboard.drain()
    dashboard.save_png(out)
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
