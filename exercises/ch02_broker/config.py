"""The broker's configuration file, mosquitto.conf, written by code.

Lesson: kata lesson config  (config.md, 日本語: config.ja.md)
Check: kata check config
"""

from __future__ import annotations


def check_options(port: int, allow_anonymous: bool, password_file: str | None) -> None:
    """ValueError for a port outside 1..65535, or no anonymous clients and no password file."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be a whole number within 1..65535, not {port!r}")
    if not allow_anonymous and password_file is None:
        raise ValueError(
            "allow_anonymous=False needs a password_file: otherwise nobody can connect"
        )


def directive(key: str, value: object) -> str:
    """One line of mosquitto.conf, `key value`; True and False are written true and false.

    ValueError for an empty value, or one with a line break (it would add a directive).
    """
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if "\n" in text or "\r" in text:
        raise ValueError(f"{key} must be one line, without a line break: {text!r}")
    if not text.strip():
        raise ValueError(f"{key} must not be empty")
    return f"{key} {text}"


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

    Call check_options first; build each line with directive(), in this order:
    persistence, persistence_location (only when persistence is on), log_dest
    (`file <log_file>`, or `stderr` when log_file is None), listener
    (`<port>` or `<port> <bind_address>`), allow_anonymous, password_file
    (only when given). Return the lines joined with "\\n", ending with "\\n".
    """
    raise NotImplementedError("TODO: one directive() per line, in the order above")


def parse_config(text: str) -> dict[str, list[str]]:
    """{key: [value, ...]} in file order; comment lines and blank lines skipped.

    The key is a line's first word, the value the rest, trimmed ("" when there
    is none); a repeated key keeps every value. Only a line that starts with
    '#' is a comment: in "topic # out 0" the '#' is data.
    """
    settings: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, *value = line.split(None, 1)
        settings.setdefault(key, []).append(value[0].strip() if value else "")
    return settings
