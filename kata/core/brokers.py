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
import time
import urllib.parse
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kata.core import guards
from kata.core.i18n import t
from kata.core.mosquitto import CONTAINER_PORTS, Ports, write_broker_files

MODES = ("auto", "docker", "local", "external")
DEFAULT_IMAGE = "eclipse-mosquitto:2"
SHARED_ENV = "KATA_BROKER_JSON"  # a broker lent by `kata watch` to its test runs (Broker.to_json)
LOOPBACK = "127.0.0.1"
# Where mosquitto lives when it is installed but not on PATH (Debian puts it
# in /usr/sbin, Homebrew in its own prefix).
_EXTRA_BIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin", "/opt/homebrew/bin")
# MQTT 3.1.1 CONNACK return codes (section 3.2.2.3).
CONNACK_MEANINGS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class BrokerError(RuntimeError):
    """A broker could not be started or reached; the message says why."""


class NoBrokerError(BrokerError):
    """No Docker engine, no mosquitto, no MQTT_BROKER_URL: the message tells the three ways."""


@dataclass(frozen=True)
class BrokerAddress:
    """Where a broker named by URL is, and how to log in."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    # Never in a repr: a failing assertion would print it to the terminal and junit.xml.
    password: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class Broker:
    """Where tests find the broker (a port is None: no such listener). One the kata runs
    (`runner`) can be stopped, killed and started again on the same ports."""

    kind: str
    host: str
    port: int
    auth_port: int | None = None
    tls_port: int | None = None
    ca_path: Path | None = None
    users: dict[str, str] = field(default_factory=dict)
    tls: bool = False  # the plain `port` itself speaks TLS (external mqtts://)
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # as BrokerAddress.password
    version: str = ""
    runner: LocalRunner | DockerRunner | None = field(default=None, compare=False, repr=False)

    url = BrokerAddress.url

    def describe(self) -> str:
        listeners = [f"mqtt {self.host}:{self.port}"]
        listeners += [f"auth :{self.auth_port}"] if self.auth_port else []
        listeners += [f"tls :{self.tls_port}"] if self.tls_port else []
        return f"{self.kind} {self.version}".rstrip() + " - " + ", ".join(listeners)

    def _runner(self) -> LocalRunner | DockerRunner:
        if self.runner is None:
            raise BrokerError(f"the {self.kind} broker at {self.url} is not run by the kata")
        return self.runner

    def stop(self) -> None:
        self._runner().stop()

    def kill(self) -> None:
        self._runner().kill()

    def start(self, timeout: float = 10.0) -> None:
        self._runner().start()
        wait_ready(self, timeout)

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
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
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


def _connect_bytes(username: str | None = None, password: str | None = None) -> bytes:
    """An MQTT 3.1.1 CONNECT (clean session, keepalive 5 s), with a login if given."""
    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    fields = ("kata-" + uuid.uuid4().hex[:7], username, password)
    body = b"\x00\x04MQTT\x04" + bytes([flags]) + b"\x00\x05"
    body += b"".join(_mqtt_string(text) for text in fields if text is not None)
    # The remaining length: 7 bits a byte, low bits first; the high bit says "more".
    length, size = bytearray(), len(body)
    while size > 127:
        length.append(size % 128 | 0x80)
        size //= 128
    return b"\x10" + bytes([*length, size]) + body


def _recv_exactly(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_packet(conn: socket.socket) -> tuple[int, int, bytes] | None:
    """(packet type, flags, body) of the next MQTT packet; None when the peer closed."""
    head = _recv_exactly(conn, 1)
    if head is None:
        return None
    length, shift = 0, 0
    while True:
        byte = _recv_exactly(conn, 1)
        if byte is None or shift > 21:
            return None
        length |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            break
    body = _recv_exactly(conn, length)
    return None if body is None else (head[0] & 0xF0, head[0] & 0x0F, body)


def connack_code(
    host: str,
    port: int,
    timeout: float = 1.0,
    tls_context: ssl.SSLContext | None = None,
    *,
    username: str | None = None,
    password: str | None = None,
) -> int:
    """Send CONNECT and return the CONNACK return code (0 = accepted); OSError (ssl's
    errors too) when nothing listens or the answer is not a CONNACK."""
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(socket.create_connection((host, port), timeout=timeout))
        if tls_context is not None:
            sock = stack.enter_context(tls_context.wrap_socket(sock, server_hostname=host))
        sock.settimeout(timeout)
        sock.sendall(_connect_bytes(username, password))
        answer = _recv_exactly(sock, 4)
        if answer is None:
            raise ConnectionResetError("connection closed before CONNACK")
        if answer[0] != 0x20 or answer[1] != 0x02:
            raise ConnectionError(f"not an MQTT CONNACK: {answer!r}")
        with contextlib.suppress(OSError):
            sock.sendall(b"\xe0\x00")
        return answer[3]


def wait_ready(broker: Broker, timeout: float) -> float:
    """Block until the broker answers CONNECT with CONNACK; returns seconds waited."""
    start = time.monotonic()
    deadline = start + timeout
    delay = 0.002
    while True:
        if not broker.alive():
            tail = broker.log_tail()
            raise BrokerError(f"the {broker.kind} broker exited while starting:\n{tail}")
        try:
            connack_code(broker.host, broker.port, timeout=max(0.2, deadline - time.monotonic()))
            return time.monotonic() - start
        except OSError as exc:
            if time.monotonic() >= deadline:
                tail = f"\n{broker.log_tail()}".rstrip()
                raise BrokerError(
                    f"no CONNACK from {broker.host}:{broker.port} within {timeout:.1f} s "
                    f"({exc}){tail}"
                ) from None
        # A port not open yet: a short pause, growing to 10 ms (a mosquitto
        # starts in ~12 ms, ~50 ms on a busy machine), bounded by the deadline.
        time.sleep(delay)
        delay = min(delay * 2, 0.01)


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# --- starting a broker the kata runs ---------------------------------------

# Every runner started in this process: nothing outlives it, even without finalizers.
_LIVE: list[LocalRunner | DockerRunner] = []


def _forget(runner: LocalRunner | DockerRunner) -> None:
    with contextlib.suppress(ValueError):
        _LIVE.remove(runner)


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _image() -> str:
    return os.environ.get("KATA_MOSQUITTO_IMAGE") or DEFAULT_IMAGE


def _launch(
    kind: str,
    program: str,
    workdir: Path,
    *,
    timeout: float,
    listeners: tuple[str, ...] = ("mqtt", "auth", "tls"),
    port: int | None = None,
    **config: object,
) -> Broker:
    """Write the broker's files (`config`), start `program` (binary or image), wait for CONNACK.

    A free port can be taken between our probe and the broker's bind: then the
    broker starts again on others (unless the caller chose its `port`).
    """
    attempts = 1 if port is not None else 3
    for attempt in range(1, attempts + 1):
        wanted = (free_port() if name in listeners else None for name in ("auth", "tls"))
        ports = Ports(port or free_port(), *wanted)
        ca_path, users = write_broker_files(workdir, ports, in_container=kind == "docker", **config)
        if kind == "local":
            runner, version = LocalRunner(program, workdir), mosquitto_version(program)
        else:
            runner, version = DockerRunner(program, workdir, ports), program
        broker = Broker(kind, LOOPBACK, *ports, ca_path, users, version=version, runner=runner)
        try:
            broker.start(timeout)
            return broker
        except BrokerError as exc:
            broker.close()
            why = str(exc).lower()
            taken = "already allocated" in why or "address already in use" in why
            if not taken or attempt == attempts:
                raise
    raise AssertionError("unreachable")


def find_mosquitto(name: str = "mosquitto") -> str | None:
    """The broker or a tool of it (mosquitto_pub, ...): PATH, else the usual places.
    KATA_MOSQUITTO names the broker, and then only it is tried."""
    named = os.environ.get("KATA_MOSQUITTO") if name == "mosquitto" else None
    dirs = _EXTRA_BIN_DIRS if name == "mosquitto" else ("/usr/bin", *_EXTRA_BIN_DIRS)
    places = [named] if named else [shutil.which(name), *(os.path.join(d, name) for d in dirs)]
    return next((p for p in places if p and os.path.isfile(p) and os.access(p, os.X_OK)), None)


def _no_mosquitto() -> str:
    named = os.environ.get("KATA_MOSQUITTO")
    return t("no_broker.kata_mosquitto", named=named) if named else t("no_broker.not_on_path")


def _no_broker(why: str = "") -> NoBrokerError:
    """The error that tells the three ways to get a broker, after why none was found."""
    ways = t("no_broker.help")
    return NoBrokerError(f"{why}\n{ways}" if why else ways)


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


def end_process(proc: subprocess.Popen, signal_it: Callable = subprocess.Popen.terminate) -> None:
    """Signal `proc` (terminate) if it still runs, wait up to 5 s, then kill it."""
    if proc.poll() is None:
        signal_it(proc)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class LocalRunner:
    """One mosquitto process; can be started again with the same config and ports."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary, self.workdir, self.log = binary, workdir, workdir / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.alive():
            return
        if sys.platform == "win32":
            options: dict = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        else:
            options = {"start_new_session": True}  # Ctrl-C reaches pytest, not the broker
            if sys.platform.startswith("linux"):
                options["preexec_fn"] = _die_with_parent
        with open(self.log, "ab") as log:  # the child has its own copy of the handle
            command = [self.binary, "-c", str(self.workdir / "mosquitto.conf")]
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, **options
            )
        if self not in _LIVE:
            _LIVE.append(self)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _end(self, signal_it: Callable[[subprocess.Popen], None]) -> None:
        proc, self.process = self.process, None
        if proc is not None:
            end_process(proc, signal_it)
        _forget(self)

    def stop(self) -> None:
        """SIGTERM, so mosquitto writes its persistence file, then wait."""
        self._end(subprocess.Popen.terminate)

    def kill(self) -> None:
        """SIGKILL: the broker dies as in a crash, without saving anything."""
        self._end(subprocess.Popen.kill)

    # Nothing to save at the end: SIGKILL spares the ~100 ms mosquitto takes for SIGTERM.
    close = kill

    def log_tail(self, lines: int = 20) -> str:
        try:
            return _tail(self.log.read_text(encoding="utf-8", errors="replace"), lines)
        except OSError:
            return ""


