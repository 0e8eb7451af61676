"""The `kata` command: one tree of subcommands for learners (list, next, lesson, hint, check,
watch, explore), teachers (grade, grade-all, classroom) and maintainers (verify); `kata --help`
says what each does. Every command runs the real tests against a real broker (see README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

from kata.core.catalog import CatalogError, load
from kata.core.i18n import ENV_VAR, LANGUAGES, configure_utf8_output, pick_language, t
from kata.learner import commands as learner
from kata.learner import progress
from kata.teacher import commands as teacher


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kata", description=t("help.description"))
    parser.add_argument("--lang", choices=LANGUAGES, default=None, help=t("help.lang"))
    # Every command takes --lang too: `kata hint X --lang ja` and `kata --lang ja hint X`.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS, help=t("help.lang"))
    sub = parser.add_subparsers(dest="command")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, parents=[common])

    parser.set_defaults(handlers={**learner.register(command), **teacher.register(command)})
    return parser


def _lang_in(argv: list[str]) -> str | None:
    for arg, value in zip(argv, [*argv[1:], None], strict=True):
        lang = value if arg == "--lang" else arg.removeprefix("--lang=")
        if arg.startswith("--lang") and lang in LANGUAGES:
            return lang
    return None


def main(argv: Sequence[str] | None = None) -> int:
    configure_utf8_output()
    argv = list(sys.argv[1:] if argv is None else argv)
    # The help texts are in the learner's language too: decide it before parsing.
    # KATA_LANG carries it to every module and to the test runs. Order: --lang, then
    # KATA_LANG, then the last --lang given (kept in .kata/), then the system locale.
    # (With KATA_LANG set, the environment decides: no --lang is kept.)
    from_env = bool(os.environ.get(ENV_VAR))
    kept = None if from_env else progress.remembered_language()
    os.environ[ENV_VAR] = pick_language(_lang_in(argv) or kept)
    args = build_parser().parse_args(argv)
    os.environ[ENV_VAR] = pick_language(args.lang or kept)
    if args.lang and args.lang != kept and not from_env:
        progress.remember_language(args.lang)
    try:
        catalog = load()
    except CatalogError as exc:
        print(f"kata: {exc}", file=sys.stderr)
        return 2
    try:
        return args.handlers[args.command or "list"](args, catalog)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `kata list | head`: the reader left; say nothing more.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
