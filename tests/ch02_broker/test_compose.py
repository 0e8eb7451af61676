"""Chapter 2: the seed's docker run as a compose service (exercises/ch02_broker/compose.py)."""

from __future__ import annotations

import os
import shlex
import warnings
from pathlib import Path, PureWindowsPath

import pytest

from kata import exercise
from kata.core.brokers import LOOPBACK, Broker, free_port, wait_ready
from kata.core.catalog import ROOT

compose = exercise("ch02_broker.compose")
config = exercise("ch02_broker.config")

COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
SEED_DOCKER_RUN = (
    "docker run -it -p 1883:1883 -v ./config:/mosquitto/config "
    "-v ./data:/mosquitto/data -v ./log:/mosquitto/log eclipse-mosquitto:2"
)


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _load_yaml_subset(text: str) -> object:
    """Just enough YAML for docker/compose.yaml: nested mappings, lists of scalars, quotes.

    (PyYAML is not one of the kata's dependencies; when it is installed, the
    test below checks this reading against it.)
    """
    lines = [
        (len(raw) - len(raw.lstrip(" ")), raw.strip())
        for raw in text.splitlines()
        if raw.strip() and not raw.strip().startswith("#")
    ]

    def block(i: int, indent: int) -> tuple[object, int]:
        if lines[i][1].startswith("- "):
            items = []
            while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                items.append(_scalar(lines[i][1][2:]))
                i += 1
            return items, i
        mapping: dict[str, object] = {}
        while i < len(lines) and lines[i][0] == indent:
            key, _, rest = lines[i][1].partition(":")
            i += 1
            if rest.strip():
                mapping[key.strip()] = _scalar(rest)
            else:
                mapping[key.strip()], i = block(i, lines[i][0])
        return mapping, i

    value, _ = block(0, lines[0][0])
    return value


def _repo_service() -> dict:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    document = _load_yaml_subset(text)
    assert isinstance(document, dict), "docker/compose.yaml should be a mapping"
    try:
        import yaml
    except ImportError:
        pass
    else:
        assert yaml.safe_load(text) == document, "the test's YAML reading differs from PyYAML"
    return document["services"]["mosquitto"]


def test_compose_service_equals_the_repos_compose_yaml() -> None:
    service = compose.compose_service("./config", "./data", "./log")
    expected = _repo_service()
    assert service == expected, (
        "compose_service('./config', './data', './log') should equal services.mosquitto of "
        f"docker/compose.yaml:\n  expected {expected}\n  got      {service}"
    )


def test_compose_service_carries_every_flag_of_the_seed_docker_run() -> None:
    service = compose.compose_service("./config", "./data", "./log")
    words = shlex.split(SEED_DOCKER_RUN)
    ports = [words[i + 1] for i, word in enumerate(words) if word == "-p"]
    volumes = [words[i + 1] for i, word in enumerate(words) if word == "-v"]
    assert service.get("image") == words[-1], f"image: {words[-1]} (the last word of docker run)"
    assert service.get("ports") == ports, f"-p {ports[0]} becomes ports: [{ports[0]!r}]"
    assert service.get("volumes") == volumes, f"each -v becomes one entry of volumes: {volumes}"


def test_compose_service_takes_your_directories_and_port() -> None:
    base = Path("/srv/mqtt")
    service = compose.compose_service(base / "config", base / "data", base / "log", port=18830)
    assert service["ports"] == ["18830:1883"], (
        f"port is the host's side; inside the container mosquitto listens on 1883; "
        f"got {service['ports']!r}"
    )
    assert service["volumes"] == [
        f"{base / 'config'}:/mosquitto/config",
        f"{base / 'data'}:/mosquitto/data",
        f"{base / 'log'}:/mosquitto/log",
    ], f"a pathlib.Path works as well as a str (os.fspath); got {service['volumes']!r}"
    windows = PureWindowsPath(r"C:\mqtt")
    on_windows = compose.compose_service(windows / "config", windows / "data", windows / "log")
    assert on_windows["volumes"][0] == r"C:\mqtt\config:/mosquitto/config", (
        "Docker Desktop on Windows takes the folder as Windows writes it"
    )


def test_each_call_gives_a_fresh_mapping() -> None:
    first = compose.compose_service("./config", "./data", "./log")
    first["volumes"].append("./extra:/extra")
    second = compose.compose_service("./config", "./data", "./log")
    assert "./extra:/extra" not in second["volumes"], (
        "return new lists each time: a caller that changes one result must not change the next"
    )


@pytest.mark.parametrize("port", [0, 65_536, -1883])
def test_compose_service_rejects_an_invalid_port(port) -> None:
    with pytest.raises(ValueError):
        compose.compose_service("./config", "./data", "./log", port=port)
        pytest.fail(f"port={port}: a TCP port is 1..65535; expected ValueError")


@pytest.mark.needs_private_broker
def test_the_seed_setup_runs_in_docker(broker, tmp_path, connect, topic) -> None:
    # The seed's way, for real: its config rendered into ./config, the
    # container started from the compose mapping, data and log folders mounted.
    folders = {name: tmp_path / name for name in ("config", "data", "log")}
    port = free_port()
    service = compose.compose_service(folders["config"], folders["data"], folders["log"], port=port)
    seed = config.render_config()
    if broker.kind != "docker":
        pytest.skip("runs with the Docker broker path only (--broker docker)")
    for folder in folders.values():
        folder.mkdir()
        # The seed's config has no `user` line: mosquitto drops to its own
        # user inside the container, which must write mosquitto.db and the log.
        folder.chmod(0o777)
    (folders["config"] / "mosquitto.conf").write_text(seed, encoding="utf-8")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from testcontainers.core.container import DockerContainer

    image = os.environ.get("KATA_MOSQUITTO_IMAGE") or service["image"]
    container = DockerContainer(image)
    for volume in service["volumes"]:
        host_dir, inside = volume.rsplit(":", 1)
        container.with_volume_mapping(host_dir, inside, "rw")
    for mapping in service["ports"]:
        outside, inside = mapping.split(":")
        # Loopback only: the seed's broker lets anyone in.
        container.ports[f"{inside}/tcp"] = (LOOPBACK, int(outside))
    container.start()
    try:
        wait_ready(Broker("docker", LOOPBACK, port), timeout=30.0)
        client = connect(LOOPBACK, port)
        client.subscribe(f"{topic}/seed", qos=1)
        client.publish(f"{topic}/seed", b"hello from the seed's broker", qos=1, retain=True)
        assert client.get().payload == b"hello from the seed's broker"
        client.close()
        container.get_wrapped_container().stop(timeout=10)  # SIGTERM, as `docker stop`
        assert (folders["data"] / "mosquitto.db").is_file(), (
            "persistence true: the broker saved mosquitto.db into the mounted data folder"
        )
        log = (folders["log"] / "mosquitto.log").read_text(encoding="utf-8", errors="replace")
        assert "mosquitto version" in log, f"the log folder holds mosquitto.log; it says:\n{log}"
    finally:
        container.stop()
