"""The Broker record and the three ways to get one: docker, local, external.

- docker:   testcontainers starts a mosquitto image with the kata's config.
- local:    the `mosquitto` binary on this machine, on free 127.0.0.1 ports.
- external: a broker you name with MQTT_BROKER_URL (e.g. a cloud broker).

Readiness is always the broker's own signal: an MQTT CONNACK, not an open
TCP port and not a log line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kata.core.i18n import MESSAGES, pick_language, t
from kata.core.mosquitto import BrokerFiles, Ports, write_broker_files

MODES = ("auto", "docker", "local", "external")
DEFAULT_IMAGE = "eclipse-mosquitto:2"
SHARED_ENV = "KATA_BROKER_JSON"  # a broker lent by `kata watch` to its test runs (Broker.to_json)
LOOPBACK = "127.0.0.1"
# Where mosquitto lives when it is installed but not on PATH (Debian puts it
# in /usr/sbin, Homebrew in its own prefix).
_EXTRA_BIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin", "/opt/homebrew/bin")

# The English text; no_broker_help() gives it in the learner's language.
NO_BROKER_HELP = MESSAGES["no_broker.help"]["en"]


class BrokerError(RuntimeError):
    """A broker could not be started or reached; the message says why."""


class NoBrokerError(BrokerError):
    pass


class BrokerDied(BrokerError):
    pass


class Runner(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def kill(self) -> None: ...
    def alive(self) -> bool: ...
    def close(self) -> None: ...
    def log_tail(self, lines: int = 20) -> str: ...


@dataclass(frozen=True)
class Broker:
    """Where tests find the broker. Ports are None when a listener is missing."""

    kind: str
    host: str
    port: int
    auth_port: int | None = None
    tls_port: int | None = None
    ca_path: Path | None = None
    users: dict[str, str] = field(default_factory=dict)
    tls: bool = False  # the plain `port` itself speaks TLS (external mqtts://)
    username: str | None = None
    # Never in a repr: a failing assertion about the broker would print it
    # on the terminal and into junit.xml.
    password: str | None = field(default=None, repr=False)
    version: str = ""
    runner: Runner | None = field(default=None, compare=False, repr=False)

    def describe(self) -> str:
        parts = [f"{self.kind}"]
        if self.version:
            parts.append(self.version)
        listeners = [f"mqtt {self.host}:{self.port}"]
        if self.auth_port:
            listeners.append(f"auth :{self.auth_port}")
        if self.tls_port:
            listeners.append(f"tls :{self.tls_port}")
        return " ".join(parts) + " - " + ", ".join(listeners)

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    # Private brokers (broker_factory) can be stopped, killed and started again
    # on the same ports; the session broker is only stopped at the end.
    def _require_runner(self) -> Runner:
        if self.runner is None:
            raise BrokerError(f"the {self.kind} broker at {self.url} is not run by the kata")
        return self.runner

    def stop(self) -> None:
        self._require_runner().stop()

    def kill(self) -> None:
        self._require_runner().kill()

    def start(self, timeout: float = 10.0) -> None:
        runner = self._require_runner()
        runner.start()
        wait_ready(self, timeout, runner)

    def alive(self) -> bool:
        return self.runner.alive() if self.runner else True

    def close(self) -> None:
        """Stop for good and remove what was started (process, container)."""
        if self.runner is not None:
            self.runner.close()

    def log_tail(self, lines: int = 20) -> str:
        return self.runner.log_tail(lines) if self.runner else ""

    def to_json(self) -> str:
        """What another process needs to use this broker (not its runner: not its to stop)."""
        data = dataclasses.asdict(dataclasses.replace(self, runner=None))
        del data["runner"]
        data["ca_path"] = str(self.ca_path) if self.ca_path else None
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Broker:
        data = json.loads(text)
        ca_path = data.pop("ca_path", None)
        return cls(ca_path=Path(ca_path) if ca_path else None, **data)


# --- readiness -------------------------------------------------------------


def _mqtt_string(text: str) -> bytes:
    data = text.encode("utf-8")
    return len(data).to_bytes(2, "big") + data


def _remaining_length(size: int) -> bytes:
    out = bytearray()
    while True:
        size, digit = divmod(size, 128)
        out.append(digit | (0x80 if size else 0))
        if not size:
            return bytes(out)


# An MQTT 3.1.1 CONNECT (clean session, keepalive 5 s), with a login if given.
def _connect_bytes(username: str | None = None, password: str | None = None) -> bytes:
    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    variable = b"\x00\x04MQTT\x04" + bytes([flags]) + b"\x00\x05"
    payload = _mqtt_string("kata-" + uuid.uuid4().hex[:7])
    if username is not None:
        payload += _mqtt_string(username)
    if password is not None:
        payload += _mqtt_string(password)
    body = variable + payload
    return b"\x10" + _remaining_length(len(body)) + body


def connack_code(
    host: str,
    port: int,
    timeout: float = 1.0,
    tls_context: ssl.SSLContext | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
) -> int:
    """Send CONNECT and return the CONNACK return code (0 = accepted).

    OSError when nothing listens or the answer is not a CONNACK (ssl's
    errors are OSErrors too).
    """
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(socket.create_connection((host, port), timeout=timeout))
        if tls_context is not None:
            sock = stack.enter_context(tls_context.wrap_socket(sock, server_hostname=host))
        sock.settimeout(timeout)
        sock.sendall(_connect_bytes(username, password))
        answer = b""
        while len(answer) < 4:
            chunk = sock.recv(4 - len(answer))
            if not chunk:
                raise ConnectionResetError("connection closed before CONNACK")
            answer += chunk
        if answer[0] != 0x20 or answer[1] != 0x02:
            raise ConnectionError(f"not an MQTT CONNACK: {answer!r}")
        with contextlib.suppress(OSError):
            sock.sendall(b"\xe0\x00")
        return answer[3]


def wait_ready(broker: Broker, timeout: float, runner: Runner | None = None) -> float:
    """Block until the broker answers CONNECT with CONNACK; returns seconds waited."""
    start = time.monotonic()
    deadline = start + timeout
    delay = 0.002
    last: Exception | None = None
    while True:
        if runner is not None and not runner.alive():
            raise BrokerDied(
                f"the {broker.kind} broker exited while starting:\n{runner.log_tail()}"
            )
        try:
            connack_code(broker.host, broker.port, timeout=max(0.2, deadline - time.monotonic()))
            return time.monotonic() - start
        except OSError as exc:
            last = exc
        if time.monotonic() >= deadline:
            tail = runner.log_tail() if runner else ""
            raise BrokerError(
                f"no CONNACK from {broker.host}:{broker.port} within {timeout:.1f} s "
                f"({last}){chr(10) + tail if tail else ''}"
            )
        # Polling a port that is not open yet: a short, growing pause between
        # attempts, bounded by the deadline.
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# --- local -----------------------------------------------------------------


def find_mosquitto() -> str | None:
    """KATA_MOSQUITTO if set (and then only it), else PATH, else the usual places."""
    named = os.environ.get("KATA_MOSQUITTO")
    if named:
        path = Path(named)
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    found = shutil.which("mosquitto")
    if found:
        return found
    for directory in _EXTRA_BIN_DIRS:
        candidate = Path(directory) / "mosquitto"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def no_broker_help() -> str:
    """NO_BROKER_HELP in the learner's language."""
    return t("no_broker.help", pick_language(None))