def start_local(workdir: Path, *, timeout: float = 10.0, **spec: object) -> Broker:
    """Start mosquitto from PATH in `workdir`; `spec` as _launch's options."""
    binary = find_mosquitto()
    if binary is None:
        raise _no_broker(_no_mosquitto())
    return _launch("local", binary, workdir, timeout=timeout, **spec)  # type: ignore[arg-type]


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

        with contextlib.closing(docker.from_env(timeout=timeout)) as client:
            client.ping()
        return True, ""
    except Exception as exc:  # docker raises many kinds; all mean "no engine"
        return False, f"no Docker engine answered ({type(exc).__name__})"


# Every container the kata starts carries its owner: one left by a run killed with
# SIGKILL (no finalizer runs) is removed by the next run on the machine.
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
        command = ["tasklist", "/FI", f"PID eq {pid}", "/FO", "CSV", "/NH"]
        listed = subprocess.run(command, capture_output=True, text=True, check=False).stdout
        return f'"{pid}"' in listed  # the PID column of a CSV row
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def remove_stale_containers(client: object) -> list[str]:
    """Remove the kata's containers whose owner process on this machine is gone; their ids.
    `client`: a docker-py DockerClient. Another machine's containers are left alone."""
    removed = []
    found = client.containers.list(all=True, filters={"label": OWNER_PID_LABEL})  # type: ignore[attr-defined]
    for container in found:
        labels = container.labels or {}
        pid = labels.get(OWNER_PID_LABEL, "")
        if labels.get(OWNER_HOST_LABEL) != socket.gethostname() or not pid.isdigit():
            continue
        if int(pid) == os.getpid() or pid_alive(int(pid)):
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

        with contextlib.closing(docker.from_env(timeout=10)) as client:
            remove_stale_containers(client)


