"""A sandbox: a copy of the kata that a test may break the way learners do."""

from __future__ import annotations

import importlib.util
import os
import py_compile
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from shipped import copy_kata, shrink_catalog

from kata.core.catalog import ROOT

# No hypothesis plugin: the sandbox runs use no hypothesis test and start faster.
PYTEST_ARGS = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest"]


def _clean_env() -> dict[str, str]:
    drop = ("KATA_TARGET", "KATA_BROKER", "PYTEST_ADDOPTS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # The assertions read English, whatever this machine's locale.
    env["KATA_LANG"] = "en"
    return env


class Sandbox:
    def write(self, rel: str, text: str) -> None:
        (self.root / rel).write_text(text, encoding="utf-8")

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def solve(self, module: str) -> None:
        """Put the reference answer in the learner's place."""
        shutil.copy(self.root / "solutions" / module, self.root / "exercises" / module)

    def edit(self, rel: str, old: str, new: str) -> None:
        text = self.read(rel)
        assert old in text, f"{old!r} not in {rel}"
        self.write(rel, text.replace(old, new, 1))

    def only_chapters(self, *chapter_ids: str, modules: tuple[str, ...] = ()) -> None:
        """Shrink the catalog (and tests) to these chapters, for fast whole-kata runs.

        With `modules`, only those exercises of them are left.
        """
        shrink_catalog(self.root, chapter_ids, modules)

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env: dict[str, str] = {}  # extra environment for the runs

    def _run(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            argv,
            cwd=self.root,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            env={**_clean_env(), **self.env},
        )

    @staticmethod
    def pytest_argv(*args: str) -> list[str]:
        return [sys.executable, "-m", "pytest", *PYTEST_ARGS, *args]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """pytest in the sandbox."""
        return self._run(self.pytest_argv(*args), timeout)

    def collected(self, *args: str) -> int:
        """How many tests pytest collects here: counts that a curriculum change moves."""
        run = self.run("--collect-only", "-q", *args)
        last = run.stdout.strip().splitlines()[-1]
        assert " collected" in last, run.stdout
        return int(last.split()[0])

    def kata(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The kata command in the sandbox."""
        return self._run([sys.executable, "-m", "kata.cli", *args], timeout)


@pytest.fixture(scope="session", autouse=True)
def _english() -> Iterator[None]:
    """The harness's tests read the kata's English: neither a maintainer's locale nor a
    --lang kept in .kata/ may change that (a test that wants Japanese asks for it). Set
    from the first harness test on (they run after the chapters'), and put back."""
    before = os.environ.get("KATA_LANG")
    os.environ["KATA_LANG"] = "en"
    yield
    if before is None:
        os.environ.pop("KATA_LANG", None)
    else:
        os.environ["KATA_LANG"] = before


# The harness's tests run whole kata commands and gradings, several seconds each on a
# loaded 2-core machine: an exercise's test limit (kata_hang_after, 15 s) is too short.
HANG_AFTER = 60.0


def pytest_itemcollected(item: pytest.Item) -> None:
    item.add_marker(pytest.mark.kata_hang_after(HANG_AFTER))


# A collection needs no broker: with no program to start, the run stops after it.
NO_BROKER = {"KATA_BROKER": "local", "KATA_MOSQUITTO": str(ROOT / "no" / "mosquitto")}


@pytest.fixture(scope="session")
def bytecode(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .pyc files of a kata copy (its exercises aside), made once per test process.

    A sandbox's runs write none (PYTHONDONTWRITEBYTECODE): without them, each run
    compiles the harness and pytest rewrites its plugin and test modules again. A
    copy keeps each file's time and size, which is what a .pyc is checked against;
    a file that a test edits is compiled afresh.
    """
    warm = Sandbox(copy_kata(tmp_path_factory.mktemp("warm")))
    warm.env.update(NO_BROKER, PYTHONDONTWRITEBYTECODE="")  # pytest's rewritten modules
    warm.run("--collect-only", "-q", "tests")
    for tree in ("kata", "solutions"):  # and what a collection does not import
        for source in (warm.root / tree).rglob("*.py"):
            py_compile.compile(str(source), importlib.util.cache_from_source(str(source)))
    store = tmp_path_factory.mktemp("bytecode")
    for cache in warm.root.rglob("__pycache__"):
        rel = cache.relative_to(warm.root)
        if rel.parts[0] != "exercises":  # written afresh in each copy: stale
            shutil.copytree(cache, store / rel)
    return store


def _sandbox(root: Path, bytecode: Path) -> Sandbox:
    shutil.copytree(bytecode, root, dirs_exist_ok=True)
    return Sandbox(root)


@pytest.fixture
def sandbox(tmp_path: Path, bytecode: Path) -> Sandbox:
    return _sandbox(copy_kata(tmp_path), bytecode)


@pytest.fixture(scope="session")
def shipped_count() -> Callable[[str], int]:
    """How many tests pytest collects in a chapter's test file as shipped.

    One collection of the file's chapter per test process: several tests expect these
    counts (which a curriculum change moves), and each collection is a pytest start.
    """
    counts: dict[str, int] = {}

    def count(rel: str) -> int:
        if rel not in counts:
            chapter = rel.rsplit("/", 1)[0]
            root = Sandbox(ROOT)
            root.env.update(NO_BROKER)
            run = root.run("--collect-only", "-q", chapter)
            ids = [line.split("::")[0] for line in run.stdout.splitlines() if "::" in line]
            assert ids, run.stdout + run.stderr
            counts.update({path: ids.count(path) for path in set(ids)})
        return counts[rel]

    return count


@pytest.fixture(scope="session")
def new_sandbox(tmp_path_factory: pytest.TempPathFactory, bytecode: Path) -> Callable[[], Sandbox]:
    """Sandboxes for module fixtures, whose runs several tests read (a whole class graded,
    a learner's kata commands, the mutants' runs). Each is built once in a parallel run:
    tox.ini's `--dist loadfile` keeps a module's tests on one worker."""
    return lambda: _sandbox(copy_kata(tmp_path_factory.mktemp("sandbox")), bytecode)
