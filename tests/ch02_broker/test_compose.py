"""Chapter 2: the seed's docker run as a compose service (exercises/ch02_broker/compose.py)."""

from __future__ import annotations

import os
import re
import shlex
import warnings
from pathlib import Path, PureWindowsPath

import pytest
import yaml

from kata import exercise
from kata.core.brokers import LOOPBACK, Broker, free_port, wait_ready
from kata.core.catalog import ROOT
from kata.core.expect import expect_raises
from kata.core.i18n import teach

compose = exercise("ch02_broker.compose")
config = exercise("ch02_broker.config")

COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
# The study plan's command, its image pinned to Mosquitto 2 as the kata does.
SEED_DOCKER_RUN = (
    "docker run -p 1883:1883 -v ./config:/mosquitto/config "
    "-v ./data:/mosquitto/data -v ./log:/mosquitto/log eclipse-mosquitto:2"
)


def _repo_service() -> dict:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "docker/compose.yaml should be a YAML mapping"
    return document["services"]["mosquitto"]


def test_compose_service_carries_every_flag_of_the_seed_docker_run() -> None:
    service = compose.compose_service("./config", "./data", "./log")
    words = shlex.split(SEED_DOCKER_RUN)
    ports = [words[i + 1] for i, word in enumerate(words) if word == "-p"]
    volumes = [words[i + 1] for i, word in enumerate(words) if word == "-v"]
    assert isinstance(service, dict), f"compose_service returns a dict, not {service!r}"
    assert service.get("image") == words[-1], teach(
        en=f"image: {words[-1]} (the last word of docker run); got {service.get('image')!r}",
        ja=f"image は {words[-1]} です (docker run の最後の語)。結果: {service.get('image')!r}",
    )
    assert service.get("ports") == ports, teach(
        en=f"-p {ports[0]} becomes ports: [{ports[0]!r}] (no bind_address: every interface, "
        f"as docker run -p); got {service.get('ports')!r}",
        ja=f"-p {ports[0]} は ports: [{ports[0]!r}] になります (bind_address なし = "
        f"docker run -p と同じく全インターフェース)。結果: {service.get('ports')!r}",
    )
    assert service.get("volumes") == volumes, teach(
        en=f"each -v becomes one entry of volumes, in order: {volumes}; "
        f"got {service.get('volumes')!r}",
        ja=f"-v は 1 つずつ、同じ順番で volumes の要素になります: {volumes}。"
        f"結果: {service.get('volumes')!r}",
    )
    assert service.get("container_name") == "mosquitto", teach(
        en="container_name: mosquitto, so that `docker exec -it mosquitto ...` finds it; "
        f"got {service.get('container_name')!r}",
        ja="container_name は mosquitto です (`docker exec -it mosquitto ...` で呼べるように)。"
        f"結果: {service.get('container_name')!r}",
    )
    assert service.get("restart") == "unless-stopped", teach(
        en=f"restart: unless-stopped; got {service.get('restart')!r}",
        ja=f"restart は unless-stopped です。結果: {service.get('restart')!r}",
    )


def test_bind_address_keeps_the_broker_on_one_interface() -> None:
    service = compose.compose_service("./config", "./data", "./log", bind_address="127.0.0.1")
    assert service["ports"] == ["127.0.0.1:1883:1883"], teach(
        en="bind_address='127.0.0.1' publishes the port on this computer's loopback only: "
        f"ports: ['127.0.0.1:1883:1883'] (ADDRESS:HOST_PORT:CONTAINER_PORT); "
        f"got {service['ports']!r}",
        ja="bind_address='127.0.0.1' なら、ポートはこのコンピューターの"
        "ループバックだけに公開します: "
        f"ports: ['127.0.0.1:1883:1883'] (アドレス:ホストのポート:コンテナのポート)。"
        f"結果: {service['ports']!r}",
    )
    other = compose.compose_service("./c", "./d", "./l", port=18830, bind_address="192.168.1.20")
    assert other["ports"] == ["192.168.1.20:18830:1883"], teach(
        en="bind_address and port are both the host's side: "
        f"['192.168.1.20:18830:1883']; got {other['ports']!r}",
        ja="bind_address と port はどちらもホスト側の値です: "
        f"['192.168.1.20:18830:1883']。結果: {other['ports']!r}",
    )


def test_the_repos_compose_yaml_is_your_service_on_loopback() -> None:
    service = compose.compose_service("./config", "./data", "./log", bind_address="127.0.0.1")
    expected = _repo_service()
    assert service == expected, teach(
        en="compose_service('./config', './data', './log', bind_address='127.0.0.1') should "
        f"equal services.mosquitto of docker/compose.yaml:\n  expected {expected}\n"
        f"  got      {service}",
        ja="compose_service('./config', './data', './log', bind_address='127.0.0.1') は "
        f"docker/compose.yaml の services.mosquitto と等しくなるはずです:\n  期待 {expected}\n"
        f"  結果 {service}",
    )
    assert all(port.startswith("127.0.0.1:") for port in expected["ports"]), (
        "docker/compose.yaml must publish its anonymous broker on 127.0.0.1 only "
        "(see docker/README.md before opening it)"
    )