class DockerRunner:
    """A mosquitto container with the kata's config directory mounted read-only."""

    def __init__(self, image: str, config_dir: Path, host_ports: Ports) -> None:
        self.image, self.config_dir, self.host_ports = image, config_dir, host_ports
        self.container = None
        self._logs = ""

    def start(self) -> None:
        try:
            if self.container is None:
                self._create_and_start()
            else:
                # Started again after stop()/kill(): the same container, so the
                # same port mapping and whatever mosquitto saved in it.
                self.container.get_wrapped_container().start()
        except Exception as exc:
            raise BrokerError(
                f"could not start the container {self.image!r}: {type(exc).__name__}: {exc}\n"
                "(offline? build a local image and set KATA_MOSQUITTO_IMAGE; "
                "see docker/README.md)"
            ) from exc

    def _create_and_start(self) -> None:
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
        for inside, outside in zip(CONTAINER_PORTS, self.host_ports, strict=True):
            if outside is not None:
                # docker-py's (address, port) form; with_bind_ports takes ports only.
                container.ports[f"{inside}/tcp"] = (LOOPBACK, outside)
        container.with_command(["mosquitto", "-c", "/mosquitto/config/mosquitto.conf"])
        self.container = container
        _LIVE.append(self)
        # Not MosquittoContainer.start: it mounts its own config and waits on a log line.
        DockerContainer.start(container)

    def alive(self) -> bool:
        try:
            wrapped = self.container.get_wrapped_container()  # type: ignore[attr-defined]
            wrapped.reload()
            return wrapped.status in ("created", "running")
        except Exception:  # no container (None), or the engine lost it
            return False

    def _save_logs(self) -> None:
        with contextlib.suppress(Exception):
            out, err = self.container.get_logs()  # type: ignore[attr-defined]
            self._logs = (out + err).decode(errors="replace")

    def stop(self) -> None:
        """SIGTERM (mosquitto saves its state), then wait; the container is kept."""
        with contextlib.suppress(Exception):
            self.container.get_wrapped_container().stop(timeout=5)  # type: ignore[attr-defined]
        self._save_logs()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.container.get_wrapped_container().kill()  # type: ignore[attr-defined]
        self._save_logs()

    def close(self) -> None:
        """Remove the container for good."""
        self._save_logs()
        with contextlib.suppress(Exception):
            self.container.stop()  # type: ignore[attr-defined]
        self.container = None
        _forget(self)

    def log_tail(self, lines: int = 20) -> str:
        self._save_logs()
        return _tail(self._logs, lines)


