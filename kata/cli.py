"""The `kata` command: see where you are, get hints, check, grade, verify.

    kata                       progress table (same as `kata list`)
    kata next                  run the first unfinished exercise, show why it fails, a hint
    kata hint EXERCISE [-l N]  hint N (1 = a nudge ... 3 = nearly the answer)
    kata check EXERCISE        run one exercise's tests (or --chapter N, or everything)
    kata grade [--out DIR]     results.json, junit.xml and report.md for graders
    kata verify                maintainers: every solution passes, every stub fails
    kata grade-all DIR --out D teachers: grade every submission in DIR (docs/grading.md)
    kata watch                 run the current exercise on every save, move on when it passes
    kata explore [--url URL]   a live tree of a broker's topics (like MQTT Explorer)

Every command runs the real tests against a real broker (see README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kata.catalog import ROOT, Catalog, CatalogError, Exercise, load
from kata.i18n import LANGUAGES, configure_utf8_output, pick_language, t
from kata.i18n import mark as mark_word
from kata.results import DONE, FAILING, TODO, Results, explain, markdown_report
from kata.results import load as load_results

CACHE_DIR = ROOT / ".kata"
GRADE_TIMEOUT = 30 * 60  # a whole grading run, in seconds


# The language of this run (set in main from --lang, KATA_LANG or the locale).
LANG = "en"


def _t(key: str, **fields: object) -> str:
    return t(key, LANG, **fields)


def run_pytest(
    args: Sequence[str],
    *,
    target: str = "exercises",
    json_out: Path | None = None,
    quiet: bool = False,
    timeout: float | None = None,
) -> tuple[int, str]:
    """Run the kata's pytest in a fresh process (so edited exercises are re-imported)."""
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--target", target, *args]
    if json_out is not None:
        argv += ["--kata-json", str(json_out)]
    env = dict(
        os.environ,
        PYTHONUTF8="1",
        KATA_LANG=LANG,  # the tests' one-line reasons in the same language
        MPLBACKEND=os.environ.get("MPLBACKEND", "Agg"),
    )
    if quiet:
        proc = subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        return proc.returncode, proc.stdout + proc.stderr
    proc = subprocess.run(argv, cwd=ROOT, env=env, timeout=timeout, check=False)
    return proc.returncode, ""


# --- progress, cached per file content --------------------------------------


