"""How much code a learner writes: solution minus stub, code lines only, per exercise.

    python bench/learner_lines.py            # table per exercise, totals per path
    python bench/learner_lines.py --check    # exit 1 when the core path is over its budget

A code line is a line with a token that is not a comment, a docstring or
blank; the kata's given code (identical in stub and solution) cancels out.
The core path (the study plan's day) should stay at or under CORE_BUDGET.
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kata.core.catalog import PATHS, load  # noqa: E402

CORE_BUDGET = 350
_LAYOUT = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENDMARKER,
}


def code_lines(path: Path) -> int:
    source = path.read_text(encoding="utf-8")
    docstrings: set[int] = set()
    documented = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, documented) and ast.get_docstring(node) is not None:
            first = node.body[0]
            docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in _LAYOUT:
            span = range(token.start[0], token.end[0] + 1)
            lines.update(n for n in span if n not in docstrings)
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when over the core budget")
    args = parser.parse_args(argv)
    catalog = load()
    totals = dict.fromkeys(PATHS, 0)
    minutes = dict.fromkeys(PATHS, 0)
    print(f"{'exercise':<30} {'path':<5} {'lines':>5} {'minutes':>8}")
    for ex in catalog.exercises():
        written = code_lines(ex.source("solutions")) - code_lines(ex.source("exercises"))
        totals[ex.path] += written
        minutes[ex.path] += ex.minutes
        print(f"{ex.id:<30} {ex.path:<5} {written:>5} {ex.minutes:>8}")
    print()
    for path in PATHS:
        budget = f"  (goal: <= {CORE_BUDGET})" if path == "core" else ""
        print(f"{path} path: {totals[path]} lines, {minutes[path]} minutes{budget}")
    return 1 if args.check and totals["core"] > CORE_BUDGET else 0


if __name__ == "__main__":
    raise SystemExit(main())
