"""Broken: a syntax error on line 5."""


def shout(text: str) -> str:
    return text.upper() + "!
