"""The learner's `kata` commands: list, next, lesson, hint, check, watch, explore."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from kata.core.brokers import MODES
from kata.core.catalog import PATHS, Catalog, Exercise
from kata.core.i18n import mark as mark_word
from kata.core.i18n import pick_language, row, t
from kata.core.results import Status, explain
from kata.core.results import load as load_results
from kata.core.target import TREES
from kata.learner import explore, watch
from kata.learner.progress import (
    FAIL_FAST,
    RunFailed,
    explain_failed_run,
    lesson_text,
    next_exercise,
    progress,
    run_pytest,
)

Command = Callable[[argparse.Namespace, Catalog], int]


def _t(key: str, **fields: object) -> str:
    return t(key, pick_language(None), **fields)


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
        print(_t(f"list.path.{path}", minutes=catalog.minutes(path)))
        for chapter in catalog.chapters:
            mine = [ex for ex in chapter.exercises if ex.path == path]
            if not mine:
                continue
            print(f"  {chapter.id}  {chapter.title_in(lang)}")
            for ex in mine:
                st = status.get(ex.id, {})
                mark = mark_word(marks.get(st.get("status", ""), "skip"), lang)
                pointer = "->" if nxt is not None and ex.id == nxt.id else "  "
                possible += ex.points
                earned += ex.points if st.get("status") == Status.DONE else 0
                note = st.get("first_failure", "") if st.get("status") == Status.FAILING else ""
                counts = f"{st.get('passed', 0):>2}/{st.get('total', 0):<2}"
                skipped = st.get("skipped", 0)
                if skipped:
                    note = _t("list.skipped", count=skipped) + (f"  {note}" if note else "")
                extra = _t("list.minutes_column", minutes=ex.minutes, points=ex.points)
                print(row(f"    {pointer}[{mark}] {ex.module:<18} {counts} {extra}", note))
        print()
    print(_t("list.points", earned=earned, possible=possible))
    if nxt is not None:
        print(_t("list.next", path=nxt.relpath("exercises"), module=nxt.module))
    else:
        print(_t("all_done"))
    return 0


def cmd_lesson(args: argparse.Namespace, catalog: Catalog) -> int:
    ex = _current_or_named(catalog, args.exercise)
    if ex is None:
        print(_t("all_done"))
        return 0
    text = lesson_text(ex, pick_language(None))
    if not text:
        print(_t("lesson.missing", module=ex.module), file=sys.stderr)
        return 2
    print(text)
    return 0


def cmd_next(args: argparse.Namespace, catalog: Catalog) -> int:
    status = _progress_or_explain(catalog)
    if status is None:
        return 2
    ex = next_exercise(catalog, status)
    if ex is None:
        print(_t("all_done"))
        return 0
    print(_t("next.header", id=ex.id, path=ex.relpath("exercises")))
    lesson = lesson_text(ex, pick_language(None))
    if lesson and status.get(ex.id, {}).get("passed", 0) == 0:
        # A first visit: the lesson first, then what fails.
        print("\n" + lesson + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        code, output = run_pytest([ex.tests, *FAIL_FAST], json_out=out, quiet=True)
        if code not in (0, 1) or not out.exists():
            print(explain_failed_run(code, output), file=sys.stderr)
            return 2
        results = load_results(out)
    print("\n".join(explain(results.tests, pick_language(None), full_first=True)))
    hints = ex.hints_in(pick_language(None))
    print("\n" + _t("hint.first", count=len(hints), hint=hints[0]))
    if len(hints) > 1:
        print(_t("next.more_hints", module=ex.module))
    return 0 if code == 0 else 1


def _current_or_named(catalog: Catalog, name: str | None) -> Exercise | None:
    """The named exercise, or the one the learner is at (from the cache, without a run)."""
    if name:
        return find_exercise(catalog, name)
    try:
        return next_exercise(catalog, progress(catalog))
    except RunFailed:
        return catalog.exercises()[0]


def cmd_hint(args: argparse.Namespace, catalog: Catalog) -> int:
    ex = _current_or_named(catalog, args.exercise)
    if ex is None:
        print(_t("all_done"))
        return 0
    hints = ex.hints_in(pick_language(None))
    level = args.level
    if not 1 <= level <= len(hints):
        print(_t("hint.out_of_range", module=ex.module, count=len(hints)), file=sys.stderr)
        return 2
    print(_t("hint.header", id=ex.id, level=level, count=len(hints)) + f"\n\n{hints[level - 1]}")
    if level < len(hints):
        print("\n" + _t("hint.next", module=ex.module, level=level + 1))
    return 0


def find_exercise(catalog: Catalog, name: str) -> Exercise:
    try:
        return catalog.exercise(name)
    except KeyError:
        known = ", ".join(ex.id for ex in catalog.exercises())
        raise SystemExit(_t("cli.no_exercise", name=name, known=known)) from None


def cmd_check(args: argparse.Namespace, catalog: Catalog) -> int:
    fail_fast: list[str] = []
    if args.exercise:
        files = [find_exercise(catalog, args.exercise).tests]
        fail_fast = FAIL_FAST  # one exercise: its first failure, in full
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
    broker = ["--broker", args.broker] if args.broker else []
    code, _ = run_pytest([*files, *fail_fast, *broker, *args.pytest_args], target=args.target)
    return code


def cmd_watch(args: argparse.Namespace, catalog: Catalog) -> int:
    mode = args.broker or os.environ.get("KATA_BROKER") or "auto"
    watcher = "manual" if args.manual else "poll" if args.poll else "auto"
    start = find_exercise(catalog, args.exercise) if args.exercise else None
    return watch.run(
        catalog,
        mode=mode,
        tree=args.target,
        watcher=watcher,
        exit_when_done=args.exit_when_done,
        start=start,
    )


def cmd_explore(args: argparse.Namespace, catalog: Catalog) -> int:
    return explore.main(args)


def register(command: Callable[[str, str], argparse.ArgumentParser]) -> dict[str, Command]:
    """Add the learner's subcommands through `command(name, help)`; returns their handlers."""
    command("list", _t("help.list"))
    command("next", _t("help.next"))
    lesson = command("lesson", _t("help.lesson"))
    lesson.add_argument("exercise", nargs="?", help=_t("help.lesson.exercise"))
    hint = command("hint", _t("help.hint"))
    hint.add_argument("exercise", nargs="?", help=_t("help.hint.exercise"))
    hint.add_argument("-l", "--level", type=int, default=1, help=_t("help.hint.level"))
    check = command("check", _t("help.check"))
    check.add_argument("exercise", nargs="?", help=_t("help.check.exercise"))
    check.add_argument("--chapter", help=_t("help.check.chapter"))
    check.add_argument("--target", default=TREES[0], choices=TREES)
    check.add_argument("--broker", choices=MODES, default=None)
    check.add_argument("pytest_args", nargs=argparse.REMAINDER, help=_t("help.check.pytest"))
    watch_parser = command("watch", _t("help.watch"))
    watch_parser.add_argument("exercise", nargs="?", help=_t("help.watch.exercise"))
    watch_parser.add_argument("--broker", choices=MODES, default=None)
    watch_parser.add_argument("--target", default=TREES[0], choices=TREES)
    how = watch_parser.add_mutually_exclusive_group()
    how.add_argument("--poll", action="store_true", help=_t("help.watch.poll"))
    how.add_argument("--manual", action="store_true", help=_t("help.watch.manual"))
    watch_parser.add_argument(
        "--exit-when-done", action="store_true", help=_t("help.watch.exit_when_done")
    )
    explore.add_arguments(command("explore", _t("help.explore")))
    return {
        "list": cmd_list,
        "next": cmd_next,
        "lesson": cmd_lesson,
        "hint": cmd_hint,
        "check": cmd_check,
        "watch": cmd_watch,
        "explore": cmd_explore,
    }
