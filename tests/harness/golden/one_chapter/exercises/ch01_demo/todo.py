"""Todo: the untouched stub."""


def greet(name: str) -> str:
    raise NotImplementedError("TODO: return 'hello ' + name")
