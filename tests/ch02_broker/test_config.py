"""Chapter 2: the broker's config file (exercises/ch02_broker/config.py).

render_config is checked twice: line by line against the seed's file, and by
running a real mosquitto with what it wrote.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kata import exercise
from kata.core.brokers import connack_code, free_port
from kata.core.catalog import ROOT
from kata.core.expect import expect_raises
from kata.core.i18n import teach
from kata.core.mosquitto import password_line

config = exercise("ch02_broker.config")

SEED = ROOT / "docker" / "config" / "mosquitto.conf"


def _directives(text: str) -> list[str]:
    """The lines mosquitto acts on: no comments, no blank lines, spaces trimmed."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


# --- the text ----------------------------------------------------------------------


def test_the_defaults_reproduce_the_seed_config() -> None:
    rendered = config.render_config()
    assert isinstance(rendered, str), f"render_config returns the file's text, not {rendered!r}"
    seed = SEED.read_text(encoding="utf-8")
    assert _directives(rendered) == _directives(seed), teach(
        en="with its defaults, render_config() writes the directives of the seed's "
        f"docker/config/mosquitto.conf, in the same order:\n{seed}got:\n{rendered}",
        ja="引数を省略した render_config() は、元の講座の docker/config/mosquitto.conf と"
        f"同じ設定項目を同じ順番で書き出します:\n{seed}結果:\n{rendered}",
    )
    assert rendered.endswith("\n"), "a text file ends with a line break"


OPTION_LINES = [
    ({"port": 18830}, "listener 18830"),
    ({"port": 18830, "bind_address": "127.0.0.1"}, "listener 18830 127.0.0.1"),
    ({"persistence": False}, "persistence false"),
    (
        {"persistence_location": "/var/lib/mosquitto/"},
        "persistence_location /var/lib/mosquitto/",
    ),
    ({"log_file": "/tmp/broker log/m.log"}, "log_dest file /tmp/broker log/m.log"),
    ({"log_file": None}, "log_dest stderr"),
    ({"allow_anonymous": False, "password_file": "/etc/mq/passwd"}, "allow_anonymous false"),
    ({"password_file": "/etc/mq/passwd"}, "password_file /etc/mq/passwd"),
]


@pytest.mark.parametrize(("options", "line"), OPTION_LINES, ids=[line for _, line in OPTION_LINES])
def test_each_option_becomes_its_directive(options, line) -> None:
    rendered = config.render_config(**options)
    call = f"render_config({', '.join(f'{k}={v!r}' for k, v in options.items())})"
    assert line in _directives(rendered), teach(
        en=f"{call} should write the line {line!r}; got:\n{rendered}",
        ja=f"{call} は {line!r} という行を書き出すはずです。結果:\n{rendered}",
    )


def test_without_persistence_there_is_no_persistence_location() -> None:
    rendered = config.render_config(persistence=False)
    keys = [line.split()[0] for line in _directives(rendered)]
    assert "persistence_location" not in keys, teach(
        en="render_config(persistence=False): persistence_location only matters when "
        f"persistence is on, leave it out; got:\n{rendered}",
        ja="render_config(persistence=False): persistence_location は persistence が"
        f"オンのときだけ意味があるので、書きません。結果:\n{rendered}",
    )


@pytest.mark.parametrize(
    ("options", "rule"),
    [
        ({"port": 0}, "port"),
        ({"port": 65_536}, "port"),
        ({"log_file": "/tmp/x.log\nallow_anonymous true"}, "line"),
        ({"password_file": "/etc/passwd\r\nlistener 1"}, "line"),
        ({"allow_anonymous": False}, "password_file"),
    ],
    ids=["port-0", "port-65536", "newline-in-log-file", "newline-in-password-file", "no-one"],
)
def test_render_rejects_a_config_that_would_not_work(options, rule) -> None:
    error = expect_raises(
        ValueError,
        config.render_config,
        **options,
        why=teach(
            en=f"Mosquitto would not run it ({rule})", ja=f"Mosquitto はこれでは動きません ({rule})"
        ),
    )
    assert rule in str(error).lower(), (
        f"the message should name the rule (mention {rule!r}); got {str(error)!r}"
    )


# --- reading it back (parse_config is given; it reads what you wrote) ---------------


