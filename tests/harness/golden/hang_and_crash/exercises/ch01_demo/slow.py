"""Slow: waits for an acknowledgement that never comes."""

import threading


def wait_for_ack() -> bool:
    return threading.Event().wait()
