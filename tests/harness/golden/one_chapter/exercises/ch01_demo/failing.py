"""Failing: an answer with a mistake."""


def add(a: int, b: int) -> int:
    return a - b