SEED_SETTINGS = {
    "persistence": ["true"],
    "persistence_location": ["/mosquitto/data/"],
    "log_dest": ["file /mosquitto/log/mosquitto.log"],
    "listener": ["1883"],
    "allow_anonymous": ["true"],
}


def test_your_file_and_the_seeds_read_the_same() -> None:
    assert config.parse_config(SEED.read_text(encoding="utf-8")) == SEED_SETTINGS
    got = config.parse_config(config.render_config())
    assert got == SEED_SETTINGS, teach(
        en=f"render_config() should hold the seed's settings {SEED_SETTINGS}; it holds {got}",
        ja=f"render_config() には元の講座の設定 {SEED_SETTINGS} が入るはずです。結果: {got}",
    )


# What a learner adds by hand to the seed's file later: the kata's own test
# broker has three listeners, and chapter 8's bridge has `topic` lines.
ADDED_BY_HAND = """
  # a second listener, for the users of the password file
listener\t1884
allow_anonymous false
password_file   /mosquitto/config/passwd \t\x20
topic # out 0
listener 8883
"""


def test_a_file_grown_by_hand_keeps_every_listener() -> None:
    text = "per_listener_settings true\n" + config.render_config(bind_address="0.0.0.0")
    parsed = config.parse_config(text + ADDED_BY_HAND)
    expected = {
        "per_listener_settings": ["true"],
        "persistence": ["true"],
        "persistence_location": ["/mosquitto/data/"],
        "log_dest": ["file /mosquitto/log/mosquitto.log"],
        "listener": ["1883 0.0.0.0", "1884", "8883"],
        "allow_anonymous": ["true", "false"],
        "password_file": ["/mosquitto/config/passwd"],
        "topic": ["# out 0"],
    }
    assert parsed == expected, teach(
        en="render_config(bind_address='0.0.0.0') plus lines added by hand should read back as "
        f"{expected}; got {parsed}. Your file:\n{text}",
        ja="render_config(bind_address='0.0.0.0') に手で行を足したファイルは "
        f"{expected} と読めるはずです。結果: {parsed}。あなたのファイル:\n{text}",
    )


values = st.text(st.sampled_from("abz/._-é #:"), min_size=1, max_size=20).map(str.strip)
values = values.filter(bool)


@settings(max_examples=60, deadline=None)
@given(
    port=st.integers(1, 65_535),
    persistence=st.booleans(),
    location=values,
    log_file=st.none() | values,
    anonymous=st.booleans(),
    password_file=st.none() | values,
    bind=st.none() | st.sampled_from(["127.0.0.1", "0.0.0.0", "::1", "localhost"]),
)
def test_parse_reads_back_what_render_wrote(
    port, persistence, location, log_file, anonymous, password_file, bind
) -> None:
    if not anonymous and password_file is None:
        password_file = "/etc/mosquitto/passwd"
    text = config.render_config(
        port=port,
        persistence=persistence,
        persistence_location=location,
        log_file=log_file,
        allow_anonymous=anonymous,
        password_file=password_file,
        bind_address=bind,
    )
    parsed = config.parse_config(text)
    expected = {
        "persistence": ["true" if persistence else "false"],
        "log_dest": ["stderr" if log_file is None else f"file {log_file}"],
        "listener": [f"{port}" if bind is None else f"{port} {bind}"],
        "allow_anonymous": ["true" if anonymous else "false"],
    }
    if persistence:
        expected["persistence_location"] = [location]
    if password_file is not None:
        expected["password_file"] = [password_file]
    got = {key: parsed.get(key) for key in expected}
    assert got == expected, teach(
        en=f"your file should read back as {expected}; it reads as {got}:\n{text}",
        ja=f"あなたのファイルは {expected} と読めるはずですが、{got} と読めました:\n{text}",
    )


# --- a real mosquitto runs what render_config wrote --------------------------------------


@pytest.fixture
def start_rendered(broker_factory, tmp_path, runnable):
    """start_rendered(**render_config options) -> (broker, data dir, log file).

    The local mosquitto binary runs the rendered text, its paths pointed at
    this test's temp dirs: the test reads the files it leaves.
    """

    def start(**options):
        data, logs = tmp_path / "data", tmp_path / "log"
        data.mkdir(exist_ok=True)
        logs.mkdir(exist_ok=True)
        port = free_port()
        text = config.render_config(
            port=port,
            persistence_location=f"{data}/",
            log_file=str(logs / "mosquitto.log"),
            bind_address="127.0.0.1",
            **options,
        )
        private = broker_factory(kind="local", config_text=runnable(text), port=port)
        return private, data, logs / "mosquitto.log"

    return start


