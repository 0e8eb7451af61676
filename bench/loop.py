"""The learner loop, measured (not asserted): python bench/loop.py [--runs N] [--only NAME...]

Prints each figure next to its goal (issue 14, "a learner loop under a second"):

  exercise   one exercise from the command line against its solution (fresh process)
  chapters   every chapter test against the solutions (--ignore=tests/harness)
  solutions  what `tox -e solutions` runs: chapter and harness tests (slow: --only solutions)
  watch      `kata watch`: a save until the result line, watchfiles and polling
  mistakes   each classic beginner mistake: until `kata check NAME` names it

Medians of --runs runs; the machine is shared, so read them as a range.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kata.core import brokers  # noqa: E402

PUBLISHER = "tests/ch03_clients/test_publisher.py"


def _env(**extra: str) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE: a learner's shell does not set it, and without the
    # .pyc files every run would compile (and pytest re-rewrite) the tests again.
    drop = ("KATA_TARGET", "PYTEST_ADDOPTS", "KATA_BROKER_JSON", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(PYTHONUTF8="1", MPLBACKEND="Agg", KATA_LANG="en")
    env.update(extra)
    return env


def timed(argv: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env or _env(), capture_output=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        tail = proc.stdout.decode(errors="replace")[-800:] + proc.stderr.decode(errors="replace")
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{tail[-1500:]}")
    return seconds


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def row(what: str, seconds: float, goal: float, spread: list[float] | None = None) -> str:
    verdict = "ok" if seconds <= goal else "OVER"
    around = f" ({min(spread):.2f}-{max(spread):.2f})" if spread and len(spread) > 1 else ""
    return f"| {what} | {seconds:.2f} s{around} | <= {goal:g} s | {verdict} |"


# --- one exercise, the chapters, tox -e solutions -----------------------------


def bench_exercise(runs: int) -> list[str]:
    argv = [sys.executable, "-m", "pytest", PUBLISHER, "--target", "solutions", "-q"]
    rows = []
    for label, env in (
        ("one exercise, command line, broker auto", _env()),
        ("one exercise, command line, KATA_BROKER=local", _env(KATA_BROKER="local")),
    ):
        samples = [timed(argv, env=env) for _ in range(runs)]
        rows.append(row(label, median(samples), 1.0, samples))
    return rows


def _parallel() -> list[tuple[str, list[str]]]:
    """Serial, and with pytest-xdist's workers (one per core and one more) when installed."""
    ways = [("", [])]
    if importlib.util.find_spec("xdist") is not None:
        ways.append((", -n auto", ["-n", "auto"]))
    return ways


def bench_chapters(runs: int) -> list[str]:
    argv = [sys.executable, "-m", "pytest", "--target", "solutions", "--ignore=tests/harness"]
    rows = []
    for label, extra in _parallel():
        env = _env(KATA_BROKER="local")
        samples = [timed([*argv, "-q", *extra], env=env) for _ in range(runs)]
        what = f"all chapters against the solutions (local broker{label})"
        rows.append(row(what, median(samples), 8, samples))
    return rows


def bench_solutions(runs: int) -> list[str]:
    argv = [sys.executable, "-m", "pytest", "--target", "solutions", "-q"]
    rows = []
    for label, extra in _parallel():
        extra = [*extra, "--dist", "loadfile"] if extra else extra  # as tox.ini
        samples = [timed([*argv, *extra], env=_env(KATA_BROKER="local")) for _ in range(runs)]
        what = f"tox -e solutions: chapters + harness tests{label}"
        rows.append(row(what, median(samples), 40, samples))
    return rows


# --- kata watch: save -> result -------------------------------------------------