# --- external --------------------------------------------------------------


def _redact(url: str) -> str:
    parsed = urllib.parse.urlsplit(url)
    if parsed.password:
        netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
        return urllib.parse.urlunsplit(parsed._replace(netloc=netloc))
    return url


def parse_url(url: str) -> BrokerAddress:
    """mqtt://[user:pass@]host[:port] or mqtts://...; ValueError says what is wrong."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"the URL must start with mqtt:// or mqtts://, not {_redact(url)!r}")
    if not parsed.hostname:
        raise ValueError(f"the URL has no host name: {_redact(url)!r}")
    tls = parsed.scheme == "mqtts"
    try:
        port = parsed.port or (8883 if tls else 1883)
    except ValueError:
        raise ValueError(f"the URL has an invalid port: {_redact(url)!r}") from None
    login = (urllib.parse.unquote(x) if x else None for x in (parsed.username, parsed.password))
    return BrokerAddress(parsed.hostname, port, tls, *login)


def from_url(url: str, timeout: float = 5.0) -> Broker:
    """A broker named by URL: mqtt://[user:pass@]host[:port] or mqtts://..."""
    try:
        broker = Broker("external", **dataclasses.asdict(parse_url(url)))
    except ValueError as exc:
        raise BrokerError(f"MQTT_BROKER_URL: {exc}") from None
    check_login(broker, _redact(url), timeout)
    return broker


