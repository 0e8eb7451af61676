"""The kata's two languages: which one to speak, and every line the harness prints in both.

The code, the lessons and the chapter tests' assertions stay in English; what the
harness itself says to a learner (progress, hints, one-line failure reasons, the
no-broker help, the grade report) comes from MESSAGES through t():

    lang = pick_language(args.lang)          # --lang, else KATA_LANG, else the locale
    print(t("list.points", lang, earned=10, possible=280))

Chapter titles, summaries and hints are in kata/catalog.toml (Chapter.title_in(lang),
Exercise.hints_in(lang)).
"""

from __future__ import annotations

import contextlib
import locale
import os
import string
import sys
import unicodedata

LANGUAGES = ("en", "ja")
DEFAULT_LANGUAGE = "en"
ENV_VAR = "KATA_LANG"

# POSIX order of precedence for the language of messages.
MARKS = ("done", "todo", "fail", "skip")

_LOCALE_VARS = ("LC_ALL", "LC_MESSAGES", "LANG")
_WINDOWS_JAPANESE = 0x11  # PRIMARYLANGID of a Windows LANGID (0x0411 = ja-JP)


def normalize(value: str | None) -> str | None:
    """'ja', 'ja_JP.UTF-8', 'ja-JP', 'Japanese_Japan.932' -> 'ja'; 'en...' -> 'en'; else None."""
    if not value:
        return None
    text = value.strip().lower().replace("-", "_")
    if text.startswith(("ja_", "japanese")) or text.split(".")[0] == "ja":
        return "ja"
    if text.startswith(("en_", "english")) or text.split(".")[0] == "en":
        return "en"
    return None


def _locale_language() -> str | None:
    """The language of the system locale, or None when it says nothing we know."""
    for var in _LOCALE_VARS:
        value = os.environ.get(var)
        if value:
            # The first variable that is set decides, as for any POSIX program:
            # LANG=C.UTF-8 (containers, CI) means "no translation", i.e. English.
            return normalize(value) or DEFAULT_LANGUAGE
    with contextlib.suppress(ValueError, TypeError):
        # Windows and macOS GUI sessions often set no variable; the C library
        # still knows the user's locale ('Japanese_Japan', '932').
        found = normalize(locale.getlocale()[0])
        if found:
            return found
    if sys.platform == "win32":
        return _windows_ui_language()
    return None


def _windows_ui_language() -> str | None:
    """The language of the Windows user interface (a Japanese Windows -> 'ja')."""
    try:
        import ctypes

        langid = ctypes.windll.kernel32.GetUserDefaultUILanguage()  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return None
    return "ja" if langid & 0x3FF == _WINDOWS_JAPANESE else None


def pick_language(cli_value: str | None = None) -> str:
    """--lang wins, then KATA_LANG, then the system locale (Japanese -> 'ja'), else English.

    An unknown --lang is a ValueError (argparse's choices catch it first); an
    unknown KATA_LANG is ignored, so that a typo there never stops a test run.
    """
    if cli_value:
        chosen = normalize(cli_value)
        if chosen is None:
            raise ValueError(
                f"unknown language {cli_value!r}: choose one of {', '.join(LANGUAGES)}"
            )
        return chosen
    return normalize(os.environ.get(ENV_VAR)) or _locale_language() or DEFAULT_LANGUAGE


def configure_utf8_output() -> None:
    """Write stdout and stderr as UTF-8, so Japanese never turns into mojibake or a crash.

    Windows consoles and pipes default to a legacy code page (cp932, cp1252);
    errors='replace' keeps a character that still cannot be written from
    raising UnicodeEncodeError in the middle of a report.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:  # replaced by a test runner's capture object
            continue
        with contextlib.suppress(ValueError, OSError):
            reconfigure(encoding="utf-8", errors="replace")


def t(key: str, lang: str, /, **fields: object) -> str:
    """MESSAGES[key] in `lang`, formatted with `fields` (str.format syntax)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    try:
        texts = MESSAGES[key]
    except KeyError:
        raise KeyError(f"no message {key!r} in kata/i18n.py MESSAGES") from None
    return texts[lang].format(**fields)