def _harness_conftest() -> object:
    """tests/harness/conftest.py: one recipe for a throwaway copy of the kata."""
    harness = ROOT / "tests" / "harness"
    # Its own imports (shipped.py) sit beside it, as pytest finds them.
    if str(harness) not in sys.path:
        sys.path.insert(0, str(harness))
    spec = importlib.util.spec_from_file_location("kata_harness_conftest", harness / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def sandbox(*chapters: str) -> Iterator[Path]:
    """A copy of the kata (only `chapters`, default chapter 3), the exercises as shipped."""
    tmp = Path(tempfile.mkdtemp(prefix="kata-bench-"))
    harness = _harness_conftest()
    try:
        harness.copy_kata(tmp, chapters or ("ch03_clients",))  # type: ignore[attr-defined]
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Lines:
    """A process's output lines, read on a thread, waited for with a timeout."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.perf_counter(), line.rstrip("\n")))

    def wait_for(self, found: Callable[[str], bool], timeout: float = 60) -> float:
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError("no such line")
            try:
                when, line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if found(line):
                return when


def bench_watch(runs: int) -> list[str]:
    rows = []
    for label, flag in (("watchfiles", []), ("--poll", ["--poll"])):
        samples = []
        with sandbox() as root:
            target = root / "exercises" / "ch03_clients" / "publisher.py"
            stub = target.read_text(encoding="utf-8")
            proc = subprocess.Popen(
                [sys.executable, "-m", "kata.cli", "watch", "publisher", *flag],
                cwd=root,
                env=_env(KATA_BROKER="local", PYTHONUNBUFFERED="1"),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
            )
            lines = Lines(proc)
            try:
                lines.wait_for(lambda line: line.startswith("watching exercises/"))
                for n in range(runs):
                    time.sleep(0.6)  # the warm worker of the previous run is ready
                    while not lines.lines.empty():  # what came before this save
                        lines.lines.get_nowait()
                    saved = time.perf_counter()
                    # The stub again, changed: the run fails at its first test,
                    # as a learner's runs mostly do. Each save changes the size:
                    # watchfiles' polling sees mtimes to the second only.
                    target.write_text(stub + "#" * (n + 1) + "\n", encoding="utf-8")

                    def result(line: str) -> bool:
                        return line.startswith("kata watch:") and " run " in line

                    when = lines.wait_for(result)
                    samples.append(when - saved)
                    lines.wait_for(lambda line: line.startswith("watching exercises/"))
            finally:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)
                if proc.poll() is None:
                    proc.kill()
        rows.append(row(f"kata watch, save -> result ({label})", median(samples), 0.4, samples))
    return rows


# --- the classic mistakes: until they are named ---------------------------------


def _mistakes() -> dict[str, object]:
    """tests/harness/mistakes.py's MISTAKES: the broken answers the harness tests use."""
    spec = importlib.util.spec_from_file_location(
        "kata_harness_mistakes", ROOT / "tests" / "harness" / "mistakes.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.MISTAKES


def bench_mistakes(runs: int) -> list[str]:
    """`kata check EXERCISE` on a broken answer: until the cause is printed (the run's end)."""
    rows = []
    for name, mistake in _mistakes().items():
        samples = []
        with sandbox() as root:
            answer = (ROOT / "solutions" / mistake.module).read_text(encoding="utf-8")
            for old, new in mistake.edits:
                assert old in answer, f"{old!r} not in solutions/{mistake.module}"
                answer = answer.replace(old, new, 1)
            (root / "exercises" / mistake.module).write_text(answer, "utf-8")
            exercise = mistake.module.split("/")[1].removesuffix(".py")
            for _ in range(runs):
                start = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-m", "kata.cli", "check", exercise],
                    cwd=root,
                    env=_env(KATA_BROKER="local"),
                    capture_output=True,
                    text=True,
                    encoding="utf-8",
                    check=False,
                )
                samples.append(time.perf_counter() - start)
                if mistake.named not in proc.stdout:
                    samples[-1] = float("inf")
                    print(f"[{name}] not named ({mistake.named!r}):\n{proc.stdout[-1500:]}")
        goal = 8.0 if "never returns" in name else 3.0  # a hang: the 7 s limit, then named
        rows.append(row(f"mistake named by kata check: {name}", median(samples), goal, samples))
    return rows


BENCHES = {
    "exercise": bench_exercise,
    "chapters": bench_chapters,
    "watch": bench_watch,
    "mistakes": bench_mistakes,
    "solutions": bench_solutions,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--only",
        nargs="*",
        choices=list(BENCHES),
        default=["exercise", "chapters", "watch", "mistakes"],
    )
    args = parser.parse_args()
    mosquitto = brokers.mosquitto_version(brokers.find_mosquitto() or "mosquitto")
    print(
        f"Machine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, {mosquitto}; "
        f"median (min-max) of {args.runs} runs\n"
    )
    print("| what | time | goal | |\n|---|---|---|---|")
    for name in args.only:
        runs = 1 if name == "solutions" else args.runs  # about a minute a run, -n auto
        for line in BENCHES[name](runs):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
