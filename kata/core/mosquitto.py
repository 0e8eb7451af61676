"""The test broker's files: mosquitto.conf, password file, ACL and TLS certificates.

One directory serves the local binary and the container (mounted at
/mosquitto/config), so both broker paths test the same setup.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
from pathlib import Path
from typing import NamedTuple

# Users of the password listener. Chapter 6 uses them; the ACL below gives
# each the rights its name suggests.
DEFAULT_USERS: dict[str, str] = {
    "kata": "kata-secret",
    "sensor": "sensor-secret",
    "dashboard": "dashboard-secret",
}
DEFAULT_ACL: dict[str, list[tuple[str, str]]] = {
    "kata": [("readwrite", "#")],
    "sensor": [("readwrite", "sensors/#")],
    "dashboard": [("read", "sensors/#")],
}
# The names the server certificate is valid for; clients connect to 127.0.0.1.
TLS_HOSTNAMES = ("localhost", "127.0.0.1", "::1")


class Ports(NamedTuple):
    """Listener ports (None: no such listener)."""

    mqtt: int
    auth: int | None = None
    tls: int | None = None


# Inside a container the listeners have fixed ports; Docker maps them to free ones.
CONTAINER_PORTS = Ports(mqtt=1883, auth=1884, tls=8883)


def password_line(user: str, password: str, *, iterations: int = 101) -> str:
    """One line of a mosquitto password file ($7$ = PBKDF2-SHA512, as mosquitto_passwd)."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    salt64 = base64.b64encode(salt).decode()
    return f"{user}:$7${iterations}${salt64}${base64.b64encode(digest).decode()}"


def acl_text(rules: dict[str, list[tuple[str, str]]]) -> str:
    lines = []
    for user, entries in rules.items():
        lines.append(f"user {user}")
        lines.extend(f"topic {access} {topic}" for access, topic in entries)
        lines.append("")
    return "\n".join(lines)


def write_private(path: Path, data: bytes) -> None:
    """Write a secret (key, password file) with mode 0600 from the first byte (not 0644
    chmod-ed after: readable by every user until then)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _write_tls(directory: Path) -> Path:
    import trustme

    ca = trustme.CA(organization_name="mqtt-kata test CA")
    server = ca.issue_cert(*TLS_HOSTNAMES)
    ca.cert_pem.write_to_path(str(directory / "ca.crt"))
    write_private(directory / "server.key", server.private_key_pem.bytes())
    chain = b"".join(blob.bytes() for blob in server.cert_chain_pems)
    (directory / "server.crt").write_bytes(chain)
    return directory / "ca.crt"


def write_broker_files(
    directory: Path,
    ports: Ports,
    *,
    in_container: bool = False,
    users: dict[str, str] | None = None,
    acl: dict[str, list[tuple[str, str]]] | str | None = None,
    persistence: bool = False,
    extra: str = "",
    config_text: str | None = None,
) -> tuple[Path | None, dict[str, str]]:
    """Write mosquitto.conf and its companions into `directory`; the CA's path and the users.

    `in_container`: seen at /mosquitto/config, listening on CONTAINER_PORTS (Docker
    publishes them on the host's loopback only). `acl`: rules as DEFAULT_ACL, or the
    file's text; `extra`: more config lines; `config_text`: a whole config instead.
    """
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "mosquitto.conf"
    if config_text is not None:
        config.write_text(config_text, encoding="utf-8")
        return None, {}
    where, bind = (
        ("/mosquitto/config", "0.0.0.0") if in_container else (str(directory), "127.0.0.1")
    )
    if in_container:
        ports = Ports(
            *(inside if mine else None for inside, mine in zip(CONTAINER_PORTS, ports, strict=True))
        )
    users = DEFAULT_USERS if users is None else users
    acl = DEFAULT_ACL if acl is None else acl

    lines = [
        "# Written by the kata harness for one test session.",
        # mosquitto 2.x started as root drops to user 'mosquitto', which then
        # cannot read files in a private temp dir.
        "user root",
        "per_listener_settings true",
        # Without it QoS 2 stalls ~40 ms per message (Nagle + delayed ACK).
        "set_tcp_nodelay true",
        "log_dest stderr",
        *(f"log_type {kind}" for kind in ("error", "warning", "notice", "information")),
        "connection_messages true",
        "log_timestamp_format %H:%M:%S",
        # Publish $SYS every second so chapter 2 sees it quickly.
        "sys_interval 1",
    ]
    if persistence:
        data = "/mosquitto/data" if in_container else str(directory / "data")
        if not in_container:
            os.makedirs(data, exist_ok=True)
        lines += ["persistence true", f"persistence_location {data}/"]
    else:
        lines.append("persistence false")
    lines += ["", f"listener {ports.mqtt} {bind}", "allow_anonymous true"]

    if ports.auth is not None or ports.tls is not None:
        passwd = "".join(password_line(u, p) + "\n" for u, p in users.items())
        write_private(directory / "passwd", passwd.encode("utf-8"))
        text = acl if isinstance(acl, str) else acl_text(acl)
        write_private(directory / "acl", text.encode("utf-8"))
    if ports.auth is not None:
        lines += [
            "",
            f"listener {ports.auth} {bind}",
            "allow_anonymous false",
            f"password_file {where}/passwd",
            f"acl_file {where}/acl",
        ]
    ca_path = None
    if ports.tls is not None:
        ca_path = _write_tls(directory)
        lines += [
            "",
            f"listener {ports.tls} {bind}",
            # Anonymous clients may connect over TLS; clients that send a
            # username are checked against the password file.
            "allow_anonymous true",
            f"password_file {where}/passwd",
            f"cafile {where}/ca.crt",
            f"certfile {where}/server.crt",
            f"keyfile {where}/server.key",
        ]
    if extra:
        lines += ["", extra]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ca_path, dict(users)
