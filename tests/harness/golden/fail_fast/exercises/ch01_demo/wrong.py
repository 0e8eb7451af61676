"""Wrong: subtracts where it should add."""


def add(a: int, b: int) -> int:
    return a - b
