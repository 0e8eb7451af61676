"""Crash: a callback that raises on its own thread, as on paho's network thread."""

import threading


def on_message(payload: bytes) -> None:
    int(payload)


def deliver(payload: bytes) -> None:
    worker = threading.Thread(target=on_message, args=(payload,), name="network")
    worker.start()
    worker.join()
