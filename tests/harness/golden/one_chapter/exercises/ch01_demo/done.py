"""Done: the learner's answer."""


def payload(n: int) -> bytes:
    return f"reading {n}".encode()