def _no_binary() -> str:
    named = os.environ.get("KATA_MOSQUITTO")
    if named:
        return t("no_broker.kata_mosquitto", pick_language(None), named=named)
    return t("no_broker.not_on_path", pick_language(None))


@functools.lru_cache(maxsize=8)
def mosquitto_version(binary: str) -> str:
    try:
        out = subprocess.run(
            [binary, "-h"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    first = out.splitlines()[0] if out else ""
    return first.replace("mosquitto version ", "mosquitto ").strip()


def _die_with_parent() -> None:
    """Linux: the broker gets SIGKILL when the test process dies, however it dies."""
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class LocalRunner:
    """One mosquitto process; can be started again with the same config and ports."""

    def __init__(self, binary: str, config: Path, log_path: Path) -> None:
        self.binary = binary
        self.config = config
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.alive():
            return
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            kwargs: dict = {}
            if sys.platform != "win32":
                kwargs["start_new_session"] = True  # Ctrl-C reaches pytest, not the broker
                if sys.platform.startswith("linux"):
                    kwargs["preexec_fn"] = _die_with_parent
            else:
                kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                **kwargs,
            )
        finally:
            log.close()
        if self not in _LIVE:
            _LIVE.append(self)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM, so mosquitto writes its persistence file, then wait."""
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.process = None
        with contextlib.suppress(ValueError):
            _LIVE.remove(self)

    def kill(self) -> None:
        """SIGKILL: the broker dies as in a crash, without saving anything."""
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            if sys.platform != "win32":
                proc.send_signal(signal.SIGKILL)
            else:
                proc.kill()
            proc.wait(timeout=5)
        self.process = None
        with contextlib.suppress(ValueError):
            _LIVE.remove(self)

    def close(self) -> None:
        # Nothing is left to save at the end: SIGKILL spares the ~100 ms
        # mosquitto takes to notice SIGTERM.
        self.kill()

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class BrokerSpec:
    """What broker to start: the kata's config, changed, or a whole config of one's own.

    `users`, `acl` (rules or acl_file text) and `extra` (more config lines)
    change the kata's config; `config_text` replaces it whole (then `port`
    must be the port it listens on).
    """

    listeners: tuple[str, ...] = ("mqtt", "auth", "tls")
    port: int | None = None
    persistence: bool = False
    config_text: str | None = None
    users: dict[str, str] | None = None
    acl: dict[str, list[tuple[str, str]]] | str | None = None
    extra: str = ""

    def ports(self) -> Ports:
        return Ports(
            mqtt=self.port or free_port(),
            auth=free_port() if "auth" in self.listeners else None,
            tls=free_port() if "tls" in self.listeners else None,
        )

    def write(self, workdir: Path, ports: Ports, *, in_container: bool) -> BrokerFiles:
        workdir.mkdir(parents=True, exist_ok=True)
        if self.config_text is not None:
            config = workdir / "mosquitto.conf"
            config.write_text(self.config_text, encoding="utf-8")
            return BrokerFiles(workdir, config, None, {})
        if self.persistence and not in_container:
            (workdir / "data").mkdir(exist_ok=True)
        data_dir = "/mosquitto/data" if in_container else str(workdir / "data")
        return write_broker_files(
            workdir,
            ports,
            seen_as="/mosquitto/config" if in_container else None,
            bind_address="0.0.0.0" if in_container else LOOPBACK,
            persistence_dir=data_dir if self.persistence else None,
            users=self.users,
            acl=self.acl,
            extra=self.extra,
        )


def start_local(workdir: Path, *, timeout: float = 10.0, **spec: object) -> Broker:
    """Start mosquitto from PATH in `workdir`; `spec` as BrokerSpec's fields."""
    wanted = BrokerSpec(**spec)  # type: ignore[arg-type]
    binary = find_mosquitto()
    if binary is None:
        raise NoBrokerError(f"{_no_binary()}\n{no_broker_help()}")
    version = mosquitto_version(binary)
    last_error: BrokerError | None = None
    # A free port can be taken between our probe and mosquitto's bind: retry.
    for _ in range(3):
        ports = wanted.ports()
        files = wanted.write(workdir, ports, in_container=False)
        runner = LocalRunner(binary, files.config, workdir / "mosquitto.log")
        broker = _broker_record("local", LOOPBACK, ports, files, version, runner)
        runner.start()
        try:
            wait_ready(broker, timeout, runner)
            return broker
        except BrokerError as exc:
            runner.kill()
            last_error = exc
            if wanted.port is not None or "Address already in use" not in runner.log_tail():
                break
    assert last_error is not None
    raise last_error


