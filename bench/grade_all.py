"""How fast `kata grade-all` grades a class, boxed and not (measured, not asserted).

    python bench/grade_all.py [--submissions 8] [--jobs 1 2] [--isolation none bwrap]
                              [--chapters ch03_clients ...] [--runs 20] [--paired 4]

Builds a synthetic class from this kata: in turn untouched stubs, every
exercise solved (the reference answer plus a line of the learner's own), half
solved, broken (a syntax error in one exercise, a deleted file) and tampered
(a test edited), and grades it once per --isolation and --jobs. Prints a
Markdown table of seconds and submissions per minute, the one-time
environment check, and the cost of the box alone (a Python that does nothing,
started --runs times in each box). --paired N grades one solved submission N
times in each box, taking turns, so that a busy machine slows every box alike:
the difference of the medians is the box's cost per submission.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kata.core.catalog import CATALOG_RELPATH, load, parse  # noqa: E402
from kata.teacher import box as boxes  # noqa: E402
from kata.teacher import classroom  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "harness"))
from shipped import shrink_catalog  # noqa: E402  (the harness tests' own recipe)

KINDS = ("stubs", "solved", "half", "broken", "tampered")


def make_grader(dest: Path, chapters: list[str] | None) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "harness", ".pytest_cache")
    for name in ("kata", "exercises", "solutions", "tests", "docker"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("conftest.py", "pyproject.toml", "tox.ini"):
        shutil.copy(ROOT / name, dest / name)
    if chapters:
        shrink_catalog(dest, tuple(chapters))
    return dest


def make_class(grader: Path, dest: Path, count: int) -> None:
    catalog = parse((grader / CATALOG_RELPATH).read_text(encoding="utf-8"))
    exercises = catalog.exercises()
    for n in range(count):
        kind = KINDS[n % len(KINDS)]
        learner = dest / f"{n:02d}_{kind}"
        shutil.copytree(grader, learner, ignore=shutil.ignore_patterns("solutions"))
        solved = {"solved": exercises, "half": exercises[: len(exercises) // 2]}.get(kind, [])
        for ex in solved:
            answer = (grader / ex.relpath("solutions")).read_text(encoding="utf-8")
            (learner / ex.relpath("exercises")).write_text(
                answer + f'\n\nAUTHOR = "{learner.name}"\n', encoding="utf-8"
            )
        if kind == "broken":
            (learner / exercises[0].relpath("exercises")).write_text("def (:\n", "utf-8")
            (learner / exercises[-1].relpath("exercises")).unlink()
        if kind == "tampered":
            test = learner / exercises[0].tests
            test.write_text(test.read_text("utf-8") + "\n# edited\n", encoding="utf-8")


def box_alone(isolation: str, runs: int) -> list[float]:
    """Seconds to run a Python that does nothing in the box (supervisor included)."""
    box = boxes.choose(isolation, trusted=True)
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "work"
        shutil.copytree(ROOT / "kata", work / "kata", ignore=shutil.ignore_patterns("__pycache__"))
        for _ in range(runs):
            started = time.perf_counter()
            box.run(
                [boxes.PYTHON, "-c", "pass"],
                work,
                boxes.Limits(),
                collect=Path(tmp) / "results",
                log=Path(tmp) / "log",
            )
            samples.append(time.perf_counter() - started)
    return samples


def paired(args: argparse.Namespace) -> None:
    """One solved submission, graded in each box in turn: the medians and their difference."""
    with tempfile.TemporaryDirectory() as tmp:
        grader = make_grader(Path(tmp) / "grader", args.chapters)
        make_class(grader, Path(tmp) / "class", 2)
        solved = Path(tmp) / "class" / "01_solved"
        catalog = parse((grader / CATALOG_RELPATH).read_text(encoding="utf-8"))
        batches = {}
        for isolation in args.isolation:
            settings = classroom.Settings(
                grader,
                catalog,
                Path(tmp) / f"out-{isolation}",
                broker="local",
                isolation=isolation,
                trusted=True,
            )
            batches[isolation] = (settings, classroom.prepare(settings))
        samples: dict[str, list[float]] = {i: [] for i in args.isolation}
        for _ in range(args.paired):
            for isolation, (settings, batch) in batches.items():
                started = time.perf_counter()
                row = classroom.grade_submission("solved", solved, settings, batch)
                samples[isolation].append(time.perf_counter() - started)
                assert row.status == "ok", row
    print(f"| one solved submission, {args.paired} turns | median | min |\n|---|---|---|")
    for isolation, times in samples.items():
        print(f"| {isolation} | {statistics.median(times):.1f} s | {min(times):.1f} s |")
    if "none" in samples:
        base = statistics.median(samples["none"])
        for isolation, times in samples.items():
            if isolation != "none":
                extra = statistics.median(times) - base
                print(f"\n{isolation}: {extra:+.2f} s per submission (difference of the medians)")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=8)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--isolation", nargs="+", default=["none", "bwrap"])
    parser.add_argument("--chapters", nargs="*", default=None)
    parser.add_argument("--runs", type=int, default=20, help="runs of the empty box")
    parser.add_argument("--paired", type=int, default=0, help="turns of one submission per box")
    args = parser.parse_args()
    os.environ.setdefault("KATA_LANG", "en")
    print(
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| box alone (python -c pass) | median |\n|---|---|")
    for isolation in args.isolation:
        samples = box_alone(isolation, args.runs)
        print(f"| {isolation} | {statistics.median(samples) * 1000:.0f} ms |")
    print()
    if args.paired:
        paired(args)
    if args.submissions < 1:
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        grader = make_grader(Path(tmp) / "grader", args.chapters)
        make_class(grader, Path(tmp) / "class", args.submissions)
        catalog = parse((grader / CATALOG_RELPATH).read_text(encoding="utf-8"))
        outputs = {}
        for isolation in args.isolation:
            for jobs in args.jobs:
                out = Path(tmp) / f"out-{isolation}-{jobs}"
                settings = classroom.Settings(
                    grader, catalog, out, broker="local", isolation=isolation, trusted=True
                )
                started = time.perf_counter()
                batch = classroom.prepare(settings)
                check = time.perf_counter() - started
                started = time.perf_counter()
                classroom.grade_all(Path(tmp) / "class", settings, jobs=jobs, batch=batch)
                seconds = time.perf_counter() - started
                outputs[(isolation, jobs)] = (out / "class.csv").read_text(encoding="utf-8")
                rows.append((isolation, jobs, check, seconds))
                print(f"  {isolation} --jobs {jobs}: {seconds:.0f} s", file=sys.stderr, flush=True)
        same = len(set(outputs.values())) == 1
    n = args.submissions
    chapters = ", ".join(args.chapters) if args.chapters else f"all {len(load().chapters)}"
    print(f"{n} submissions ({', '.join(KINDS)}), chapters: {chapters}\n")
    print("| isolation | --jobs | environment check | grading | per submission | per minute |")
    print("|---|---|---|---|---|---|")
    for isolation, jobs, check, seconds in rows:
        print(
            f"| {isolation} | {jobs} | {check:.1f} s | {seconds:.0f} s | {seconds / n:.1f} s | "
            f"{n / seconds * 60:.1f} |"
        )
    by = {(i, j): s for i, j, _, s in rows}
    for jobs in args.jobs:
        if ("none", jobs) in by and ("bwrap", jobs) in by:
            extra = (by[("bwrap", jobs)] - by[("none", jobs)]) / n
            print(f"\nbox overhead, --jobs {jobs}: {extra:+.2f} s per submission")
    print(f"\nclass.csv the same in every run: {'yes' if same else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
