"""Flake soak: run the reference answers' tests N times in random orders.

    python bench/soak.py [--rounds 30] [--seed N] [--busy] [--broker local] [pytest paths...]

Each round is a fresh pytest process with --shuffle <seed>, so tests run in a
new order every time. The round seeds come from --seed, a fresh one by
default (printed first: run again with it to replay the same orders).
--busy keeps one core busy with a spinning process, as another program on a
learner's laptop would. Prints failures per test and exits non-zero when any
test failed in any round. Target: zero.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPIN = "import time\nend = time.monotonic() + 3600\nwhile time.monotonic() < end: pass\n"


def round_seeds(seed: int, rounds: int) -> list[int]:
    """The --shuffle seed of each round, all drawn from one seed."""
    draw = random.Random(seed)
    return [draw.randrange(2**32) for _ in range(rounds)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--seed", type=int, default=None, help="replay the rounds of an earlier soak (printed)"
    )
    parser.add_argument("--busy", action="store_true", help="keep one core busy meanwhile")
    parser.add_argument("--broker", default="local")
    parser.add_argument("paths", nargs="*", help="test paths (default: every chapter)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**32)
    print(f"soak seed {seed} (python bench/soak.py --seed {seed} replays these orders)", flush=True)
    sys.path.insert(0, str(ROOT))
    from kata.core.catalog import load

    paths = args.paths or [ex.tests for ex in load().exercises()]
    spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if args.busy else None
    failures: collections.Counter[str] = collections.Counter()
    messages: dict[str, str] = {}
    runs = tests_run = 0
    started = time.monotonic()
    try:
        for round_no, shuffle in enumerate(round_seeds(seed, args.rounds), 1):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "results.json"
                proc = subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                     "--target", "solutions", "--broker", args.broker,
                     "--shuffle", str(shuffle), "--kata-json", str(out), *paths],
                    cwd=ROOT, capture_output=True, text=True, check=False,
                    env=dict(os.environ, MPLBACKEND="Agg"),
                )  # fmt: skip
                if not out.exists():
                    print(f"round {round_no}: pytest did not finish (exit {proc.returncode})")
                    print(proc.stdout[-2000:], proc.stderr[-2000:])
                    failures["<whole run>"] += 1
                    continue
                data = json.loads(out.read_text(encoding="utf-8"))
            runs += 1
            for test in data["tests"]:
                tests_run += 1
                if test["status"] in ("fail", "error"):
                    failures[test["nodeid"]] += 1
                    messages[test["nodeid"]] = test["message"]
            bad = sum(t["status"] in ("fail", "error") for t in data["tests"])
            count = len(data["tests"])
            print(f"round {round_no:>3} (seed {shuffle}): {count} tests, {bad} failed", flush=True)
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    elapsed = time.monotonic() - started
    busy = " with one core kept busy" if args.busy else ""
    print(f"\n{runs} rounds, {tests_run} test runs in random orders{busy}, {elapsed:.0f} s")
    print(f"seed {seed}")
    if not failures:
        print("failures: none")
        return 0
    print("| test | failed rounds | last message |\n|---|---|---|")
    for nodeid, count in failures.most_common():
        print(f"| {nodeid} | {count} | {messages.get(nodeid, '')[:80]} |")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