def _broker_record(
    kind: str, host: str, ports: Ports, files: BrokerFiles, version: str, runner: Runner | None
) -> Broker:
    return Broker(
        kind=kind,
        host=host,
        port=ports.mqtt,
        auth_port=ports.auth,
        tls_port=ports.tls,
        ca_path=files.ca_path,
        users=files.users,
        version=version,
        runner=runner,
    )


# --- docker ----------------------------------------------------------------


DOCKER_SOCKET = "/var/run/docker.sock"  # docker-py's default on Linux and macOS


def docker_engine_answers(timeout: float = 2.0) -> tuple[bool, str]:
    """Ask the Docker engine for a ping, bounded by `timeout`; (ok, why-not)."""
    if not os.environ.get("DOCKER_HOST") and sys.platform != "win32":
        # Where docker-py would look without DOCKER_HOST. No socket, no engine:
        # importing docker (~0.15 s) to hear that would slow every run.
        if not Path(DOCKER_SOCKET).exists():
            return False, f"no Docker engine answered (no {DOCKER_SOCKET})"
    try:
        import docker
    except ImportError:
        return False, "the docker package is not installed"
    client = None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
        return True, ""
    except Exception as exc:  # docker raises many kinds; all mean "no engine"
        return False, f"no Docker engine answered ({type(exc).__name__})"
    finally:
        if client is not None:
            client.close()


