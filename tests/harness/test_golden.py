"""Golden reports: tiny katas in tests/harness/golden/ and the results.json each must write.

Each case is copied into a sandbox in place of the real chapters, run with
--kata-json, and its report compared field by field with the case's
results.json (durations dropped; the broker, the sandbox path and traceback frames
outside the kata normalised).
KATA_UPDATE_GOLDEN=1 writes the reports instead, to review with git diff.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

GOLDEN = Path(__file__).with_name("golden")
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "catalog.toml").is_file())
UPDATE = os.environ.get("KATA_UPDATE_GOLDEN") == "1"
# Seconds before a test counts as hanging: the hanging case costs this once.
HANG_AFTER = "0.5"


def _replace_chapters(root: Path, case: Path) -> None:
    """The sandbox's catalog, exercises and tests become the case's."""
    for tree in ("exercises", "solutions", "tests"):
        for chapter in (root / tree).glob("ch[0-9][0-9]_*"):
            shutil.rmtree(chapter)
        if (case / tree).is_dir():
            shutil.copytree(case / tree, root / tree, dirs_exist_ok=True)
    shutil.copy(case / "catalog.toml", root / "kata" / "core" / "catalog.toml")


# Traceback frames of Python's or a library's own (with their source lines and
# any ^^^ markers): which, where and what they say varies with the install.
OUTSIDE_FRAMES = re.compile(
    r'(?:^  File "(?!<sandbox>)[^"]*", line \d+, in .*\n(?:    .*\n)*)+', re.M
)
MARKERS = re.compile(r"^ +[\^~]+ *\n", re.M)


def _normalised(report: dict, root: Path) -> dict:
    """What must not change from one run or machine to the next."""
    text = json.dumps(report, ensure_ascii=False)
    text = text.replace(json.dumps(str(root))[1:-1], "<sandbox>")
    report = json.loads(text)
    for test in report["tests"]:
        del test["duration"]
        details = MARKERS.sub("", test.get("details", ""))
        test["details"] = OUTSIDE_FRAMES.sub("  (frames outside the kata)\n", details)
    if report["broker"] != "none":
        report["broker"] = "<broker>"
    return report


def _ids(items: list) -> list:
    """A list of tests or exercises, shortened to what names each."""
    return [
        item.get("nodeid", item.get("id")) if isinstance(item, dict) else item for item in items
    ]


def _differences(expected: object, got: object, where: str = "") -> list[str]:
    """Every field that differs, by its path in the report ("tests[2].message")."""
    if isinstance(expected, dict) and isinstance(got, dict):
        return [
            line
            for key in sorted(expected.keys() | got.keys())
            for line in _differences(expected.get(key), got.get(key), f"{where}.{key}")
        ]
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) != len(got):
            return [f"{where.lstrip('.')}: expected {_ids(expected)}, got {_ids(got)}"]
        return [
            line
            for n, (one, other) in enumerate(zip(expected, got, strict=True))
            for line in _differences(one, other, f"{where}[{n}]")
        ]
    if expected != got:
        return [f"{where.lstrip('.')}: expected {expected!r}, got {got!r}"]
    return []


@pytest.mark.parametrize("case", CASES)
def test_the_report_matches_the_golden_one(sandbox, broker, case) -> None:
    _replace_chapters(sandbox.root, GOLDEN / case)
    out = sandbox.root / "results.json"
    # A case's own pytest arguments, one a line (fail_fast: -x, as kata check runs).
    extra = GOLDEN / case / "pytest-args"
    args = extra.read_text(encoding="utf-8").split() if extra.is_file() else []
    run = sandbox.run(
        f"--broker={broker.kind}",
        "-o",
        f"kata_hang_after={HANG_AFTER}",
        "--kata-json",
        str(out),
        *args,
    )
    assert out.is_file(), f"no results.json written:\n{run.stdout}\n{run.stderr}"
    got = _normalised(json.loads(out.read_text(encoding="utf-8")), sandbox.root)
    golden = GOLDEN / case / "results.json"
    if UPDATE:
        golden.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        pytest.skip(f"wrote {golden.relative_to(GOLDEN.parent)}")
    expected = json.loads(golden.read_text(encoding="utf-8"))
    differences = _differences(expected, got)
    assert not differences, (
        f"{case}: the report differs from {golden.name} in {len(differences)} fields "
        "(after a deliberate change: KATA_UPDATE_GOLDEN=1, then review the diff):\n  "
        + "\n  ".join(differences)
        + f"\n\npytest said:\n{run.stdout[-3000:]}"
    )


def test_a_report_that_differs_names_each_field() -> None:
    expected = {"status": "fail", "tests": [{"name": "a", "message": "x"}], "error": ""}
    got = {"status": "pass", "tests": [{"name": "a", "message": "y"}], "extra": 1}
    assert _differences(expected, got) == [
        "error: expected '', got None",
        "extra: expected None, got 1",
        "status: expected 'fail', got 'pass'",
        "tests[0].message: expected 'x', got 'y'",
    ]
    one_more = {**got, "tests": [*got["tests"], {"nodeid": "t.py::b"}]}
    assert "tests: expected [None], got [None, 't.py::b']" in _differences(expected, one_more)
