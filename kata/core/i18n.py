"""The kata's two languages: which one to speak, and every line the harness prints in both.

What the harness says comes from messages.toml through t(); a chapter test's message
that teaches a concept carries both through teach(); lessons are NAME.md and NAME.ja.md;
chapter titles and hints are in catalog.toml. The code stays in English.

    lang = pick_language(args.lang)          # --lang, else KATA_LANG, else the locale
    print(t("list.points", lang, earned=10, possible=280))
    print(t("all_done"))                     # in pick_language(None)
"""

from __future__ import annotations

import contextlib
import locale
import os
import string
import sys
import unicodedata
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

LANGUAGES = ("en", "ja")
ENV_VAR = "KATA_LANG"
MARKS = ("done", "todo", "fail", "skip")  # the progress table's marks
# Every line the harness prints, key -> {"en": ..., "ja": ...}.
MESSAGES: dict[str, dict[str, str]] = tomllib.loads(
    Path(__file__).with_name("messages.toml").read_text(encoding="utf-8")
)


def normalize(value: str | None) -> str | None:
    """'ja', 'ja_JP.UTF-8', 'ja-JP', 'Japanese_Japan.932' -> 'ja'; 'en...' -> 'en'; else None."""
    text = (value or "").strip().lower().replace("-", "_")
    for lang, name in (("ja", "japanese"), ("en", "english")):
        if text.startswith((f"{lang}_", name)) or text.split(".")[0] == lang:
            return lang
    return None


def _locale_language() -> str | None:
    """The language of the system locale, or None when it says nothing we know."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            # The first variable that is set decides, as for any POSIX program:
            # LANG=C.UTF-8 (containers, CI) means "no translation", i.e. English.
            return normalize(value) or "en"
    with contextlib.suppress(ValueError, TypeError):
        # Windows and macOS GUI sessions often set no variable; the C library
        # still knows the user's locale ('Japanese_Japan', '932').
        found = normalize(locale.getlocale()[0])
        if found:
            return found
    if sys.platform != "win32":
        return None
    try:  # the language of the Windows user interface (a Japanese Windows -> 'ja')
        import ctypes

        langid = ctypes.windll.kernel32.GetUserDefaultUILanguage()  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return None
    return "ja" if langid & 0x3FF == 0x11 else None  # PRIMARYLANGID 0x11: Japanese


def pick_language(cli_value: str | None = None) -> str:
    """--lang wins, then KATA_LANG, then the system locale (Japanese -> 'ja'), else English.

    An unknown --lang is a ValueError (argparse's choices catch it first); an
    unknown KATA_LANG is ignored, so that a typo there never stops a test run.
    """
    if cli_value:
        return known_language(normalize(cli_value) or cli_value)
    return normalize(os.environ.get(ENV_VAR)) or _locale_language() or "en"


def known_language(lang: str) -> str:
    """`lang` if the kata speaks it, else a ValueError naming the choices."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return lang


def configure_utf8_output() -> None:
    """Write stdout and stderr as UTF-8 (Windows defaults to cp932, cp1252), so Japanese
    never turns into mojibake or a UnicodeEncodeError in the middle of a report."""
    for stream in (sys.stdout, sys.stderr):
        # A test runner's capture object has no reconfigure().
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(encoding="utf-8", errors="replace")  # type: ignore[union-attr]


def t(key: str, lang: str | None = None, /, **fields: object) -> str:
    """MESSAGES[key] in `lang` (None: pick_language(None)), formatted with `fields`."""
    lang = known_language(lang) if lang else pick_language(None)
    if key not in MESSAGES:
        raise KeyError(f"no message {key!r} in kata/core/messages.toml")
    return MESSAGES[key][lang].format(**fields)


def tn(key: str, lang: str | None, count: int, /, **fields: object) -> str:
    """t() for a message about `count` things: the `key.one` variant (if any) when count is 1."""
    if count == 1 and f"{key}.one" in MESSAGES:
        key = f"{key}.one"
    return t(key, lang, count=count, **fields)


def teach(en: str, ja: str) -> str:
    """A test's message that teaches a concept, in the learner's language:
    `assert got, teach(en="...", ja="...")`."""
    return ja if pick_language(None) == "ja" else en


def status_word(status: str, lang: str) -> str:
    """An exercise status of kata.core.results ('done', 'todo', 'failing', 'not run') for people."""
    return t("status." + status.replace(" ", "_"), lang)


def mark(name: str, lang: str) -> str:
    """A progress-table mark ('done', 'todo', 'fail', 'skip'), padded to the widest one
    (in terminal columns), so `[{mark}]` columns line up in both languages."""
    width = max(display_width(t(f"mark.{other}", lang)) for other in MARKS)
    return ljust(t(f"mark.{name}", lang), width)


def fields_of(text: str) -> set[str]:
    """The replacement fields of a message, with conversion and format spec: {'count', 'n:>2'}."""
    return {
        name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
        for _, name, spec, conversion in string.Formatter().parse(text)
        if name is not None
    }


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF"


def display_width(text: str) -> int:
    """Columns a terminal gives `text`: CJK characters take two."""
    return sum(2 if _is_wide(ch) else 1 for ch in text)


def ljust(text: str, width: int) -> str:
    """str.ljust by terminal columns, so tables with Japanese words stay aligned."""
    return text + " " * max(0, width - display_width(text))


def row(head: str, note: str, width: int = 120) -> str:
    """A table row `head  note` of at most `width` columns; a long note is cut at a word
    (English at a space, Japanese between two characters) and ends in " ..."."""
    if not note:
        return head
    room = width - display_width(head) - 2
    if display_width(note) <= room:
        return f"{head}  {note}".rstrip()
    end = 0
    while end < len(note) and display_width(note[: end + 1]) <= room - 4:
        end += 1
    # Back to a word boundary: a space, or a wide (Japanese) character on either side.
    while end > 0 and not any(c == " " or _is_wide(c) for c in note[end - 1 : end + 1]):
        end -= 1
    kept = note[:end].rstrip()
    return f"{head}  {kept} ..." if kept else f"{head}  ..."