@pytest.mark.needs_private_broker
def test_a_rendered_config_runs_a_broker_that_routes_messages(start_rendered, topic, connect):
    private, _, _ = start_rendered()
    subscriber = connect(private.host, private.port)
    subscriber.subscribe(f"{topic}/hello", qos=1)
    connect(private.host, private.port).publish(f"{topic}/hello", b"from your config", qos=1)
    assert subscriber.get().payload == b"from your config"


@pytest.mark.needs_private_broker
def test_the_broker_writes_its_log_file(start_rendered, connect, client_id) -> None:
    private, _, log_file = start_rendered(persistence=False)
    visitor = client_id("visitor")
    connect(private.host, private.port, client_id=visitor).close()
    private.stop()
    assert log_file.is_file(), teach(
        en=f"log_dest file {log_file} should make mosquitto write that file",
        ja=f"log_dest file {log_file} と書けば、mosquitto はそのファイルにログを書くはずです",
    )
    text = log_file.read_text(encoding="utf-8", errors="replace")
    assert "mosquitto version" in text and visitor in text, teach(
        en=f"the log should tell the broker's start and the client {visitor}; it holds:\n{text}",
        ja=f"ログにはブローカーの起動とクライアント {visitor} の接続が書かれるはずです。"
        f"内容:\n{text}",
    )


@pytest.mark.needs_private_broker
def test_persistence_keeps_retained_messages_in_mosquitto_db(start_rendered, topic, connect):
    private, data, _ = start_rendered(persistence=True)
    with connect(private.host, private.port) as publisher:
        publisher.publish(f"{topic}/kept", b"21.5", qos=1, retain=True)
    # Disconnected first: a client left behind would wait out its reconnect delay.
    private.stop()  # SIGTERM: mosquitto saves its state on the way out
    held = sorted(p.name for p in data.iterdir())
    assert (data / "mosquitto.db").is_file(), teach(
        en=f"with persistence true, mosquitto writes {data}/mosquitto.db when it stops "
        f"(persistence_location); {data} holds {held}",
        ja=f"persistence true なら、mosquitto は停止するときに {data}/mosquitto.db を書きます "
        f"(persistence_location)。{data} の中身: {held}",
    )
    private.start()
    late = connect(private.host, private.port)
    late.subscribe(f"{topic}/kept", qos=1)
    assert late.get().payload == b"21.5", teach(
        en="the retained message came back from mosquitto.db after the restart",
        ja="再起動後、保持メッセージ (リテイン) は mosquitto.db から戻ってきます",
    )


@pytest.mark.needs_private_broker
def test_without_persistence_nothing_is_kept(start_rendered, topic, connect) -> None:
    private, data, _ = start_rendered(persistence=False)
    with connect(private.host, private.port) as publisher:
        publisher.publish(f"{topic}/lost", b"21.5", qos=1, retain=True)
    private.stop()
    assert not (data / "mosquitto.db").exists(), teach(
        en="persistence false writes no mosquitto.db",
        ja="persistence false なら mosquitto.db は書かれません",
    )
    private.start()
    late = connect(private.host, private.port)
    late.subscribe(f"{topic}/lost", qos=1)
    assert late.settle() == [], teach(
        en="without persistence a restart forgets retained messages",
        ja="persistence がオフなら、再起動で保持メッセージ (リテイン) は消えます",
    )


@pytest.mark.needs_private_broker
def test_no_anonymous_clients_with_a_password_file(start_rendered, tmp_path, connect) -> None:
    passwd = tmp_path / "passwd"
    passwd.write_text(password_line("kata", "kata-secret") + "\n", encoding="utf-8")
    passwd.chmod(0o600)
    private, _, _ = start_rendered(
        persistence=False, allow_anonymous=False, password_file=str(passwd)
    )
    assert connack_code(private.host, private.port) == 5, teach(
        en="allow_anonymous false: a CONNECT without user name gets CONNACK 5 (not authorized)",
        ja="allow_anonymous false: ユーザー名なしの CONNECT には "
        "CONNACK 5 (not authorized) が返ります",
    )
    connect(private.host, private.port, username="kata", password="kata-secret")
