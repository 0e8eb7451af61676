"""Where the learner is: the one owner of running pytest, the cache and the next exercise.

Every `kata` command that needs test results runs pytest through run_pytest and reads
progress through progress(), which re-runs only the exercises whose files changed since
the last run (the cache in `.kata/`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kata.core.catalog import ROOT, Catalog, Exercise
from kata.core.i18n import LANGUAGES, pick_language, t
from kata.core.results import ExerciseScore, Results, Status
from kata.core.results import load as load_results

CACHE_DIR = ROOT / ".kata"
LANG_FILE = CACHE_DIR / "lang"  # the learner's last --lang (start.py reads it too)
HARNESS_DIR = ROOT / "kata"
# One exercise at a time (kata next, check NAME, watch): stop at the first failing
# test (the rest are recorded as "not run"), and name a learner's function that
# never returns after LEARNER_HANG_AFTER s, not pytest's 15: above the tests' own
# 5 s timeouts, so that a learner's TimeoutError shows as itself.
LEARNER_HANG_AFTER = 7
FAIL_FAST = ["-x", "-o", f"kata_hang_after={LEARNER_HANG_AFTER}"]


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
    env = pytest_env()
    proc = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=quiet, text=True, timeout=timeout, check=False
    )
    return proc.returncode, (proc.stdout or "") + (proc.stderr or "")


def run_results(
    args: Sequence[str], *, target: str = "exercises"
) -> tuple[int, str, Results | None]:
    """run_pytest quietly, its results read back (None: pytest wrote none)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        code, output = run_pytest(args, target=target, json_out=out, quiet=True)
        return code, output, load_results(out) if out.exists() else None


def explain_failed_run(code: int, output: str) -> str:
    """A pytest run that wrote no results: its exit code and the end of what it said."""
    tail = "\n".join(output.strip().splitlines()[-15:])
    return t("cli.run_failed", code=code) + f"\n{tail}"


class RunFailed(RuntimeError):
    """pytest ended without results (no broker, a usage error): the text says why."""


# --- progress, cached per file content --------------------------------------


def fingerprint(ex: Exercise, tree: str) -> str:
    digest = hashlib.sha256()
    paths = [ex.source(tree), ROOT / ex.tests]
    # Exercises that import earlier chapters, and the harness itself.
    paths += sorted((ROOT / tree).glob("ch*/*.py")) + sorted(HARNESS_DIR.rglob("*.py"))
    for path in paths:
        digest.update(path.as_posix().encode())
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
    return digest.hexdigest()


def _read_cache(tree: str) -> dict[str, dict]:
    try:
        return json.loads((CACHE_DIR / f"progress-{tree}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def remember(scores: Sequence[ExerciseScore], fingerprints: dict[str, str], tree: str) -> None:
    """Write these exercises' scores into the cache, whole or not at all."""
    cache = _read_cache(tree)
    for score in scores:
        fields = ("status", "passed", "total", "skipped", "first_failure")
        cache[score.id] = {name: getattr(score, name) for name in fields}
        cache[score.id]["fingerprint"] = fingerprints[score.id]
    with contextlib.suppress(OSError):
        CACHE_DIR.mkdir(exist_ok=True)
        # Ctrl-C may come at any moment: write aside, then replace.
        path = CACHE_DIR / f"progress-{tree}.json"
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(cache, indent=1), encoding="utf-8")
        os.replace(partial, path)


def progress(catalog: Catalog, tree: str = "exercises") -> dict[str, dict]:
    """Status per exercise id, from the cache where nothing changed, else from a test run.

    Raises RunFailed when pytest could not run the tests at all (no broker).
    """
    cache = _read_cache(tree)
    status: dict[str, dict] = {}
    stale: dict[str, str] = {}
    for ex in catalog.exercises():
        fp = fingerprint(ex, tree)
        if cache.get(ex.id, {}).get("fingerprint") == fp:
            status[ex.id] = cache[ex.id]
        else:
            stale[ex.id] = fp
    if stale:
        files = [catalog.exercise(ex_id).tests for ex_id in stale]
        code, output, results = run_results(files, target=tree)
        if results is None:
            raise RunFailed(explain_failed_run(code, output))
        if results.error:  # no broker: the tests could not run, which is no progress
            raise RunFailed(results.error.strip())
        remember(results.exercises, stale, tree)
        status.update(_read_cache(tree))
    return status


def next_exercise(catalog: Catalog, status: dict[str, dict]) -> Exercise | None:
    """The first exercise on the path (core, then deep) that is not done."""
    for ex in catalog.exercises():
        if status.get(ex.id, {}).get("status") != Status.DONE:
            return ex
    return None


def lesson_text(ex: Exercise, lang: str) -> str:
    """The exercise's lesson (NAME.md, NAME.ja.md) in `lang`, else in English; "" if none."""
    path = ex.lesson(lang)
    if not path.is_file():
        path = ex.lesson("en")
    return path.read_text(encoding="utf-8").strip() if path.is_file() else ""


def hint_lines(ex: Exercise, level: int, more: str) -> list[str]:
    """Hint `level` of `ex` in the learner's language, then the message `more` (how to see
    the next hint) unless it was the last."""
    hints = ex.hints_in(pick_language(None))
    lines = [t("hint.line", level=level, count=len(hints), hint=hints[level - 1])]
    if level < len(hints):
        lines.append(t(more, module=ex.module, level=level + 1))
    return lines


def pytest_env() -> dict[str, str]:
    """The environment of the kata's pytest processes (the shared broker, if any, is in
    os.environ): UTF-8, the learner's language for the tests' one-line reasons, and
    matplotlib without a window."""
    mpl = os.environ.get("MPLBACKEND", "Agg")
    return dict(os.environ, PYTHONUTF8="1", KATA_LANG=pick_language(None), MPLBACKEND=mpl)


def lesson_intro(ex: Exercise, lang: str) -> list[str]:
    """The lesson's title and first paragraph: what `kata watch` shows above each result."""
    intro: list[str] = []
    for line in lesson_text(ex, lang).splitlines():
        if not line.strip() and len(intro) > 2:
            break
        intro += [line] if line.strip() else []
    return intro


def remembered_language() -> str | None:
    """The language the learner last chose with --lang, kept in .kata/."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        lang = LANG_FILE.read_text(encoding="utf-8").strip()
        return lang if lang in LANGUAGES else None
    return None


def remember_language(lang: str) -> None:
    """Keep --lang for the next commands (a grading copy is read-only: then not)."""
    with contextlib.suppress(OSError):
        CACHE_DIR.mkdir(exist_ok=True)
        LANG_FILE.write_text(lang, encoding="utf-8")