def _fingerprint(ex: Exercise, tree: str) -> str:
    digest = hashlib.sha256()
    paths = [ex.source(tree), ROOT / ex.tests]
    # Exercises that import earlier chapters, and the harness itself.
    paths += sorted((ROOT / tree).glob("ch*/*.py")) + sorted((ROOT / "kata").glob("*.py"))
    for path in paths:
        digest.update(path.as_posix().encode())
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def progress(catalog: Catalog, tree: str = "exercises") -> tuple[dict[str, dict], str]:
    """Status per exercise id, from the cache where nothing changed, else from a test run."""
    CACHE_DIR.mkdir(exist_ok=True)
    cache_file = CACHE_DIR / f"progress-{tree}.json"
    try:
        cache = json.loads(cache_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    status: dict[str, dict] = {}
    stale: list[Exercise] = []
    for ex in catalog.exercises():
        fp = _fingerprint(ex, tree)
        if cache.get(ex.id, {}).get("fingerprint") == fp:
            status[ex.id] = cache[ex.id]
        else:
            stale.append(ex)
    output = ""
    if stale:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "results.json"
            code, output = run_pytest(
                [ex.tests for ex in stale], target=tree, json_out=out, quiet=True
            )
            if not out.exists():
                raise SystemExit(_explain_failed_run(code, output))
            results = load_results(out)
        for score in results.exercises:
            entry = {
                "status": score.status,
                "passed": score.passed,
                "total": score.total,
                "first_failure": score.first_failure,
                "fingerprint": _fingerprint(catalog.exercise(score.id), tree),
            }
            status[score.id] = cache[score.id] = entry
        cache_file.write_text(json.dumps(cache, indent=1), encoding="utf-8")
    return status, output


def _explain_failed_run(code: int, output: str) -> str:
    tail = "\n".join(output.strip().splitlines()[-15:])
    return _t("cli.run_failed", code=code) + f"\n{tail}"


def cmd_list(args: argparse.Namespace, catalog: Catalog) -> int:
    status, _ = progress(catalog)
    marks = {DONE: "done", TODO: "todo", FAILING: "fail"}
    next_id = _next_exercise(catalog, status)
    earned = possible = 0
    for chapter in catalog.chapters:
        print(f"{chapter.id}  {chapter.title_in(LANG)}")
        if not chapter.exercises:
            print("    " + _t("list.coming_soon"))
        for ex in chapter.exercises:
            st = status.get(ex.id, {})
            mark = mark_word(marks.get(st.get("status", ""), "skip"), LANG)
            pointer = "->" if ex.id == next_id else "  "
            possible += ex.points
            earned += ex.points if st.get("status") == DONE else 0
            note = st.get("first_failure", "") if st.get("status") == FAILING else ""
            counts = f"{st.get('passed', 0):>2}/{st.get('total', 0):<2}"
            points = _t("list.points_column", points=ex.points)
            row = f"  {pointer}[{mark}] {ex.module:<18} {counts} {points}  {note}"
            print(row[:120])
    print("\n" + _t("list.points", earned=earned, possible=possible))
    if next_id:
        nxt = catalog.exercise(next_id)
        print(_t("list.next", path=nxt.relpath("exercises"), module=nxt.module))
    else:
        print(_t("all_done"))
    return 0


def _next_exercise(catalog: Catalog, status: dict[str, dict]) -> str | None:
    for ex in catalog.exercises():
        if status.get(ex.id, {}).get("status") != DONE:
            return ex.id
    return None


def cmd_next(args: argparse.Namespace, catalog: Catalog) -> int:
    status, _ = progress(catalog)
    next_id = _next_exercise(catalog, status)
    if next_id is None:
        print(_t("all_done"))
        return 0
    ex = catalog.exercise(next_id)
    print(_t("next.header", id=ex.id, path=ex.relpath("exercises")) + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        code, output = run_pytest([ex.tests], json_out=out, quiet=True)
        if not out.exists():
            print(_explain_failed_run(code, output))
            return 1
        results = load_results(out)
    print("\n".join(explain(results.tests, LANG)))
    hints = ex.hints_in(LANG)
    print("\n" + _t("hint.first", count=len(hints), hint=hints[0]))
    if len(hints) > 1:
        print(_t("next.more_hints", module=ex.module))
    failing = [r for r in results.tests if r.status in ("fail", "error")]
    return 0 if not failing else 1


def cmd_hint(args: argparse.Namespace, catalog: Catalog) -> int:
    ex = _find_exercise(catalog, args.exercise)
    hints = ex.hints_in(LANG)
    level = args.level
    if not 1 <= level <= len(hints):
        print(_t("hint.out_of_range", module=ex.module, count=len(hints)), file=sys.stderr)
        return 2
    print(_t("hint.header", id=ex.id, level=level, count=len(hints)) + f"\n\n{hints[level - 1]}")
    if level < len(hints):
        print("\n" + _t("hint.next", module=ex.module, level=level + 1))
    return 0


def _find_exercise(catalog: Catalog, name: str) -> Exercise:
    try:
        return catalog.exercise(name)
    except KeyError:
        known = ", ".join(ex.id for ex in catalog.exercises())
        raise SystemExit(_t("cli.no_exercise", name=name, known=known)) from None


def cmd_check(args: argparse.Namespace, catalog: Catalog) -> int:
    if args.exercise:
        files = [_find_exercise(catalog, args.exercise).tests]
    elif args.chapter:
        try:
            chapter = catalog.chapter(args.chapter)
        except KeyError:
            raise SystemExit(_t("cli.no_chapter", name=args.chapter)) from None
        files = [ex.tests for ex in chapter.exercises]
        if not files:
            print(_t("check.no_exercises", chapter=chapter.id))
            return 0
    else:
        files = [ex.tests for ex in catalog.exercises()]
    code, _ = run_pytest([*files, *args.pytest_args], target=args.target)
    return code


def cmd_grade(args: argparse.Namespace, catalog: Catalog) -> int:
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [ex.tests for ex in catalog.exercises()]
    json_path = out_dir / "results.json"
    junit = out_dir / "junit.xml"
    extra = ["-q", "--tb=line", "-o", f"kata_hang_after={args.hang_after}", f"--junitxml={junit}"]
    try:
        code, _ = run_pytest(
            [*files, *extra],
            target=args.target,
            json_out=json_path,
            quiet=True,
            timeout=GRADE_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        code = -1
    if code not in (0, 1) or not json_path.exists():
        # A crash took the whole run down: grade exercise by exercise, so
        # only the one that crashes loses its points.
        results = _grade_one_by_one(catalog, args, out_dir)
    else:
        results = load_results(json_path)
    json_path.write_text(results.as_json(), encoding="utf-8")
    report = markdown_report(results, catalog, LANG)
    (out_dir / "report.md").write_text(report, encoding="utf-8")
    print(report)
    print(_t("grade.written", json=json_path, junit=junit, report=out_dir / "report.md"))
    return 0


def _grade_one_by_one(catalog: Catalog, args: argparse.Namespace, out_dir: Path) -> Results:
    from kata.results import ExerciseScore, TestResult, score

    tests: list[TestResult] = []
    crashed: dict[str, str] = {}
    for ex in catalog.exercises():
        part = out_dir / f"results-{ex.id}.json"
        try:
            code, output = run_pytest(
                [ex.tests, "-q", "-o", f"kata_hang_after={args.hang_after}"],
                target=args.target,
                json_out=part,
                quiet=True,
                timeout=GRADE_TIMEOUT / 4,
            )
        except subprocess.TimeoutExpired:
            code, output = -1, "time limit exceeded"
        if part.exists():
            tests += load_results(part).tests
            part.unlink()
        else:
            crashed[ex.id] = (output.strip().splitlines() or [f"exit code {code}"])[-1]
    exercises = score(tests, catalog)
    for i, e in enumerate(exercises):
        if e.id in crashed:
            exercises[i] = ExerciseScore(
                e.id, e.chapter, e.module, e.points, 0, 0, 0, FAILING, f"crashed: {crashed[e.id]}"
            )
    return Results(
        version=1,
        target=args.target,
        broker="(one run per exercise)",
        status="fail",
        tests=tests,
        exercises=exercises,
    )


def cmd_verify(args: argparse.Namespace, catalog: Catalog) -> int:
    files = [ex.tests for ex in catalog.exercises()]
    with tempfile.TemporaryDirectory() as tmp:
        sol, stub = Path(tmp) / "solutions.json", Path(tmp) / "stubs.json"
        run_pytest([*files, "-q"], target="solutions", json_out=sol, quiet=True)
        stub_args = [*files, "-q", "--stubs-must-fail"]
        run_pytest(stub_args, target="exercises", json_out=stub, quiet=True)
        if not (sol.exists() and stub.exists()):
            print("kata verify: a run did not finish; run tox -e solutions,stubs to see why")
            return 1
        solutions, stubs = load_results(sol), load_results(stub)
    problems = 0
    print(f"{'exercise':<28} {'solution':<22} stub")
    for ex in catalog.exercises():
        s_tests = [t for t in solutions.tests if t.exercise == ex.id]
        x_tests = [t for t in stubs.tests if t.exercise == ex.id]
        s_bad = [t for t in s_tests if t.status in ("fail", "error")]
        x_bad = [t for t in x_tests if t.status != "skip" and t.category != "not done"]
        s_pass = sum(t.status == "pass" for t in s_tests)
        s_skip = sum(t.status == "skip" for t in s_tests)
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


def cmd_watch(args: argparse.Namespace, catalog: Catalog) -> int:
    from kata import watch  # imports pytest and the plugin: only for this command

    mode = args.broker or os.environ.get("KATA_BROKER") or "auto"
    watcher = "manual" if args.manual else "poll" if args.poll else "auto"
    return watch.run(
        catalog,
        mode=mode,
        tree=args.target,
        watcher=watcher,
        exit_when_done=args.exit_when_done,
    )


def cmd_explore(args: argparse.Namespace, catalog: Catalog) -> int:
    from kata import explore

    return explore.main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kata", description=_t("help.description"))
    parser.add_argument("--lang", choices=LANGUAGES, default=None, help=_t("help.lang"))
    # Every command takes --lang too: `kata hint X --lang ja` and `kata --lang ja hint X`.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--lang", choices=LANGUAGES, default=argparse.SUPPRESS, help=_t("help.lang")
    )
    sub = parser.add_subparsers(dest="command")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[common])

    command("list", _t("help.list"))
    command("next", _t("help.next"))
    hint = command("hint", _t("help.hint"))
    hint.add_argument("exercise", help=_t("help.hint.exercise"))
    hint.add_argument("-l", "--level", type=int, default=1, help=_t("help.hint.level"))
    check = command("check", _t("help.check"))
    check.add_argument("exercise", nargs="?", help=_t("help.check.exercise"))
    check.add_argument("--chapter", help=_t("help.check.chapter"))
    check.add_argument("--target", default="exercises", choices=("exercises", "solutions"))
    check.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed on to pytest")
    grade = command("grade", _t("help.grade"))
    grade.add_argument("--out", default="kata-results", help=_t("help.grade.out"))
    grade.add_argument("--target", default="exercises", choices=("exercises", "solutions"))
    grade.add_argument("--hang-after", type=float, default=10.0, help="seconds per test")
    command("verify", _t("help.verify"))
    watch = command("watch", "run the current exercise again on every save; move on when it passes")
    watch.add_argument("--broker", choices=("auto", "docker", "local", "external"), default=None)
    watch.add_argument("--target", default="exercises", choices=("exercises", "solutions"))
    how = watch.add_mutually_exclusive_group()
    how.add_argument("--poll", action="store_true", help="look at the files' times (no watchfiles)")
    how.add_argument("--manual", action="store_true", help="no file watching: press Enter to run")
    watch.add_argument(
        "--exit-when-done", action="store_true", help="stop when every exercise passes"
    )
    explore_parser = command("explore", "a live tree of a broker's topics")
    from kata.explore import add_arguments

    add_arguments(explore_parser)
    return parser


def _lang_in(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv) and argv[i + 1] in LANGUAGES:
            return argv[i + 1]
        if arg.startswith("--lang=") and arg.split("=", 1)[1] in LANGUAGES:
            return arg.split("=", 1)[1]
    return None


COMMANDS = {
    "list": cmd_list,
    "next": cmd_next,
    "hint": cmd_hint,
    "check": cmd_check,
    "grade": cmd_grade,
    "verify": cmd_verify,
    "watch": cmd_watch,
    "explore": cmd_explore,
}


def main(argv: Sequence[str] | None = None) -> int:
    global LANG
    configure_utf8_output()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "grade-all":
        # A teacher's command with options of its own (kata/classroom.py).
        from kata import classroom

        return classroom.main(argv[1:])
    # The help texts are in the learner's language too: decide it before parsing.
    LANG = pick_language(_lang_in(argv))
    args = build_parser().parse_args(argv)
    LANG = pick_language(args.lang)
    try:
        catalog = load()
    except CatalogError as exc:
        print(f"kata: {exc}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[args.command or "list"](args, catalog)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `kata list | head`: the reader left; say nothing more.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
