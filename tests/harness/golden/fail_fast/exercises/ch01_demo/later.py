"""Later: the untouched stub, never reached by a fail-fast run."""


def greet(name: str) -> str:
    raise NotImplementedError("TODO: return 'hello ' + name")