# Every container the kata starts carries its owner: a run killed with SIGKILL
# (no finalizer runs) leaves its container and loopback ports behind, and the
# next run on the machine removes it.
OWNER_PID_LABEL = "kata.owner-pid"
OWNER_HOST_LABEL = "kata.owner-host"
_stale_checked = False


def owner_labels() -> dict[str, str]:
    return {OWNER_PID_LABEL: str(os.getpid()), OWNER_HOST_LABEL: socket.gethostname()}


def pid_alive(pid: int) -> bool:
    """Is process `pid` of this machine running? (Never sends it a signal.)"""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # pragma: no cover - os.kill(pid, 0) would end the process
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # access denied: it exists
        code = ctypes.c_ulong()
        try:
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        finally:
            kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_containers(client: object) -> list[str]:
    """Remove the kata's containers whose owner process on this machine is gone; their ids.

    `client` is a docker-py DockerClient. Containers of another machine
    sharing the engine (a remote DOCKER_HOST) are left alone.
    """
    removed = []
    found = client.containers.list(all=True, filters={"label": OWNER_PID_LABEL})  # type: ignore[attr-defined]
    for container in found:
        labels = container.labels or {}
        if labels.get(OWNER_HOST_LABEL) != socket.gethostname():
            continue
        try:
            pid = int(labels.get(OWNER_PID_LABEL, ""))
        except ValueError:
            continue
        if pid == os.getpid() or pid_alive(pid):
            continue
        with contextlib.suppress(Exception):
            container.remove(force=True)
            removed.append(container.id)
    return removed


def _remove_stale_once() -> None:
    global _stale_checked
    if _stale_checked:
        return
    _stale_checked = True
    with contextlib.suppress(Exception):
        import docker

        client = docker.from_env(timeout=10)
        try:
            remove_stale_containers(client)
        finally:
            client.close()


class DockerRunner:
    """A mosquitto container with the kata's config directory mounted read-only."""

    CONTAINER_PORTS = Ports(mqtt=1883, auth=1884, tls=8883)

    def __init__(self, image: str, config_dir: Path, host_ports: Ports) -> None:
        self.image = image
        self.config_dir = config_dir
        self.host_ports = host_ports
        self.container = None
        self._last_logs = ""

    def start(self) -> None:
        if self.container is not None:
            # Started again after stop()/kill(): the same container, so the
            # same port mapping and whatever mosquitto saved in it.
            self.container.get_wrapped_container().start()
            return
        # Ryuk (testcontainers' reaper) is one more image to pull; the kata
        # removes its containers itself, also after Ctrl-C and SIGTERM.
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
        with warnings.catch_warnings():
            # testcontainers' own modules use its deprecated wait decorator.
            warnings.simplefilter("ignore", DeprecationWarning)
            from testcontainers.community.mqtt import MosquittoContainer
            from testcontainers.core.container import DockerContainer

        _remove_stale_once()
        container = MosquittoContainer(image=self.image)
        container.with_kwargs(**{**getattr(container, "_kwargs", {}), "labels": owner_labels()})
        container.with_volume_mapping(str(self.config_dir), "/mosquitto/config", "ro")
        # Bind to loopback only: the test broker allows anonymous clients.
        for name in ("mqtt", "auth", "tls"):
            inside = getattr(self.CONTAINER_PORTS, name)
            outside = getattr(self.host_ports, name)
            if outside is not None:
                # docker-py's (address, port) form; with_bind_ports takes ports only.
                container.ports[f"{inside}/tcp"] = (LOOPBACK, outside)
        container.with_command(["mosquitto", "-c", "/mosquitto/config/mosquitto.conf"])
        # DockerContainer.start, not MosquittoContainer.start: that one mounts
        # its own config and waits on a log line; readiness here is a CONNACK.
        self.container = container
        _LIVE.append(self)
        DockerContainer.start(container)

    def alive(self) -> bool:
        if self.container is None:
            return False
        try:
            wrapped = self.container.get_wrapped_container()
            wrapped.reload()
            return wrapped.status in ("created", "running")
        except Exception:
            return False

    def _save_logs(self) -> None:
        if self.container is not None:
            with contextlib.suppress(Exception):
                out, err = self.container.get_logs()
                self._last_logs = (out + err).decode(errors="replace")

    def stop(self) -> None:
        """SIGTERM (mosquitto saves its state), then wait; the container is kept."""
        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.get_wrapped_container().stop(timeout=5)
            self._save_logs()

    def kill(self) -> None:
        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.get_wrapped_container().kill()
            self._save_logs()

    def close(self) -> None:
        """Remove the container for good."""
        if self.container is None:
            return
        self._save_logs()
        with contextlib.suppress(Exception):
            self.container.stop()
        self.container = None
        with contextlib.suppress(ValueError):
            _LIVE.remove(self)

    def log_tail(self, lines: int = 20) -> str:
        if self.container is not None:
            self._save_logs()
        return "\n".join(self._last_logs.splitlines()[-lines:])