def check_login(broker: Broker, shown_url: str, timeout: float = 5.0) -> None:
    """One real CONNECT with the URL's TLS and login: an unknown host, a wrong password or
    an untrusted certificate is one message now, not a hundred failing tests later."""
    context = ssl.create_default_context() if broker.tls else None
    login = {"username": broker.username, "password": broker.password}
    try:
        code = connack_code(broker.host, broker.port, timeout, context, **login)
    except (ConnectionRefusedError, socket.gaierror) as exc:
        raise BrokerError(
            f"MQTT_BROKER_URL={shown_url} cannot be reached: {exc}. "
            "Check the host and port, or unset MQTT_BROKER_URL to use Docker or mosquitto."
        ) from None
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc)
        raise BrokerError(t("external.untrusted", url=shown_url, error=reason)) from None
    except OSError as exc:
        raise BrokerError(t("external.no_connack", url=shown_url, error=exc)) from None
    if code != 0:
        meaning = CONNACK_MEANINGS.get(code, "refused")
        raise BrokerError(t("external.refused", url=shown_url, code=code, meaning=meaning))


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
    docker, why = docker_engine_answers() if mode != "local" else (False, "")
    if docker:
        return Choice("docker", "Docker engine answered")
    if mode == "docker":
        raise _no_broker(f"--broker docker: {why}")
    if find_mosquitto():
        return Choice("local", f"{why}; mosquitto found" if why else "mosquitto found")
    raise _no_broker(f"--broker local: {_no_mosquitto()}" if mode == "local" else "")


def start(choice: Choice, workdir: Path | None = None, **kwargs: object) -> Broker:
    if choice.kind == "external":
        return from_url(os.environ["MQTT_BROKER_URL"])
    workdir = workdir or Path(tempfile.mkdtemp(prefix="kata-broker-"))
    if choice.kind == "docker":  # the config directory is mounted read-only
        return _launch("docker", _image(), workdir, **{"timeout": 30.0, **kwargs})  # type: ignore[arg-type]
    return start_local(workdir, **kwargs)  # type: ignore[arg-type]


def open_session(mode: str, workdir: Path, **spec: object) -> tuple[Broker, Choice]:
    """The session's broker for `mode`, started (`spec` as start's), and why it was chosen.

    auto: a Docker engine that cannot run the image (offline, no pull rights) does
    not stop a learner who has mosquitto: it is used instead, with one line saying so.
    """
    shared = os.environ.get(SHARED_ENV)
    if shared:
        # `kata watch` lent its broker; without a runner, closing it leaves it running.
        broker = Broker.from_json(shared)
        return broker, Choice(broker.kind, "shared by kata watch")
    choice = choose(mode)
    try:
        return start(choice, workdir, **spec), choice
    except BrokerError:
        if mode != "auto" or choice.kind != "docker" or find_mosquitto() is None:
            raise
    choice = Choice("local", t("broker.docker_fell_back", image=_image()))
    return start(choice, workdir, **spec), choice


def stop_cleanly_on_sigterm() -> Callable[[], None]:
    """SIGTERM cleans up like Ctrl-C (the brokers started here do not live on); the undo."""
    return guards.stop_on_signals(("SIGTERM",))


def stop_all() -> None:
    for runner in list(_LIVE):
        with contextlib.suppress(Exception):
            runner.kill()
        with contextlib.suppress(Exception):
            runner.close()
