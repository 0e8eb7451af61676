"""Chapter 1 - topics: names, filters and wildcards exactly as the spec says (MQTT §4.7).

The core rules are in the first_message lesson; this one is about the edge cases.
Lesson: kata lesson topics  (topics.md, 日本語: topics.ja.md)
Check: kata check topics
"""

from __future__ import annotations


def validate_topic_name(topic: str) -> None:
    """ValueError, naming the broken rule, unless topic is a valid topic name.

    Invalid: empty; '+' or '#' anywhere; U+0000; over 65535 UTF-8 bytes.
    Everything else is valid, e.g. "/", "a//b", " ", "$SYS/x".
    """
    raise NotImplementedError("TODO: check empty, wildcards, U+0000, UTF-8 length")


def validate_topic_filter(topic_filter: str) -> None:
    """ValueError, naming the broken rule, unless topic_filter is a valid filter.

    Invalid: empty; U+0000; over 65535 UTF-8 bytes; '#' not alone in the last
    level ("a/#/b", "a/b#"); '+' not alone in its level ("a+/b").
    """
    raise NotImplementedError("TODO: the common checks, then look at each level of split('/')")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Does a message published to topic reach a subscription to topic_filter?

    Validate both first (ValueError). Then compare level by level: '+' is one
    level, '#' all the rest, even none ("sport/#" matches "sport"). A filter
    that starts with '+' or '#' never matches a topic that starts with '$'.
    """
    raise NotImplementedError("TODO: validate, the $ rule, then walk the levels")
