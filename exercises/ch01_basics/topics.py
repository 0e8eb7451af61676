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
日本語のヒント: kata hint topics --lang ja
"""

from __future__ import annotations


def validate_topic_name(topic: str) -> None:
    """ValueError, naming the rule, unless topic is a valid topic name to publish to.

    Invalid: empty; containing '+' or '#'; containing U+0000 ("\\0"); more
    than 65535 bytes once encoded as UTF-8 ("é" is one character, two bytes).
    Everything else is valid, including "/", "a//b", " " and "$SYS/x".
    The message says which rule was broken, e.g.
    "a topic name must not contain the wildcard '+': 'a/+'".
    """
    raise NotImplementedError("TODO: check empty, wildcards, U+0000, UTF-8 length")


def validate_topic_filter(topic_filter: str) -> None:
    """ValueError, naming the rule, unless topic_filter is a valid subscription filter.

    Invalid: empty; U+0000; over 65535 UTF-8 bytes; '#' anywhere but alone in
    the last level ("a/#/b", "a/b#"); '+' not alone in its level ("a+/b").
    Valid: "#", "+", "/#", "+/+", "a/+/#", "$SYS/#". The message names the
    rule, e.g. "'#' must be the last level: 'a/#/b'".
    """
    raise NotImplementedError("TODO: the common checks, then look at each level of split('/')")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Does a message published to topic reach a subscription to topic_filter?

    Validate both first (ValueError for an invalid filter or name). Then
    compare level by level (split("/")): '+' takes any one level, '#' takes
    the rest, including nothing ("sport/#" matches "sport"). A filter that
    starts with '+' or '#' never matches a topic that starts with '$'.
    """
    raise NotImplementedError("TODO: validate, the $ rule, then walk the levels")
