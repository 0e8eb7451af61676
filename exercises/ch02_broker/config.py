"""Chapter 2 - the broker's configuration file, written and read by code.

The seed runs Mosquitto in Docker with its config folder mounted. Try it by hand:

    docker pull eclipse-mosquitto:2
    docker run -it -p 1883:1883 -v ./config:/mosquitto/config \\
        -v ./data:/mosquitto/data -v ./log:/mosquitto/log eclipse-mosquitto:2
    mosquitto_sub -h localhost -t test/topic -v          # a second terminal
    mosquitto_pub -h localhost -t test/topic -m "Hello"  # a third one

mosquitto.conf (docker/config/ here; https://mosquitto.org/man/mosquitto-conf-5.html)
holds one `key value` per line; `#` starts a comment line; a key may repeat
(`listener`, once per port). Mosquitto 2.x takes clients from other machines
and without a password only with `listener 1883` and `allow_anonymous true`.
With `persistence true` it saves retained messages and sessions to
persistence_location/mosquitto.db when it stops (SIGTERM).

Implement render_config (its defaults reproduce the seed's file) and parse_config.
Check your work: kata check config (or: pytest tests/ch02_broker/test_config.py).
日本語のヒント: kata hint config --lang ja
"""

from __future__ import annotations


def render_config(
    *,
    port: int = 1883,
    persistence: bool = True,
    persistence_location: str = "/mosquitto/data/",
    log_file: str | None = "/mosquitto/log/mosquitto.log",
    allow_anonymous: bool = True,
    password_file: str | None = None,
    bind_address: str | None = None,
) -> str:
    """mosquitto.conf text; with the defaults, the seed's docker/config/mosquitto.conf.

    One directive per line, in the seed's order:
        persistence true|false
        persistence_location <dir>       (only when persistence is on)
        log_dest file <log_file>         (log_dest stderr when log_file is None)
        listener <port> [<bind_address>]
        allow_anonymous true|false
        password_file <path>             (only when given)
    Comments and blank lines are yours to add. ValueError (naming the rule)
    for a port outside 1..65535, a value holding a line break (it would add
    a directive), or allow_anonymous=False without a password_file (then
    nobody could connect).
    """
    raise NotImplementedError("TODO: build the lines, join them with newlines")


def parse_config(text: str) -> dict[str, list[str]]:
    """{key: [value, ...]} in file order; comments and blank lines skipped.

    A line is `key value`: the key is the first word, the value is the rest
    with surrounding spaces removed ("log_dest file /a b.log" gives
    {"log_dest": ["file /a b.log"]}). A key that repeats keeps every value
    in order ("listener"). A line starting with '#' is a comment, but a '#'
    later in a line is data ("topic # out 0"). A key alone has the value "".
    """
    raise NotImplementedError("TODO: for each line: skip comments/blanks, split(None, 1)")
