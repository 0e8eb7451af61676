"""The exercises as the kata shipped them, for the harness's own tests."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from pathlib import Path

from kata.core.catalog import CATALOG_RELPATH, ROOT, tomllib


# Once per test process: every sandbox and grader copy asks for the same files.
@functools.cache
def shipped_stub(rel: str) -> str:
    """exercises/REL as the kata shipped it, even after the learner solved it.

    A learner who runs `pytest --target solutions` has filled in some stubs:
    the harness's checks of pristine stubs read git's copy instead. A file
    with at least as many TODOs as git's is a maintainer's edit of the stub,
    and is read as it is; so is everything when there is no git history.
    """
    working = (ROOT / rel).read_text(encoding="utf-8")
    shown = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"HEAD:{rel}"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    if shown.returncode != 0 or working.count("TODO") >= shown.stdout.count("TODO"):
        return working
    return shown.stdout


def copy_shipped_exercises(dest: Path) -> None:
    """exercises/ into dest (a copy of the kata), every stub as shipped."""
    shutil.copytree(
        ROOT / "exercises", dest / "exercises", ignore=shutil.ignore_patterns("__pycache__")
    )
    for path in (dest / "exercises").rglob("*.py"):
        rel = path.relative_to(dest).as_posix()
        path.write_text(shipped_stub(rel), encoding="utf-8")


def copy_kata(dest: Path, chapters: tuple[str, ...] = (), modules: tuple[str, ...] = ()) -> Path:
    """A copy of the kata as handed out, without the harness's own tests, in dest.

    With `chapters` (and `modules`), shrunk to them as shrink_catalog does.
    """
    ignore = shutil.ignore_patterns("__pycache__", "harness")
    for name in ("kata", "solutions", "tests"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    copy_shipped_exercises(dest)
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy(ROOT / name, dest / name)
    if chapters:
        shrink_catalog(dest, chapters, modules)
    return dest


def shrink_catalog(root: Path, chapters: tuple[str, ...], modules: tuple[str, ...] = ()) -> None:
    """Only these chapters (and of them only `modules`, if given) in a kata copy's catalog.

    The tests of everything left out are removed too, so that whole-kata runs
    and gradings of the copy stay fast.
    """
    catalog = root / CATALOG_RELPATH
    data = tomllib.loads(catalog.read_text(encoding="utf-8"))
    lines = ["version = 1", ""]
    for chapter in data["chapter"]:
        if chapter["id"] not in chapters:
            shutil.rmtree(root / "tests" / chapter["id"], ignore_errors=True)
            continue
        lines += ["[[chapter]]"] + [
            f"{key} = {json.dumps(value, ensure_ascii=False)}"
            for key, value in chapter.items()
            if key != "exercise"
        ]
        for ex in chapter.get("exercise", []):
            if modules and ex["module"] not in modules:
                (root / ex["tests"]).unlink(missing_ok=True)
                continue
            lines += ["", "[[chapter.exercise]]"] + [
                f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in ex.items()
            ]
        lines.append("")
    catalog.write_text("\n".join(lines), encoding="utf-8")
