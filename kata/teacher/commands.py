"""The teacher's and maintainer's `kata` commands: grade, grade-all, classroom, verify."""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

from kata.core.catalog import ROOT, Catalog
from kata.core.i18n import pick_language, t
from kata.core.results import FAILING, Category, Outcome, Results, markdown_report, score
from kata.core.results import load as load_results
from kata.core.target import TREES
from kata.learner.progress import run_pytest, run_results
from kata.teacher import classroom

GRADE_TIMEOUT = 30 * 60  # a whole grading run, in seconds
Command = Callable[[argparse.Namespace, Catalog], int]


def _pytest(
    args: argparse.Namespace, argv: list[str], out: Path, timeout: float
) -> tuple[int, str]:
    # grade-all adds a test of its own that must fail (kata/teacher/checks.py: Canary).
    argv += [args.canary] if args.canary else []
    argv += ["-q", "-o", f"kata_hang_after={args.hang_after}"]
    try:
        return run_pytest(argv, target=args.target, json_out=out, quiet=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "time limit exceeded"


def cmd_grade(args: argparse.Namespace, catalog: Catalog) -> int:
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, junit = out_dir / "results.json", out_dir / "junit.xml"
    files = [ex.tests for ex in catalog.exercises()]
    code, _ = _pytest(args, [*files, "--tb=line", f"--junitxml={junit}"], json_path, GRADE_TIMEOUT)
    failed_env = load_results(json_path).error if json_path.exists() else ""
    if failed_env:
        # No broker, no test: a failing environment is never a score.
        json_path.unlink()
        print(failed_env.strip(), file=sys.stderr)
        return 2
    if code not in (0, 1) or not json_path.exists():
        # A crash took the whole run down: grade exercise by exercise, so
        # only the one that crashes loses its points.
        results = _grade_one_by_one(catalog, args, out_dir)
    else:
        results = load_results(json_path)
        results.integrity += _exit_zero(args, code)
    json_path.write_text(results.as_json(), encoding="utf-8")
    report = markdown_report(results, catalog, pick_language(None))
    (out_dir / "report.md").write_text(report, encoding="utf-8")
    print(report)
    print(t("grade.written", json=json_path, junit=junit, report=out_dir / "report.md"))
    return 0


def _exit_zero(args: argparse.Namespace, code: int) -> list[str]:
    """pytest's exit code is 1 in a run with grade-all's check test, which must fail."""
    return (
        ["the test run ended with exit code 0, yet a test must fail"]
        if args.canary and not code
        else []
    )


def _grade_one_by_one(catalog: Catalog, args: argparse.Namespace, out_dir: Path) -> Results:
    tests, crashed, integrity, cases = [], {}, [], ElementTree.Element("testsuite", name="pytest")
    for ex in catalog.exercises():
        part, junit = out_dir / f"results-{ex.id}.json", out_dir / f"junit-{ex.id}.xml"
        code, output = _pytest(args, [ex.tests, f"--junitxml={junit}"], part, GRADE_TIMEOUT / 4)
        with contextlib.suppress(ElementTree.ParseError, OSError):
            cases.extend(ElementTree.parse(junit).iter("testcase"))
        junit.unlink(missing_ok=True)
        try:
            tests += load_results(part).tests
            integrity += [] if integrity else _exit_zero(args, code)  # once is enough
        except FileNotFoundError:
            # No results: the signal that ended it (a box's limit), else its last line.
            said = (output.strip().splitlines() or [f"exit code {code}"])[-1]
            if code < 0 and -code in signal.valid_signals():
                said = f"killed by {signal.Signals(-code).name}"
            crashed[ex.id] = said
        except (OSError, ValueError, TypeError, KeyError) as exc:
            # Written only in part (the disk was full, the run was killed while writing).
            crashed[ex.id] = f"no readable results: {type(exc).__name__}: {exc}"[:200]
        part.unlink(missing_ok=True)
    exercises = score(tests, catalog)
    for e in exercises:
        if e.id in crashed:
            e.earned = e.passed = e.total = e.skipped = 0
            e.status, e.first_failure = FAILING, f"crashed: {crashed[e.id]}"
    # One junit.xml for the whole run, as a run of all exercises writes.
    suites = ElementTree.Element("testsuites")
    suites.append(cases)
    ElementTree.ElementTree(suites).write(out_dir / "junit.xml", encoding="utf-8")
    broker = "(one run per exercise)"
    return Results(
        1, args.target, broker, "fail", tests=tests, exercises=exercises, integrity=integrity
    )


def cmd_verify(args: argparse.Namespace, catalog: Catalog) -> int:
    files = [ex.tests for ex in catalog.exercises()]
    solutions = run_results([*files, "-q"], target="solutions")[2]
    stubs = run_results([*files, "-q", "--stubs-must-fail"])[2]
    if solutions is None or stubs is None:
        print("kata verify: a run did not finish; run tox -e solutions,stubs to see why")
        return 1
    problems = 0
    print(f"{'exercise':<28} {'solution':<22} stub")
    for ex in catalog.exercises():
        s_tests = [r for r in solutions.tests if r.exercise == ex.id]
        x_tests = [r for r in stubs.tests if r.exercise == ex.id]
        s_bad = [r for r in s_tests if r.status in (Outcome.FAIL, Outcome.ERROR)]
        x_bad = [r for r in x_tests if r.status != Outcome.SKIP and r.category != Category.NOT_DONE]
        s_pass, s_skip = (sum(r.status == o for r in s_tests) for o in (Outcome.PASS, Outcome.SKIP))
        skipped = f" ({s_skip} skipped)" if s_skip else ""
        s_text = f"{s_pass}/{len(s_tests) - s_skip} pass{skipped}" if s_tests else "NO TESTS"
        x_text = "all fail" if x_tests and not x_bad else f"{len(x_bad)} do not fail"
        ok = s_tests and not s_bad and x_tests and not x_bad
        problems += not ok
        print(f"{ex.id:<28} {s_text:<22} {x_text}{'' if ok else '   <- fix'}")
        for bad in (s_bad + x_bad)[:5]:
            reason = bad.message.splitlines()[0] if bad.message else bad.status
            print(f"    {bad.name}: {reason}")
    print("\nverify: OK" if not problems else f"\nverify: {problems} exercise(s) need work")
    return 1 if problems else 0


def cmd_classroom(args: argparse.Namespace, catalog: Catalog) -> int:
    for path in classroom.write_github_files(ROOT, catalog):
        print(t("classroom.written", path=path))
    return 0


def register(command: Callable[[str, str], argparse.ArgumentParser]) -> dict[str, Command]:
    """Add the teacher's subcommands through `command(name, help)`; returns their handlers."""
    grade = command("grade", t("help.grade"))
    grade.add_argument("--out", default="kata-results", help=t("help.grade.out"))
    grade.add_argument("--target", default=TREES[0], choices=TREES)
    grade.add_argument("--hang-after", type=float, default=10.0, help=t("help.grade.hang_after"))
    grade.add_argument("--canary", default=None, help=argparse.SUPPRESS)  # grade-all's own check
    classroom.add_arguments(command("grade-all", t("help.grade_all")))
    command("classroom", t("help.classroom"))
    command("verify", t("help.verify"))
    return {
        "grade": cmd_grade,
        "grade-all": lambda args, catalog: classroom.run(args),
        "classroom": cmd_classroom,
        "verify": cmd_verify,
    }
