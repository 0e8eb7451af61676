"""Chapter 2 - the seed's `docker run` as a compose service.

The seed starts its broker with one long command:

    docker run -it -p 1883:1883 -v ./config:/mosquitto/config \\
        -v ./data:/mosquitto/data -v ./log:/mosquitto/log eclipse-mosquitto:2

Every flag has a place in a compose file (https://docs.docker.com/compose/):
-p HOST:CONTAINER goes to `ports`, -v HOST_DIR:CONTAINER_DIR to `volumes`
(config holds mosquitto.conf, data gets mosquitto.db, log gets mosquitto.log),
the image to `image`. A name (`container_name: mosquitto`) and
`restart: unless-stopped` make it a service you can leave running.
docker/compose.yaml in this repository is the filled-in result; try it:

    docker compose -f docker/compose.yaml up -d
    mosquitto_sub -h localhost -t test/topic -v

Implement compose_service: the `services.mosquitto` mapping as Python data
(what yaml.safe_load gives for that part of the file).
Check your work: kata check compose (or: pytest tests/ch02_broker/test_compose.py).
日本語のヒント: kata hint compose --lang ja
"""

from __future__ import annotations

import os


def compose_service(
    config_dir: str | os.PathLike[str],
    data_dir: str | os.PathLike[str],
    log_dir: str | os.PathLike[str],
    port: int = 1883,
) -> dict:
    """The services.mosquitto mapping of a compose file for the seed's broker.

    compose_service("./config", "./data", "./log") must equal what
    docker/compose.yaml holds under services.mosquitto: keys image,
    container_name, restart, ports (a list of "HOST:CONTAINER" strings) and
    volumes (a list of "HOST_DIR:CONTAINER_DIR" strings). `port` is the
    host's side; inside the container Mosquitto listens on 1883. The
    directories may be str or pathlib.Path. ValueError for a port outside
    1..65535.
    """
    raise NotImplementedError("TODO: return a dict like the one in docker/compose.yaml")