def test_compose_service_takes_your_directories_and_port() -> None:
    base = Path("/srv/mqtt")
    service = compose.compose_service(base / "config", base / "data", base / "log", port=18830)
    assert service["ports"] == ["18830:1883"], teach(
        en="port is the host's side; inside the container mosquitto listens on 1883 "
        f"(listener 1883): ['18830:1883']; got {service['ports']!r}",
        ja="port はホスト側の番号です。コンテナの中の mosquitto は 1883 で待ち受けます "
        f"(listener 1883): ['18830:1883']。結果: {service['ports']!r}",
    )
    assert service["volumes"] == [
        f"{base / 'config'}:/mosquitto/config",
        f"{base / 'data'}:/mosquitto/data",
        f"{base / 'log'}:/mosquitto/log",
    ], f"a pathlib.Path works as well as a str (os.fspath); got {service['volumes']!r}"
    windows = PureWindowsPath(r"C:\mqtt")
    on_windows = compose.compose_service(windows / "config", windows / "data", windows / "log")
    assert on_windows["volumes"][0] == r"C:\mqtt\config:/mosquitto/config", teach(
        en="Docker Desktop on Windows takes the folder as Windows writes it: "
        rf"'C:\mqtt\config:/mosquitto/config'; got {on_windows['volumes'][0]!r}",
        ja="Windows の Docker Desktop は、フォルダーを Windows の書き方のまま受け取ります: "
        rf"'C:\mqtt\config:/mosquitto/config'。結果: {on_windows['volumes'][0]!r}",
    )


def test_each_call_gives_a_fresh_mapping() -> None:
    first = compose.compose_service("./config", "./data", "./log")
    first["volumes"].append("./extra:/extra")
    second = compose.compose_service("./config", "./data", "./log")
    assert "./extra:/extra" not in second["volumes"], (
        "return new lists each time: a caller that changes one result must not change the next"
    )


@pytest.mark.parametrize(
    ("options", "rule"),
    [
        ({"port": 0}, "port"),
        ({"port": 65_536}, "port"),
        ({"port": -1883}, "port"),
        ({"bind_address": "localhost"}, "bind_address"),
        ({"bind_address": "127.0.0.1:1883"}, "bind_address"),
    ],
    ids=["port-0", "port-65536", "port-negative", "bind-localhost", "bind-with-port"],
)
def test_compose_service_rejects_what_docker_would_not_take(options, rule) -> None:
    error = expect_raises(
        ValueError,
        compose.compose_service, "./config", "./data", "./log", **options,
        why=teach(
            en=f"Docker would not take this {rule} (call check_arguments first)",
            ja=f"Docker はこの {rule} を受け付けません (先に check_arguments を呼びます)",
        ),
    )  # fmt: skip
    assert re.search(rule, str(error)), teach(
        en=f"the ValueError should name the {rule}; got {str(error)!r}",
        ja=f"ValueError のメッセージには {rule} を書きます。実際は {str(error)!r} でした",
    )


@pytest.mark.needs_private_broker
def test_the_seed_setup_runs_in_docker(broker, tmp_path, connect, topic) -> None:
    # The seed's way, for real: its config rendered into ./config, the
    # container started from the compose mapping, data and log folders mounted.
    folders = {name: tmp_path / name for name in ("config", "data", "log")}
    port = free_port()
    service = compose.compose_service(
        folders["config"], folders["data"], folders["log"], port=port, bind_address=LOOPBACK
    )
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
        address, outside, inside = mapping.split(":")
        container.ports[f"{inside}/tcp"] = (address, int(outside))
    container.start()
    try:
        wait_ready(Broker("docker", LOOPBACK, port), timeout=30.0)
        client = connect(LOOPBACK, port)
        client.subscribe(f"{topic}/seed", qos=1)
        client.publish(f"{topic}/seed", b"hello from the seed's broker", qos=1, retain=True)
        assert client.get().payload == b"hello from the seed's broker"
        client.close()
        container.get_wrapped_container().stop(timeout=10)  # SIGTERM, as `docker stop`
        assert (folders["data"] / "mosquitto.db").is_file(), teach(
            en="persistence true: the broker saved mosquitto.db into the mounted data folder "
            "when it stopped",
            ja="persistence true: ブローカーは停止するときに、マウントした data フォルダーへ "
            "mosquitto.db を保存します",
        )
        log = (folders["log"] / "mosquitto.log").read_text(encoding="utf-8", errors="replace")
        assert "mosquitto version" in log, teach(
            en=f"the log folder holds mosquitto.log (log_dest file); it says:\n{log}",
            ja=f"log フォルダーには mosquitto.log があります (log_dest file)。内容:\n{log}",
        )
    finally:
        container.stop()