def start_docker(workdir: Path, *, timeout: float = 30.0, **spec: object) -> Broker:
    """Like start_local, in a container; the config directory is mounted read-only."""
    wanted = BrokerSpec(**spec)  # type: ignore[arg-type]
    image = os.environ.get("KATA_MOSQUITTO_IMAGE") or DEFAULT_IMAGE
    inside = DockerRunner.CONTAINER_PORTS
    attempts = 1 if wanted.port is not None else 3
    for attempt in range(1, attempts + 1):
        host_ports = wanted.ports()
        container_ports = Ports(
            mqtt=inside.mqtt,
            auth=inside.auth if host_ports.auth else None,
            tls=inside.tls if host_ports.tls else None,
        )
        files = wanted.write(workdir, container_ports, in_container=True)
        runner = DockerRunner(image, workdir, host_ports)
        broker = _broker_record("docker", LOOPBACK, host_ports, files, image, runner)
        try:
            runner.start()
        except Exception as exc:
            runner.close()
            # A free port can be taken between our probe and Docker's bind.
            taken = "already allocated" in str(exc) or "address already in use" in str(exc)
            if taken and attempt < attempts:
                continue
            raise BrokerError(
                f"could not start the container {image!r}: {type(exc).__name__}: {exc}\n"
                "(offline? build a local image and set KATA_MOSQUITTO_IMAGE; "
                "see docker/README.md)"
            ) from exc
        try:
            wait_ready(broker, timeout, runner)
        except BrokerError:
            runner.close()
            raise
        return broker
    raise AssertionError("unreachable")


# --- external --------------------------------------------------------------


@dataclass(frozen=True)
class BrokerAddress:
    """Where a broker named by URL is, and how to log in."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def shown(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_url(url: str) -> BrokerAddress:
    """mqtt://[user:pass@]host[:port] or mqtts://...; ValueError says what is wrong."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"the URL must start with mqtt:// or mqtts://, not {url!r}")
    if not parsed.hostname:
        raise ValueError(f"the URL has no host name: {url!r}")
    tls = parsed.scheme == "mqtts"
    try:
        port = parsed.port or (8883 if tls else 1883)
    except ValueError:
        raise ValueError(f"the URL has an invalid port: {url!r}") from None
    unquote = urllib.parse.unquote
    return BrokerAddress(
        host=parsed.hostname,
        port=port,
        tls=tls,
        username=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
    )


def from_url(url: str, timeout: float = 5.0) -> Broker:
    """A broker named by URL: mqtt://[user:pass@]host[:port] or mqtts://..."""
    try:
        address = parse_url(url)
    except ValueError as exc:
        raise BrokerError(f"MQTT_BROKER_URL: {exc}") from None
    broker = Broker(
        kind="external",
        host=address.host,
        port=address.port,
        tls=address.tls,
        username=address.username,
        password=address.password,
    )
    try:
        socket.create_connection((broker.host, broker.port), timeout=timeout).close()
    except OSError as exc:
        raise BrokerError(
            f"MQTT_BROKER_URL={_redact(url)} cannot be reached: {exc}. "
            "Check the host and port, or unset MQTT_BROKER_URL to use Docker or mosquitto."
        ) from None
    check_login(broker, _redact(url), timeout)
    return broker


# MQTT 3.1.1 CONNACK return codes (section 3.2.2.3).
CONNACK_MEANINGS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


