"""Start the kata with nothing but Python: `python3 start.py` (Windows: `py start.py`).

Makes a virtual environment in .venv (once; again when pyproject.toml
changes), installs the kata into it, then runs `kata` with the arguments
given (default: `next`, the first exercise's lesson and why it fails):

    python3 start.py            # kata next
    python3 start.py watch      # kata watch
    python3 start.py --lang ja  # kata --lang ja next

Debian's and Ubuntu's Python refuse `pip install` outside a virtual
environment (PEP 668), and `python` may not exist there: this script needs
only `python3` and its venv module (Debian/Ubuntu: sudo apt install python3-venv).
It uses only the standard library, so it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / "kata-installed"  # which pyproject.toml the environment was made for


def _japanese(argv: list[str]) -> bool:
    """--lang ja, else KATA_LANG, else the last --lang (.kata/lang), else the locale: the
    kata's own order, before it is installed."""
    for i, arg in enumerate(argv):
        if arg.startswith("--lang="):
            return arg == "--lang=ja"
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1] == "ja"
    if os.environ.get("KATA_LANG"):
        return os.environ["KATA_LANG"].lower().startswith("ja")
    try:
        return (ROOT / ".kata" / "lang").read_text(encoding="utf-8").strip() == "ja"
    except (OSError, UnicodeDecodeError):
        pass
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return value.lower().startswith("ja")
    return False


JA = _japanese(sys.argv[1:])


def say(en: str, ja: str) -> None:
    print(ja if JA else en, flush=True)


def project_digest() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_environment() -> int:
    if sys.version_info < (3, 10):  # noqa: UP036 - start.py runs on any python3
        say(
            f"mqtt-kata needs Python 3.10 or newer; this is {sys.version.split()[0]}",
            f"mqtt-kata には Python 3.10 以上が必要です (今は {sys.version.split()[0]})",
        )
        return 2
    if STAMP.is_file() and STAMP.read_text(encoding="utf-8") == project_digest():
        return 0
    if not (BIN / "python").exists() and not (BIN / "python.exe").exists():
        say("making a virtual environment in .venv ...", ".venv に仮想環境を作っています ...")
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except (OSError, subprocess.CalledProcessError):
            say(
                "could not make a virtual environment: install Python's venv module "
                "(Debian/Ubuntu: sudo apt install python3-venv), then run this again",
                "仮想環境を作れませんでした。Python の venv モジュールを入れてから "
                "(Debian/Ubuntu: sudo apt install python3-venv)、もう一度実行してください",
            )
            return 2
    say(
        "installing the kata and its libraries into .venv (about a minute, once) ...",
        "kata と必要なライブラリを .venv に入れています (初回だけ、1 分ほど) ...",
    )
    python = BIN / ("python.exe" if os.name == "nt" else "python")
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if subprocess.run([*pip, "-e", f"{ROOT}[watch]"], check=False).returncode != 0:
        say(
            "pip could not install the kata: see its message above",
            "pip で kata を入れられませんでした。上のメッセージを見てください",
        )
        return 2
    STAMP.write_text(project_digest(), encoding="utf-8")
    return 0


def main(argv: list[str]) -> int:
    code = ensure_environment()
    if code:
        return code
    kata = BIN / ("kata.exe" if os.name == "nt" else "kata")
    args = list(argv)
    words = [
        a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1 : i] != ["--lang"]
    ]
    if not words:
        args.append("next")  # `start.py --lang ja` means `kata --lang ja next`
    try:
        return subprocess.run([str(kata), *args], cwd=ROOT, check=False).returncode
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
