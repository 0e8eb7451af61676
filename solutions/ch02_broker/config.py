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
"""

from __future__ import annotations


def _one_line(name: str, value: object) -> str:
    text = str(value)
    if "\n" in text or "\r" in text:
        # A newline would smuggle another directive into the file.
        raise ValueError(f"{name} must be one line, without a line break: {text!r}")
    if not text.strip():
        raise ValueError(f"{name} must not be empty")
    return text


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
    """mosquitto.conf text; with the defaults, the seed's docker/config/mosquitto.conf."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be a whole number within 1..65535, not {port!r}")
    if not allow_anonymous and password_file is None:
        raise ValueError(
            "allow_anonymous=False needs a password_file: otherwise nobody can connect"
        )
    who = "one anonymous listener" if allow_anonymous else "one listener for known users"
    kept = "messages kept across restarts" if persistence else "nothing kept across restarts"
    lines = [f"# The seed's broker: {who}, {kept}."]
    lines.append(f"persistence {'true' if persistence else 'false'}")
    if persistence:
        location = _one_line("persistence_location", persistence_location)
        lines.append(f"persistence_location {location}")
    if log_file is None:
        lines.append("log_dest stderr")
    else:
        lines.append(f"log_dest file {_one_line('log_file', log_file)}")
    lines.append("")
    listener = f"listener {port}"
    if bind_address is not None:
        listener += f" {_one_line('bind_address', bind_address)}"
    lines.append(listener)
    lines.append(f"allow_anonymous {'true' if allow_anonymous else 'false'}")
    if password_file is not None:
        lines.append(f"password_file {_one_line('password_file', password_file)}")
    return "\n".join(lines) + "\n"


def parse_config(text: str) -> dict[str, list[str]]:
    """{key: [value, ...]} in file order; comments and blank lines skipped."""
    settings: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, *value = line.split(None, 1)
        # Mosquitto has no end-of-line comments: in "topic # out 0" the '#' is data.
        settings.setdefault(key, []).append(value[0].strip() if value else "")
    return settings
