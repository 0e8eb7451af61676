"""How fast the kata is, measured (not asserted): python bench/speed.py [--runs N] [--docker]

Prints a Markdown table of medians:
- broker start, local binary and Docker (image present), until the first CONNACK;
- one publish -> receive round trip through the broker;
- one exercise's tests from the command line (a fresh pytest process);
- each chapter, and the whole suite, against the reference answers and the stubs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kata.core import brokers  # noqa: E402
from kata.core.catalog import load  # noqa: E402
from kata.core.probe import Probe  # noqa: E402


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms" if samples else "n/a"


def median_s(samples: list[float]) -> str:
    return f"{statistics.median(samples):.2f} s" if samples else "n/a"


def time_broker_start(kind: str, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            broker = brokers.start(brokers.Choice(kind, "bench"), Path(tmp))
            samples.append(time.perf_counter() - start)
            broker.close()
    return samples


def time_round_trip(runs: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        broker = brokers.start_local(Path(tmp), listeners=("mqtt",))
        try:
            with Probe(broker.host, broker.port) as probe:
                probe.subscribe("bench/rt", qos=0)
                samples = []
                for _ in range(runs * 50):
                    start = time.perf_counter()
                    probe.publish("bench/rt", b"x", qos=0)
                    probe.get()
                    samples.append(time.perf_counter() - start)
        finally:
            broker.close()
    return samples


def time_pytest(args: list[str], runs: int, broker: str = "local") -> list[float]:
    env = dict(os.environ, KATA_BROKER=broker, MPLBACKEND="Agg")
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=False,
        )
        samples.append(time.perf_counter() - start)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--docker", action="store_true", help="also time the Docker broker")
    args = parser.parse_args()
    catalog = load()
    rows: list[tuple[str, str]] = []
    rows.append(
        ("local broker start (to first CONNACK)", median_ms(time_broker_start("local", args.runs)))
    )
    if args.docker:
        rows.append(
            (
                "docker broker start (image present)",
                median_s(time_broker_start("docker", args.runs)),
            )
        )
    rows.append(
        (
            "publish -> receive round trip, QoS 0",
            f"{statistics.median(time_round_trip(args.runs)) * 1e6:.0f} µs",
        )
    )
    first = catalog.exercises()[0]
    rows.append(
        (
            f"one exercise from the command line ({first.module}, solutions)",
            median_s(time_pytest([first.tests, "--target", "solutions"], args.runs)),
        )
    )
    for chapter in catalog.chapters:
        files = [ex.tests for ex in chapter.exercises]
        if files:
            rows.append(
                (
                    f"{chapter.id}, solutions",
                    median_s(time_pytest([*files, "--target", "solutions"], args.runs)),
                )
            )
    every = [ex.tests for ex in catalog.exercises()]
    rows.append(
        (
            "all chapters, solutions",
            median_s(time_pytest([*every, "--target", "solutions"], args.runs)),
        )
    )
    rows.append(
        (
            "all chapters, stubs (--stubs-must-fail)",
            median_s(time_pytest([*every, "--stubs-must-fail"], args.runs)),
        )
    )
    rows.append(
        (
            "whole suite incl. harness tests, solutions",
            median_s(time_pytest(["--target", "solutions"], args.runs)),
        )
    )

    mosquitto = brokers.mosquitto_version(brokers.find_mosquitto() or "mosquitto")
    print(
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {mosquitto}; median of {args.runs} runs\n"
    )
    print("| what | time |\n|---|---|")
    for what, value in rows:
        print(f"| {what} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
