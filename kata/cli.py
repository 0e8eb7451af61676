"""The `kata` command: one tree of subcommands for learners, teachers and maintainers.

    kata                       progress table, core path first (same as `kata list`)
    kata next                  the lesson and the first failure of the next exercise
    kata lesson [EXERCISE]     the lesson of the current (or named) exercise
    kata hint [EXERCISE]       a hint for it (-l N: 1 = a nudge ... 3 = nearly the answer)
    kata check [EXERCISE]      run one exercise's tests (or --chapter N, or everything)
    kata watch [EXERCISE]      run the current exercise on every save, move on when it passes
    kata explore [--url URL]   a live tree of a broker's topics (like MQTT Explorer)
    kata grade [--out DIR]     results.json, junit.xml and report.md for graders
    kata grade-all DIR         teachers: grade every submission in DIR, each in a box
    kata classroom             teachers: write the GitHub Classroom files from the catalog
    kata verify                maintainers: every solution passes, every stub fails

Every command runs the real tests against a real broker (see README.md).
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
    # KATA_LANG carries it to every module and to the test runs.
    os.environ[ENV_VAR] = pick_language(_lang_in(argv))
    args = build_parser().parse_args(argv)
    os.environ[ENV_VAR] = pick_language(args.lang)
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