def teach(en: str, ja: str) -> str:
    """A test's message that teaches a concept, in the learner's language.

    Chapter tests write the two texts side by side, so that a failure that
    explains MQTT (the QoS handshake, the will, on_connect) reads in Japanese
    for a Japanese learner: `assert got, teach(en="...", ja="...")`.
    """
    return ja if pick_language(None) == "ja" else en


def status_word(status: str, lang: str) -> str:
    """An exercise status of kata.results ('done', 'todo', 'failing', 'not run') for people."""
    return t("status." + status.replace(" ", "_"), lang)


def mark(name: str, lang: str) -> str:
    """A progress-table mark ('done', 'todo', 'fail', 'skip'), padded to the widest one.

    So that `[{mark}]` columns line up in both languages: English marks are all
    four columns wide; Japanese ones take two to four characters of two columns.
    """
    width = max(display_width(t(f"mark.{other}", lang)) for other in MARKS)
    return ljust(t(f"mark.{name}", lang), width)


def fields_of(text: str) -> set[str]:
    """The replacement fields of a message, with conversion and format spec: {'count', 'n:>2'}."""
    found = set()
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is not None:
            found.add(
                name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            )
    return found


def display_width(text: str) -> int:
    """Columns a terminal gives `text`: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def ljust(text: str, width: int) -> str:
    """str.ljust by terminal columns, so tables with Japanese words stay aligned."""
    return text + " " * max(0, width - display_width(text))


# Every line the kata command and the pytest plugin print to a learner.
# key -> {"en": ..., "ja": ...}; both languages take the same {fields}
# (tests/harness/test_i18n.py checks it). The English text is the one the code
# printed before it was translated; keep the two in step when you change one.
MESSAGES: dict[str, dict[str, str]] = {
    # --- exercise status words (kata.results DONE, TODO, FAILING, NOT_RUN) ---
    "status.done": {"en": "done", "ja": "完了"},
    "status.todo": {"en": "todo", "ja": "未着手"},
    "status.failing": {"en": "failing", "ja": "失敗"},
    "status.not_run": {"en": "not run", "ja": "未実行"},
    # the four-letter marks of the progress tables: [done] [todo] [FAIL] [skip]
    "mark.done": {"en": "done", "ja": "完了"},
    "mark.todo": {"en": "todo", "ja": "未着手"},
    "mark.fail": {"en": "FAIL", "ja": "失敗"},
    "mark.skip": {"en": "skip", "ja": "未実行"},
    # --- kata list ---
    "list.coming_soon": {"en": "(coming soon)", "ja": "(準備中)"},
    "list.points_column": {"en": "{points:>3} pts", "ja": "{points:>3} 点"},
    "list.points": {"en": "points: {earned} / {possible}", "ja": "得点: {earned} / {possible}"},
    "list.next": {
        "en": "next: {path}   (kata next, kata hint {module})",
        "ja": "次の演習: {path}   (kata next / kata hint {module})",
    },
    "all_done": {
        "en": "every exercise is done - well done!",
        "ja": "すべての演習が完了しました。お疲れさまでした！",
    },
    # --- kata next ---
    "next.header": {"en": "next: {id}  ({path})", "ja": "次の演習: {id}  ({path})"},
    "next.passed": {
        "en": "{passed} of {total} tests pass.",
        "ja": "{total} 件中 {passed} 件のテストが通っています。",
    },
    "next.more_tests": {"en": " (and {count} more tests)", "ja": " (ほか {count} 件のテスト)"},
    "next.and_more": {
        "en": "  ... and more (kata check {module})",
        "ja": "  ... ほかにもあります (kata check {module})",
    },
    "next.more_hints": {
        "en": "(more: kata hint {module} --level 2)",
        "ja": "(続き: kata hint {module} --level 2)",
    },
    # --- kata hint (and the first hint under kata next) ---
    "hint.first": {
        "en": "hint 1 of {count}: {hint}",
        "ja": "ヒント 1/{count}: {hint}",
    },
    "hint.header": {
        "en": "{id} - hint {level} of {count}:",
        "ja": "{id} - ヒント {level}/{count}:",
    },
    "hint.next": {
        "en": "(next: kata hint {module} --level {level})",
        "ja": "(次のヒント: kata hint {module} --level {level})",
    },
    "hint.out_of_range": {
        "en": "kata: {module} has hints 1 to {count}",
        "ja": "kata: {module} のヒントは 1 から {count} までです",
    },
    # --- kata errors a learner can cause ---
    "cli.no_exercise": {
        "en": "kata: no exercise {name!r} in the catalog (known: {known})",
        "ja": "kata: {name!r} という演習はありません (あるのは: {known})",
    },
    "cli.no_chapter": {
        "en": "kata: no chapter {name!r} in the catalog",
        "ja": "kata: {name!r} という章はありません",
    },
    "cli.run_failed": {
        "en": "kata: the tests could not run (pytest exit code {code}):",
        "ja": "kata: テストを実行できませんでした (pytest の終了コード {code}):",
    },
    "check.no_exercises": {
        "en": "kata: {chapter} has no exercises yet",
        "ja": "kata: {chapter} にはまだ演習がありません",
    },
    "grade.written": {
        "en": "written: {json}, {junit}, {report}",
        "ja": "書き出したファイル: {json}, {junit}, {report}",
    },
    # --- argparse help of the kata command ---
    "help.description": {
        "en": "The MQTT kata: exercises against a real broker.",
        "ja": "MQTT カタ: 本物のブローカーを相手に解く演習です。",
    },
    "help.lang": {
        "en": "language of the output: en or ja (default: KATA_LANG, else the system locale)",
        "ja": "表示する言語: en か ja (省略時は KATA_LANG、なければシステムのロケール)",
    },
    "help.list": {"en": "progress table (the default)", "ja": "進み具合の表 (省略時はこれ)"},
    "help.next": {
        "en": "the first unfinished exercise: why it fails, and a hint",
        "ja": "まだ終わっていない最初の演習: 失敗する理由とヒント",
    },
    "help.hint": {"en": "a hint for an exercise", "ja": "演習のヒントを表示します"},
    "help.hint.exercise": {
        "en": "e.g. publisher or ch03_clients.publisher",
        "ja": "例: publisher または ch03_clients.publisher",
    },
    "help.hint.level": {
        "en": "1 = a nudge ... 3 = nearly it",
        "ja": "1 = 軽いヒント ... 3 = ほぼ答え",
    },
    "help.check": {
        "en": "run tests: one exercise, a chapter, or all",
        "ja": "テストを実行します: 1 つの演習、1 つの章、またはすべて",
    },
    "help.check.exercise": {"en": "e.g. publisher", "ja": "例: publisher"},
    "help.check.chapter": {"en": "e.g. 3 or ch03_clients", "ja": "例: 3 または ch03_clients"},
    "help.grade": {
        "en": "score the exercises: results.json, junit.xml, report.md",
        "ja": "演習を採点します: results.json、junit.xml、report.md",
    },
    "help.grade.out": {"en": "folder for the reports", "ja": "レポートを書き出すフォルダー"},
    "help.verify": {
        "en": "maintainers: every solution passes and every stub fails",
        "ja": "メンテナー向け: すべての模範解答が通り、すべてのスタブが失敗することを確かめます",
    },
    # --- pytest plugin: the progress table at the end of a run ---
    "progress.title": {"en": "kata progress ({tree}/)", "ja": "カタの進み具合 ({tree}/)"},
    "progress.passed": {
        "en": "{passed:>2}/{total:<2} passed",
        "ja": "{passed:>2}/{total:<2} 件成功",
    },
    "progress.not_done": {"en": "not done yet", "ja": "まだ実装されていません"},
    "progress.next": {
        "en": "next: {path}  (a hint: kata hint {module})",
        "ja": "次の演習: {path}  (ヒント: kata hint {module})",
    },
    "header.target": {
        "en": "kata: target {tree}/, broker {mode}{order}",
        "ja": "kata: 対象 {tree}/、ブローカー {mode}{order}",
    },
    "header.shuffled": {
        "en": ", shuffled with seed {seed}",
        "ja": "、シード {seed} で順番をシャッフル",
    },
    "broker.using": {"en": "kata broker: {broker}", "ja": "kata: 使うブローカー: {broker}"},
    # --- pytest plugin: one-line reasons a test failed ---
    "not_done.function": {
        "en": "not done yet: {path}: {func}",
        "ja": "まだ実装されていません: {path}: {func}",
    },
    "not_done.file": {
        "en": "not done yet: {where}",
        "ja": "まだ実装されていません: {where}",
    },
    "hang.function": {
        "en": "hang: {path}: {func} did not return within {seconds:g} s "
        "(stopped at line {line} of {where})",
        "ja": "ハング: {path}: {func} が {seconds:g} 秒以内に戻りませんでした "
        "({where} の {line} 行目で止めました)",
    },
    "hang.waited_on": {
        "en": "hang: the test waited on {where} and did not finish within {seconds:g} s",
        "ja": "ハング: テストは {where} を待ったまま {seconds:g} 秒以内に終わりませんでした",
    },
    "hang.the_test": {"en": "the test", "ja": "テスト"},
    "hang.did_not_finish": {
        "en": "did not finish within {seconds:g} s",
        "ja": "{seconds:g} 秒以内に終わりませんでした",
    },
    "thread_crash": {
        "en": "an exception escaped on thread {name!r}{place}: {error}",
        "ja": "スレッド {name!r}{place} で例外が捕まらずに外へ出ました: {error}",
    },
    "thread_crash.place": {"en": " in {path}: {func}", "ja": " ({path}: {func})"},
    "thread_crash.hint": {
        "en": "(code in paho callbacks runs on paho's network thread; an exception there "
        "kills the thread and nothing more is received)",
        "ja": "(paho のコールバックは paho のネットワークスレッドで動きます。そこで例外が出ると"
        "スレッドが止まり、それ以降はメッセージを受信できません)",
    },
    "thread_crash.signatures": {
        "en": "(a callback has the wrong signature: with CallbackAPIVersion.VERSION2 paho calls\n"
        "{signatures}\n"
        " the seed's 1.x callbacks, like on_connect(client, userdata, flags, rc), take fewer)",
        "ja": "(コールバックの引数が合っていません。CallbackAPIVersion.VERSION2 の paho は次の形で"
        "呼び出します:\n"
        "{signatures}\n"
        " 元の教材の 1.x 向けコールバック (on_connect(client, userdata, flags, rc) など) は"
        "引数が足りません)",
    },
    "thread_leak": {
        "en": "a paho network thread is still running after the call returned: {alive}. "
        "Call loop_stop() (and disconnect()) before returning, also on errors (finally:).",
        "ja": "呼び出しが戻ったあとも paho のネットワークスレッドが動いています: {alive}。"
        "戻る前に loop_stop() (と disconnect()) を呼んでください。"
        "エラーのときも同じです (finally: を使います)。",
    },
    "broker_died": {
        "en": "the broker died during this test; its log ends with:\n{log}",
        "ja": "このテストの途中でブローカーが停止しました。ログの最後は次のとおりです:\n{log}",
    },
    "skip.private_broker": {
        "en": "needs a private broker; the external broker (MQTT_BROKER_URL) is shared",
        "ja": "専用のブローカーが必要です。外部ブローカー (MQTT_BROKER_URL) は共有されています",
    },
    "skip.needs_mosquitto": {
        "en": "needs the mosquitto binary on PATH",
        "ja": "PATH 上に mosquitto の実行ファイルが必要です",
    },
    "skip.no_listener": {
        "en": "the external broker (MQTT_BROKER_URL) has no {name!r} listener run by the kata; "
        "run with Docker or mosquitto to check this",
        "ja": "外部ブローカー (MQTT_BROKER_URL) には、カタが用意する {name!r} リスナーが"
        "ありません。確かめるには Docker か mosquitto で実行してください",
    },
    "usage.unknown_broker": {
        "en": "unknown broker {mode!r}: choose one of {choices}",
        "ja": "{mode!r} というブローカーの指定は使えません。次から選んでください: {choices}",
    },
    # --- kata/target.py: an exercise that cannot be imported ---
    "broken.syntax": {
        "en": "syntax error in {where}: {error}",
        "ja": "構文エラー: {where}: {error}",
    },
    "broken.missing": {
        "en": "{path} is missing (was it moved or deleted?)",
        "ja": "{path} が見つかりません (移動または削除しましたか?)",
    },
    "broken.cannot_import": {
        "en": "{path} cannot be imported: {error}",
        "ja": "{path} をインポートできません: {error}",
    },
    "broken.import_failed": {
        "en": "{where}: importing the module failed: {error}",
        "ja": "{where}: モジュールのインポート中にエラーが起きました: {error}",
    },
    "broken.no_name": {
        "en": "{path} has no {name!r} (the tests need this name: was it renamed or deleted?)",
        "ja": "{path} に {name!r} がありません (テストはこの名前を使います。"
        "名前を変えたり削除したりしていませんか?)",
    },
    # --- kata/brokers.py: no broker at all ---
    "no_broker.not_on_path": {
        "en": "the `mosquitto` program was not found on PATH",
        "ja": "PATH 上に `mosquitto` プログラムが見つかりませんでした",
    },
    "no_broker.kata_mosquitto": {
        "en": "KATA_MOSQUITTO={named} is not an executable file",
        "ja": "KATA_MOSQUITTO={named} は実行できるファイルではありません",
    },
    "no_broker.help": {
        "en": """\
