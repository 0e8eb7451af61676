"""Chapter 1 - topics: names, filters and wildcards exactly as the spec says (MQTT §4.7).

The core rules are in the first_message lesson; this one is about the edge cases.
Lesson: kata lesson topics  (topics.md, 日本語: topics.ja.md)
Check: kata check topics
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
    """ValueError, naming the broken rule, unless topic is a valid topic name.

    Invalid: empty; '+' or '#' anywhere; U+0000; over 65535 UTF-8 bytes.
    Everything else is valid, e.g. "/", "a//b", " ", "$SYS/x".
    """
    _check_common(topic, "name")
    for wildcard in "+#":
        if wildcard in topic:
            raise ValueError(
                f"a topic name must not contain the wildcard {wildcard!r} "
                f"(wildcards are for filters): {topic!r}"
            )


def validate_topic_filter(topic_filter: str) -> None:
    """ValueError, naming the broken rule, unless topic_filter is a valid filter.

    Invalid: empty; U+0000; over 65535 UTF-8 bytes; '#' not alone in the last
    level ("a/#/b", "a/b#"); '+' not alone in its level ("a+/b").
    """
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
    """Does a message published to topic reach a subscription to topic_filter?

    Validate both first (ValueError). Then compare level by level: '+' is one
    level, '#' all the rest, even none ("sport/#" matches "sport"). A filter
    that starts with '+' or '#' never matches a topic that starts with '$'.
    """
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
