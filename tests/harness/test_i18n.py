"""English and Japanese: which language the kata speaks, and that every message has both."""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from kata.core import brokers, i18n
from kata.core.catalog import ROOT, load
from kata.core.i18n import (
    LANGUAGES,
    MESSAGES,
    display_width,
    fields_of,
    ljust,
    mark,
    pick_language,
    t,
)

_LANGUAGE_VARS = ("KATA_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")  # kana and kanji
# Messages that are only punctuation around their fields in Japanese too.
_NO_WORDS = {"thread_crash.place"}


@pytest.fixture
def no_locale(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No language variable set, an unknown C locale, and not on Windows."""
    for var in _LANGUAGE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(i18n.locale, "getlocale", lambda *args: (None, None))
    monkeypatch.setattr(i18n.sys, "platform", "linux")
    return monkeypatch


def test_english_is_the_default(no_locale) -> None:
    assert pick_language(None) == "en"


def test_lang_option_wins_over_everything(no_locale) -> None:
    no_locale.setenv("KATA_LANG", "en")
    no_locale.setenv("LANG", "en_US.UTF-8")
    assert pick_language("ja") == "ja"
    no_locale.setenv("KATA_LANG", "ja")
    no_locale.setenv("LANG", "ja_JP.UTF-8")
    assert pick_language("en") == "en"


def test_kata_lang_wins_over_the_locale(no_locale) -> None:
    no_locale.setenv("LANG", "ja_JP.UTF-8")
    no_locale.setenv("KATA_LANG", "en")
    assert pick_language(None) == "en"
    no_locale.setenv("LANG", "en_US.UTF-8")
    no_locale.setenv("KATA_LANG", "ja")
    assert pick_language(None) == "ja"


def test_an_unknown_kata_lang_is_ignored_and_an_unknown_option_is_an_error(no_locale) -> None:
    no_locale.setenv("KATA_LANG", "klingon")
    no_locale.setenv("LANG", "ja_JP.UTF-8")
    assert pick_language(None) == "ja", "a typo in KATA_LANG must not stop a test run"
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        pick_language("fr")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "ja_JP.eucJP"}, "ja"),
        ({"LC_MESSAGES": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, "ja"),
        ({"LC_ALL": "en_US.UTF-8", "LC_MESSAGES": "ja_JP.UTF-8"}, "en"),
        ({"LC_ALL": "ja_JP.UTF-8", "LANG": "C"}, "ja"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
    ],
)
def test_the_first_locale_variable_that_is_set_decides(no_locale, env, expected) -> None:
    for var, value in env.items():
        no_locale.setenv(var, value)
    # The C library's locale says Japanese; a set variable still comes first.
    no_locale.setattr(i18n.locale, "getlocale", lambda *args: ("ja_JP", "UTF-8"))
    assert pick_language(None) == expected


@pytest.mark.parametrize("name", ["ja_JP", "Japanese_Japan", "ja"])
def test_the_system_locale_counts_when_no_variable_is_set(no_locale, name) -> None:
    # ("Japanese_Japan", "932") is what Python reports on a Japanese Windows.
    no_locale.setattr(i18n.locale, "getlocale", lambda *args: (name, "932"))
    assert pick_language(None) == "ja"


@pytest.mark.parametrize(("langid", "expected"), [(0x0411, "ja"), (0x0409, "en"), (0x0407, "en")])
def test_windows_asks_for_the_user_interface_language(no_locale, langid, expected) -> None:
    no_locale.setattr(i18n.sys, "platform", "win32")
    kernel32 = SimpleNamespace(GetUserDefaultUILanguage=lambda: langid)
    no_locale.setattr(ctypes, "windll", SimpleNamespace(kernel32=kernel32), raising=False)
    assert pick_language(None) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ja", "ja"),
        ("JA", "ja"),
        ("ja-JP", "ja"),
        ("ja_JP.UTF-8", "ja"),
        ("Japanese_Japan.932", "ja"),
        ("en", "en"),
        ("en_GB", "en"),
        ("C.UTF-8", None),
        ("jam", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_reads_the_spellings_of_locales(value, expected) -> None:
    assert i18n.normalize(value) == expected


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_has_both_languages_with_the_same_fields(key) -> None:
    texts = MESSAGES[key]
    assert set(texts) == set(LANGUAGES), f"{key}: languages {sorted(texts)}"
    assert all(text.strip() for text in texts.values()), f"{key}: an empty text"
    assert fields_of(texts["en"]) == fields_of(texts["ja"]), (
        f"{key}: the Japanese text must take the same {{fields}} as the English one"
    )
    if key not in _NO_WORDS:
        assert _JAPANESE.search(texts["ja"]), f"{key}: the 'ja' text is not Japanese"
    if texts["en"].startswith("|"):
        assert texts["en"].count("|") == texts["ja"].count("|"), f"{key}: table columns differ"


def test_t_formats_the_fields_in_the_chosen_language() -> None:
    assert t("list.points", "en", earned=10, possible=280) == "points: 10 / 280"
    assert t("list.points", "ja", earned=10, possible=280) == "得点: 10 / 280"
    assert t("progress.passed", "en", passed=3, total=16) == " 3/16 passed"
    assert t("hang.did_not_finish", "ja", seconds=15.0) == "15 秒以内に終わりませんでした"
    assert t("cli.no_exercise", "ja", name="publsher", known="a, b").startswith(
        "kata: 'publsher' という演習はありません"
    )


def test_t_names_what_is_wrong() -> None:
    with pytest.raises(KeyError, match=r"no message 'no\.such\.key'"):
        t("no.such.key", "en")
    with pytest.raises(ValueError, match="unknown language 'de'"):
        t("list.points", "de", earned=1, possible=2)
    with pytest.raises(KeyError):
        t("list.points", "ja", earned=1)  # a field the caller forgot


def test_the_english_messages_are_what_the_harness_prints_today() -> None:
    # Until kata/core/brokers.py reads it from MESSAGES, its constant and the table must agree.
    if hasattr(brokers, "NO_BROKER_HELP"):
        assert MESSAGES["no_broker.help"]["en"] == brokers.NO_BROKER_HELP


def test_status_words_cover_every_exercise_status() -> None:
    from kata.core.results import DONE, FAILING, NOT_RUN, TODO

    for status in (DONE, TODO, FAILING, NOT_RUN):
        assert i18n.status_word(status, "en") == status
        assert _JAPANESE.search(i18n.status_word(status, "ja"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_marks_are_padded_so_that_progress_columns_line_up(lang) -> None:
    widths = {display_width(mark(name, lang)) for name in i18n.MARKS}
    assert len(widths) == 1, f"{lang}: marks of different widths {widths}"
    if lang == "en":
        assert [mark(name, "en") for name in i18n.MARKS] == ["done", "todo", "FAIL", "skip"]


def test_display_width_counts_japanese_characters_as_two_columns() -> None:
    assert display_width("abc") == 3
    assert display_width("未着手") == 6
    assert display_width("得点: 1") == 7
    assert (
        ljust("完了", 6) == "完了  " and ljust("todo", 6) == "todo  " and ljust("長い", 2) == "長い"
    )


def test_japanese_catalog_texts_reach_learners() -> None:
    catalog = load()
    publisher = catalog.exercise("publisher")
    assert _JAPANESE.search(publisher.hints_in("ja")[0])
    assert catalog.chapter(3).title_in("ja") == "パブリッシャーとサブスクライバー"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LANGUAGE_VARS}
    # A Windows console's legacy code page, without Python's UTF-8 mode: what a
    # learner in PowerShell has. cp1252 cannot encode Japanese at all.
    env.update(PYTHONIOENCODING="cp1252", PYTHONUTF8="0", LANG="C", **extra)
    return env


def test_configure_utf8_output_writes_japanese_as_utf8_bytes() -> None:
    code = (
        "from kata.core.i18n import configure_utf8_output, t\n"
        "configure_utf8_output()\n"
        "print(t('all_done', 'ja'))\n"
        "import sys; print(t('progress.not_done', 'ja'), file=sys.stderr)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, env=_clean_env(), timeout=30
    )
    assert run.returncode == 0, run.stderr.decode("utf-8", "replace")
    assert run.stdout.decode("utf-8").strip() == t("all_done", "ja")
    assert run.stderr.decode("utf-8").strip() == t("progress.not_done", "ja")


@pytest.mark.parametrize(
    "argv",
    [["hint", "publisher", "--lang", "ja"], ["--lang", "ja", "hint", "publisher"]],
    ids=["after", "before"],
)
def test_kata_hint_in_japanese_is_utf8_on_a_legacy_console(argv) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "kata.cli", *argv],
        cwd=ROOT,
        capture_output=True,
        # KATA_LANG set: --lang is for this command only, and nothing is kept in .kata/.
        env=_clean_env(KATA_LANG="en"),
        timeout=30,
    )
    out = run.stdout.decode("utf-8")  # strict: mojibake or cp1252 bytes fail here
    assert run.returncode == 0, run.stderr.decode("utf-8", "replace")
    publisher = load().exercise("publisher")
    assert publisher.hints_in("ja")[0] in out
    assert t("hint.header", "ja", id=publisher.id, level=1, count=3) in out
    assert publisher.hints[0] not in out, "the English hint is not shown with --lang ja"


def test_kata_list_and_grade_speak_japanese(sandbox, tmp_path) -> None:
    sandbox.only_chapters("ch03_clients")
    listed = sandbox.kata("--lang", "ja", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "パブリッシャーとサブスクライバー" in listed.stdout
    assert t("list.points", "ja", earned=0, possible=25) in listed.stdout
    graded = sandbox.kata("--lang", "ja", "grade", "--out", str(tmp_path / "grade"))
    report = (tmp_path / "grade" / "report.md").read_text(encoding="utf-8")
    assert graded.returncode == 0 and report.startswith(t("report.title", "ja"))
    assert (
        t("not_done.function", "ja", path="exercises/ch03_clients/publisher.py", func="make_client")
        in report
    )


def test_every_message_is_used_by_the_harness() -> None:
    """messages.toml holds no dead keys: each is looked up by the code, by name or by prefix."""
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "kata").rglob("*.py"))
    dead = []
    for key in MESSAGES:
        # tn(key, lang, count) picks the "KEY.one" variant itself.
        key = key.removesuffix(".one")
        prefix = key.rsplit(".", 1)[0]
        if f'"{key}"' not in code and f'f"{prefix}.{{' not in code and f'"{prefix}." +' not in code:
            dead.append(key)
    assert dead == [], f"unused keys in kata/core/messages.toml: {dead}"


def test_one_thing_is_singular_in_english_and_the_same_in_japanese() -> None:
    from kata.core.i18n import tn

    assert tn("next.more_tests", "en", 1) == " (and 1 more test)"
    assert tn("next.more_tests", "en", 2) == " (and 2 more tests)"
    assert tn("next.more_tests", "ja", 1) == tn("next.more_tests", "ja", 2).replace("2", "1")
    assert tn("list.points", "en", 1, earned=1, possible=2) == "points: 1 / 2", "no .one variant"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_long_reason_in_a_table_row_is_cut_at_a_word(lang) -> None:
    reason = t("mistake.no_loop", lang)
    head = f"  [{mark('fail', lang)}] publisher          3/16"
    line = i18n.row(head, reason, width=100)
    assert display_width(line) <= 100 and line.endswith(" ...")
    kept = line[len(head) + 2 : -4]
    assert reason.startswith(kept), "the start of the reason, unchanged"
    after = reason[len(kept)]
    if lang == "en":
        assert after == " ", f"cut inside a word: {kept[-12:]!r}|{reason[len(kept) :][:12]!r}"
    assert i18n.row(head, "short", width=100) == f"{head}  short"


def test_the_last_lang_given_is_kept_for_the_next_commands(sandbox) -> None:
    # A learner who starts with `start.py --lang ja` runs the commands the kata
    # suggests (kata hint first_message --level 2) without --lang.
    sandbox.env["KATA_LANG"] = ""  # no KATA_LANG, and a locale that is not Japanese
    sandbox.env["LANG"] = sandbox.env["LC_ALL"] = "C.UTF-8"
    ja = t("hint.header", "ja", id="ch01_basics.first_message", level=1, count=3)
    en = t("hint.header", "en", id="ch01_basics.first_message", level=1, count=3)
    for args, expected in (
        (("--lang", "ja", "hint", "first_message"), ja),
        (("hint", "first_message"), ja),
        (("hint", "first_message", "--lang", "en"), en),
        (("hint", "first_message"), en),
    ):
        shown = sandbox.kata(*args)
        assert shown.returncode == 0 and expected in shown.stdout, (args, shown.stdout)
    sandbox.kata("--lang", "ja", "hint", "first_message")
    sandbox.env["KATA_LANG"] = "en"  # KATA_LANG comes before the kept choice
    assert en in sandbox.kata("hint", "first_message").stdout
    # and with it set, a --lang is for that command only
    assert en in sandbox.kata("--lang", "en", "hint", "first_message").stdout
    sandbox.env["KATA_LANG"] = ""
    assert ja in sandbox.kata("hint", "first_message").stdout, "still the kept ja"