def check_login(broker: Broker, shown_url: str, timeout: float = 5.0) -> None:
    """One real CONNECT with the URL's TLS and login: a wrong password or an untrusted
    certificate is one message now, not a hundred failing tests later."""
    lang = pick_language(None)
    context = ssl.create_default_context() if broker.tls else None
    try:
        code = connack_code(
            broker.host,
            broker.port,
            timeout=timeout,
            tls_context=context,
            username=broker.username,
            password=broker.password,
        )
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc)
        raise BrokerError(t("external.untrusted", lang, url=shown_url, error=reason)) from None
    except OSError as exc:
        raise BrokerError(t("external.no_connack", lang, url=shown_url, error=exc)) from None
    if code != 0:
        meaning = CONNACK_MEANINGS.get(code, "refused")
        raise BrokerError(t("external.refused", lang, url=shown_url, code=code, meaning=meaning))


def _redact(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    if parsed.password:
        netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
        return urllib.parse.urlunsplit(parsed._replace(netloc=netloc))
    return url


# --- choosing --------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    kind: str  # docker | local | external
    reason: str


def choose(mode: str) -> Choice:
    """Decide where the broker comes from, without starting it."""
    if mode not in MODES:
        raise BrokerError(f"unknown broker {mode!r}: choose one of {', '.join(MODES)}")
    url = os.environ.get("MQTT_BROKER_URL")
    if mode == "external" or (mode == "auto" and url):
        if not url:
            raise BrokerError("--broker external needs MQTT_BROKER_URL to be set")
        return Choice("external", f"MQTT_BROKER_URL={_redact(url)}")
    if mode == "docker":
        ok, why = docker_engine_answers()
        if not ok:
            raise NoBrokerError(f"--broker docker: {why}\n{no_broker_help()}")
        return Choice("docker", "Docker engine answered")
    if mode == "local":
        if find_mosquitto() is None:
            raise NoBrokerError(f"--broker local: {_no_binary()}\n{no_broker_help()}")
        return Choice("local", "mosquitto found")
    ok, why = docker_engine_answers()
    if ok:
        return Choice("docker", "Docker engine answered")
    if find_mosquitto():
        return Choice("local", f"{why}; mosquitto found")
    raise NoBrokerError(no_broker_help())


def start(choice: Choice, workdir: Path | None = None, **kwargs: object) -> Broker:
    if choice.kind == "external":
        return from_url(os.environ["MQTT_BROKER_URL"])
    workdir = workdir or Path(tempfile.mkdtemp(prefix="kata-broker-"))
    if choice.kind == "docker":
        return start_docker(workdir, **kwargs)  # type: ignore[arg-type]
    return start_local(workdir, **kwargs)  # type: ignore[arg-type]


def open_session(mode: str, workdir: Path, **spec: object) -> tuple[Broker, Choice]:
    """The session's broker for `mode`, started (`spec` as start's), and why it was chosen.

    auto: a Docker engine that cannot run the image (offline, no pull rights)
    does not stop a learner who has mosquitto: the local one is used instead.
    """
    shared = os.environ.get(SHARED_ENV)
    if shared:
        # `kata watch` lent its broker; without a runner, closing it leaves it running.
        broker = Broker.from_json(shared)
        return broker, Choice(broker.kind, "shared by kata watch")
    choice = choose(mode)
    try:
        return start(choice, workdir, **spec), choice
    except BrokerError as exc:
        if not (mode == "auto" and choice.kind == "docker") or find_mosquitto() is None:
            raise
        image = os.environ.get("KATA_MOSQUITTO_IMAGE", DEFAULT_IMAGE)
        why = t("broker.docker_fell_back", pick_language(None), image=image)
        del exc  # its Docker API text is long and says no more than `why`
        choice = Choice("local", why)
        return start(choice, workdir, **spec), choice


# Every runner started in this process, so that nothing outlives it even
# when pytest is interrupted before its finalizers run.
_LIVE: list[Runner] = []


def stop_cleanly_on_sigterm() -> Callable[[], None]:
    """SIGTERM (a CI time limit, `kill`, an IDE's stop button) cleans up like Ctrl-C.

    Without it the process dies at once and the brokers it started live on.
    Returns what puts the previous handler back.
    """
    if not hasattr(signal, "SIGTERM") or threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        return lambda: None

    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, on_sigterm)
    return lambda: signal.signal(signal.SIGTERM, previous)


def stop_all() -> None:
    for runner in list(_LIVE):
        with contextlib.suppress(Exception):
            runner.kill()
        with contextlib.suppress(Exception):
            runner.close()