The kata needs a real MQTT broker, and none could be found. Pick one of three ways:
  1. Docker:     install Docker Desktop (Windows, macOS) or Docker Engine (Linux) and start it;
                 the tests then start eclipse-mosquitto:2 by themselves.
  2. Mosquitto:  install the broker so that `mosquitto` can be run
                 (Debian/Ubuntu: sudo apt install mosquitto; macOS: brew install mosquitto;
                 Windows: the installer from mosquitto.org, then add it to PATH).
  3. Any broker: set MQTT_BROKER_URL, e.g. mqtt://localhost:1883 or
                 mqtts://user:password@your-cluster.example:8883
Then run the same command again.""",
        "ja": """\
このカタには本物の MQTT ブローカーが必要ですが、見つかりませんでした。
次の 3 つのうち、どれか 1 つを用意してください:
  1. Docker
     Docker Desktop (Windows、macOS) または Docker Engine (Linux) をインストールして
     起動します。テストが eclipse-mosquitto:2 を自動で起動します。
  2. Mosquitto
     `mosquitto` コマンドを実行できるように、ブローカーをインストールします
     (Debian/Ubuntu: sudo apt install mosquitto、macOS: brew install mosquitto、
     Windows: mosquitto.org のインストーラーでインストールし、PATH に追加します)。
  3. ほかのブローカー
     環境変数 MQTT_BROKER_URL を設定します。例: mqtt://localhost:1883 または
     mqtts://user:password@your-cluster.example:8883
