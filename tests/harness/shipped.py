"""The exercises as the kata shipped them, for the harness's own tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from kata.core.catalog import ROOT


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
