"""The study plan's `docker run` for Mosquitto, written as a docker compose service.

Lesson: kata lesson compose  (compose.md, 日本語: compose.ja.md)
Check: kata check compose
"""

from __future__ import annotations

import ipaddress
import os

IMAGE = "eclipse-mosquitto:2"
INSIDE_PORT = 1883  # `listener 1883` in mosquitto.conf: the port inside the container


def check_arguments(port: int, bind_address: str | None) -> None:
    """ValueError for a host port outside 1..65535 or a bind_address that is not IPv4."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be a whole number within 1..65535, not {port!r}")
    if bind_address is not None:
        try:
            ipaddress.IPv4Address(str(bind_address))
        except ValueError:
            raise ValueError(
                f"bind_address must be an IPv4 address such as 127.0.0.1, not {bind_address!r}"
            ) from None


def compose_service(
    config_dir: str | os.PathLike[str],
    data_dir: str | os.PathLike[str],
    log_dir: str | os.PathLike[str],
    port: int = 1883,
    bind_address: str | None = None,
) -> dict:
    """services.mosquitto of a compose file: the study plan's docker run as data.

    Keys image, container_name ("mosquitto"), restart ("unless-stopped"),
    ports (["HOST_PORT:1883"], or ["BIND_ADDRESS:HOST_PORT:1883"]) and volumes
    (["DIR:/mosquitto/config", ...data, ...log]); dirs may be str or Path.
    Call check_arguments(port, bind_address) first.
    """
    raise NotImplementedError("TODO: one key per docker run flag, as in docker/compose.yaml")