準備ができたら、同じコマンドをもう一度実行してください。""",
    },
    # --- kata/results.py markdown_report: report.md for graders ---
    "report.title": {"en": "# MQTT kata: grade report", "ja": "# MQTT カタ: 採点レポート"},
    "report.target": {
        "en": "Target: `{target}/` - broker: {broker}",
        "ja": "対象: `{target}/` - ブローカー: {broker}",
    },
    "report.score": {
        "en": "**Score: {earned} / {possible} points**",
        "ja": "**得点: {earned} / {possible} 点**",
    },
    "report.chapter_table": {"en": "| chapter | points |", "ja": "| 章 | 得点 |"},
    "report.exercise_table": {
        "en": "| exercise | status | tests passed | points | first failure |",
        "ja": "| 演習 | 状態 | 成功したテスト | 得点 | 最初の失敗 |",
    },
    # --- kata/probe.py and kata/peers.py: the harness's own clients ---
    "probe.no_message": {
        "en": "probe: no message within {timeout} s",
        "ja": "probe: {timeout} 秒以内にメッセージが届きませんでした",
    },
    "probe.expected_messages": {
        "en": "expected {count} messages, got {got}: {listing}",
        "ja": "{count} 件のメッセージを待っていましたが、届いたのは {got} 件です: {listing}",
    },
    "probe.no_connack": {
        "en": "probe: no CONNACK within {timeout} s from {host}:{port}",
        "ja": "probe: {host}:{port} から {timeout} 秒以内に CONNACK が届きませんでした",
    },
    "peers.no_line": {
        "en": "no matching line within {timeout} s; output was: {seen!r}",
        "ja": "{timeout} 秒以内に該当する行が出力されませんでした。出力: {seen!r}",
    },
    "peers.returned_early": {
        "en": "it returned without printing the line; output: {seen!r}",
        "ja": "その行を出力しないまま戻りました。出力: {seen!r}",
    },
}
