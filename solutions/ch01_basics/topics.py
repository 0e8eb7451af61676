"""Chapter 1 - topics: names, filters and wildcards exactly as the spec says (MQTT 3.1.1 §4.7).

A topic NAME is where a message is published: "sensors/kitchen/temperature".
A topic FILTER is what a subscriber asks for, and may hold wildcards:
  + matches exactly one level, which may be empty: "a/+/c" matches "a//c"
  # matches the parent level and everything below it: "sport/#" matches
    "sport", "sport/" and "sport/tennis/player1"; it must be the last level
Rules that surprise people:
- "/" separates levels, so "/finance" has two levels: "" and "finance";
  "a//b" has three. Empty levels are real levels; "a/b" and "a/b/" differ.
- Both are case-sensitive UTF-8, 1 to 65535 BYTES (not characters), never U+0000.
- A wildcard is a whole level: "sport+" and "sport/#/x" are invalid filters.
- A filter that STARTS with a wildcard never matches a topic starting with
  "$" (like "$SYS/broker/uptime"): "#" does not give you the broker's $SYS.
  "$SYS/#" does.

Implement validate_topic_name, validate_topic_filter and topic_matches.
Check your work: kata check topics (or: pytest tests/ch01_basics/test_topics.py).
"""

from __future__ import annotations

MAX_TOPIC_BYTES = 65_535


def _check_common(text: str, what: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"a topic {what} is a str, not {type(text).__name__}")
    if not text:
        raise ValueError(f"a topic {what} must not be empty (at least one character)")
    if "\0" in text:
        raise ValueError(f"a topic {what} must not contain U+0000 (the null character): {text!r}")
    size = len(text.encode("utf-8"))
    if size > MAX_TOPIC_BYTES:
        raise ValueError(
            f"a topic {what} is at most {MAX_TOPIC_BYTES} UTF-8 bytes; this one has {size}"
        )


def validate_topic_name(topic: str) -> None:
    """ValueError, naming the rule, unless topic is a valid topic name to publish to."""
    _check_common(topic, "name")
    for wildcard in "+#":
        if wildcard in topic:
            raise ValueError(
                f"a topic name must not contain the wildcard {wildcard!r} "
                f"(wildcards are for filters): {topic!r}"
            )


def validate_topic_filter(topic_filter: str) -> None:
    """ValueError, naming the rule, unless topic_filter is a valid subscription filter."""
    _check_common(topic_filter, "filter")
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level:
            if level != "#":
                raise ValueError(f"'#' must be a whole level, alone: {topic_filter!r}")
            if index != len(levels) - 1:
                raise ValueError(f"'#' must be the last level: {topic_filter!r}")
        if "+" in level and level != "+":
            raise ValueError(f"'+' must be a whole level, alone: {topic_filter!r}")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Does a message published to topic reach a subscription to topic_filter?"""
    validate_topic_filter(topic_filter)
    validate_topic_name(topic)
    if topic.startswith("$") and topic_filter[0] in "+#":
        return False
    wanted = topic_filter.split("/")
    levels = topic.split("/")
    for index, pattern in enumerate(wanted):
        if pattern == "#":
            # "#" also matches the parent level itself: "sport/#" matches "sport".
            return True
        if index >= len(levels):
            return False
        if pattern != "+" and pattern != levels[index]:
            return False
    return len(wanted) == len(levels)
