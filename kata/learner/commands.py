"""The learner's `kata` commands: list, next, lesson, hint, check, watch, explore."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from kata.core.brokers import MODES
from kata.core.catalog import PATHS, Catalog, Exercise
from kata.core.i18n import mark, pick_language, row, t
from kata.core.results import Status, explain
from kata.core.target import TREES
from kata.learner import explore, watch
from kata.learner.progress import (
    FAIL_FAST,
    RunFailed,
    explain_failed_run,
    hint_lines,
    lesson_text,
    next_exercise,
    progress,
    run_pytest,
    run_results,
)

Command = Callable[[argparse.Namespace, Catalog], int]


def _progress_or_explain(catalog: Catalog) -> dict[str, dict] | None:
    try:
        return progress(catalog)
    except RunFailed as exc:
        print(exc, file=sys.stderr)
        return None


def cmd_list(args: argparse.Namespace, catalog: Catalog) -> int:
    status = _progress_or_explain(catalog)
    if status is None:
        return 2
    lang = pick_language(None)
    marks = {Status.DONE: "done", Status.TODO: "todo", Status.FAILING: "fail"}
    nxt = next_exercise(catalog, status)
    earned = possible = 0
    for path in PATHS:
        print(t(f"list.path.{path}", minutes=catalog.minutes(path)))
        for chapter in catalog.chapters:
            mine = [ex for ex in chapter.exercises if ex.path == path]
            if mine:
                print(f"  {chapter.id}  {chapter.title_in(lang)}")
            for ex in mine:
                st = status.get(ex.id, {})
                pointer = "->" if nxt is not None and ex.id == nxt.id else "  "
                possible += ex.points
                earned += ex.points if st.get("status") == Status.DONE else 0
                failure = st.get("first_failure", "") if st.get("status") == Status.FAILING else ""
                skipped = t("list.skipped", count=st["skipped"]) if st.get("skipped") else ""
                note = "  ".join(filter(None, [skipped, failure]))
                word = mark(marks.get(st.get("status", ""), "skip"), lang)
                counts = f"{st.get('passed', 0):>2}/{st.get('total', 0):<2}"
                extra = t("list.minutes_column", minutes=ex.minutes, points=ex.points)
                print(row(f"    {pointer}[{word}] {ex.module:<18} {counts} {extra}", note))
        print()
    print(t("list.points", earned=earned, possible=possible))
    if nxt is None:
        print(t("all_done"))
    else:
        print(t("list.next", path=nxt.relpath("exercises"), module=nxt.module))
    return 0


def cmd_next(args: argparse.Namespace, catalog: Catalog) -> int:
    status = _progress_or_explain(catalog)
    if status is None:
        return 2
    ex = next_exercise(catalog, status)
    if ex is None:
        print(t("all_done"))
        return 0
    print(t("next.header", id=ex.id, path=ex.relpath("exercises")))
    lesson = lesson_text(ex, pick_language(None))
    if lesson and status.get(ex.id, {}).get("passed", 0) == 0:
        # A first visit: the lesson first, then what fails.
        print("\n" + lesson + "\n")
    code, output, results = run_results([ex.tests, *FAIL_FAST])
    if code not in (0, 1) or results is None:
        print(explain_failed_run(code, output), file=sys.stderr)
        return 2
    print("\n".join(explain(results.tests, pick_language(None), full_first=True)))
    print("", *hint_lines(ex, 1, "next.more_hints"), sep="\n")
    return 0 if code == 0 else 1


def _current_or_named(catalog: Catalog, name: str | None) -> Exercise | None:
    """The named exercise, or the one the learner is at (from the cache, without a run);
    None, said, when all are done."""
    try:
        ex = find_exercise(catalog, name) if name else next_exercise(catalog, progress(catalog))
    except RunFailed:
        ex = catalog.exercises()[0]
    if ex is None:
        print(t("all_done"))
    return ex


def cmd_lesson(args: argparse.Namespace, catalog: Catalog) -> int:
    ex = _current_or_named(catalog, args.exercise)
    if ex is None:
        return 0
    text = lesson_text(ex, pick_language(None))
    if not text:
        print(t("lesson.missing", module=ex.module), file=sys.stderr)
        return 2
    print(text)
    return 0


def cmd_hint(args: argparse.Namespace, catalog: Catalog) -> int:
    ex = _current_or_named(catalog, args.exercise)
    if ex is None:
        return 0
    hints, level = ex.hints_in(pick_language(None)), args.level
    if not 1 <= level <= len(hints):
        print(t("hint.out_of_range", module=ex.module, count=len(hints)), file=sys.stderr)
        return 2
    print(t("hint.header", id=ex.id, level=level, count=len(hints)) + f"\n\n{hints[level - 1]}")
    if level < len(hints):
        print("\n" + t("hint.next", module=ex.module, level=level + 1))
    return 0


def find_exercise(catalog: Catalog, name: str) -> Exercise:
    try:
        return catalog.exercise(name)
    except KeyError:
        known = ", ".join(ex.id for ex in catalog.exercises())
        raise SystemExit(t("cli.no_exercise", name=name, known=known)) from None


def cmd_check(args: argparse.Namespace, catalog: Catalog) -> int:
    fail_fast: list[str] = []
    if args.exercise:
        files = [find_exercise(catalog, args.exercise).tests]
        fail_fast = FAIL_FAST  # one exercise: its first failure, in full
    elif args.chapter:
        try:
            chapter = catalog.chapter(args.chapter)
        except KeyError:
            raise SystemExit(t("cli.no_chapter", name=args.chapter)) from None
        files = [ex.tests for ex in chapter.exercises]
        if not files:
            print(t("check.no_exercises", chapter=chapter.id))
            return 0
    else:
        files = [ex.tests for ex in catalog.exercises()]
    broker = ["--broker", args.broker] if args.broker else []
    code, _ = run_pytest([*files, *fail_fast, *broker, *args.pytest_args], target=args.target)
    return code


def cmd_watch(args: argparse.Namespace, catalog: Catalog) -> int:
    return watch.run(
        catalog, args, find_exercise(catalog, args.exercise) if args.exercise else None
    )


def register(command: Callable[[str, str], argparse.ArgumentParser]) -> dict[str, Command]:
    """Add the learner's subcommands through `command(name, help)`; returns their handlers."""
    command("list", t("help.list"))
    command("next", t("help.next"))
    lesson = command("lesson", t("help.lesson"))
    lesson.add_argument("exercise", nargs="?", help=t("help.lesson.exercise"))
    hint = command("hint", t("help.hint"))
    hint.add_argument("exercise", nargs="?", help=t("help.hint.exercise"))
    hint.add_argument("-l", "--level", type=int, default=1, help=t("help.hint.level"))
    check = command("check", t("help.check"))
    check.add_argument("exercise", nargs="?", help=t("help.check.exercise"))
    check.add_argument("--chapter", help=t("help.check.chapter"))
    watching = command("watch", t("help.watch"))
    watching.add_argument("exercise", nargs="?", help=t("help.watch.exercise"))
    for parser in (check, watching):
        parser.add_argument("--target", default=TREES[0], choices=TREES)
        parser.add_argument("--broker", choices=MODES, default=None)
    check.add_argument("pytest_args", nargs=argparse.REMAINDER, help=t("help.check.pytest"))
    how = watching.add_mutually_exclusive_group()
    how.add_argument("--poll", action="store_true", help=t("help.watch.poll"))
    how.add_argument("--manual", action="store_true", help=t("help.watch.manual"))
    done = t("help.watch.exit_when_done")
    watching.add_argument("--exit-when-done", action="store_true", help=done)
    explore.add_arguments(command("explore", t("help.explore")))
    return {
        "list": cmd_list,
        "next": cmd_next,
        "lesson": cmd_lesson,
        "hint": cmd_hint,
        "check": cmd_check,
        "watch": cmd_watch,
        "explore": lambda args, catalog: explore.main(args),
    }
