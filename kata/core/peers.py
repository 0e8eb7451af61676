"""Other parties a test talks to: background calls, command line peers, servers that stay
silent or answer as scripted, a relay that loses or cuts the link, an inbox. Shared by every
chapter (fixtures.py), so a fake broker behaves the same everywhere; nothing here sleeps.
"""

from __future__ import annotations

import contextlib
import io
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

from kata.core.brokers import LOOPBACK, end_process, find_mosquitto, read_packet
from kata.core.i18n import t


def _say(key: str, why: str = "", **fields: object) -> str:
    """A line of messages.toml in the learner's language, with the test's `why` after it."""
    said = t(key, **fields)
    return t("peers.with_why", said=said, why=why) if why else said


def after_next_connack(client: object) -> threading.Event:
    """An Event set once a paho client has handled its next CONNACK: its own
    on_connect (the learner's, or none) runs first, so whatever that subscribes
    is on its way when the Event is set."""
    handled, own = threading.Event(), client.on_connect  # type: ignore[attr-defined]

    def on_connect(*args: object) -> None:
        try:
            if own is not None:
                own(*args)
        finally:
            handled.set()

    client.on_connect = on_connect  # type: ignore[attr-defined]
    return handled


def in_background(fn: Callable[..., object], *args: object, **kwargs: object) -> Future:
    """Run fn on a daemon thread; the Future carries its result or exception."""
    future: Future = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(
        target=run, name=f"kata-bg-{getattr(fn, '__name__', 'call')}", daemon=True
    ).start()
    return future


_END = object()


class LineQueue(io.TextIOBase):
    """A text stream that hands every complete line to a queue (for print() in a thread)."""

    def __init__(self) -> None:
        self.lines: queue.Queue[object] = queue.Queue()
        self._partial = ""
        self._lock = threading.Lock()
        self._followed: Future | None = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._partial += text
            *complete, self._partial = self._partial.split("\n")
        for line in complete:
            self.lines.put(line)
        return len(text)

    def follow(self, future: Future) -> Future:
        """Stop waiting for lines as soon as `future` (the printing call) ends."""
        self._followed = future
        future.add_done_callback(lambda _: self.lines.put(_END))
        return future

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 5.0) -> str:
        """The first line (consumed in order) that satisfies predicate."""
        seen: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(_say("peers.no_line", timeout=timeout, seen=seen)) from None
            if line is _END:
                self.lines.put(_END)
                future = self._followed
                if future is not None and future.exception() is not None:
                    raise future.exception()  # type: ignore[misc]
                raise AssertionError(_say("peers.returned_early", seen=seen))
            assert isinstance(line, str)
            seen.append(line)
            if predicate(line):
                return line


class Peer:
    """A subprocess whose output is read line by line on a thread.

    stdout and stderr come as one stream unless `stderr_apart` (then read
    `stderr_text()` after it ended); `stdin=True` lets the test type lines.
    """

    def __init__(
        self,
        argv: list[str],
        cwd: Path | None = None,
        *,
        env: dict[str, str] | None = None,
        stdin: bool = False,
        stderr_apart: bool = False,
    ) -> None:
        self.argv = argv
        self.output = LineQueue()
        self.all_lines: list[str] = []
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr_apart else subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, name="kata-peer-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.all_lines.append(line.rstrip("\n"))
            self.output.write(line)

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float = 5.0) -> str:
        return self.output.wait_for(predicate, timeout)

    def type(self, line: str) -> None:
        """Send a line to the program's standard input."""
        assert self.process.stdin is not None, "start the Peer with stdin=True"
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait(self, timeout: float = 5.0) -> int:
        """The exit code; subprocess.TimeoutExpired when it still runs after `timeout`.

        The reader is joined first: it ends as the output closes, so the exit is
        seen at once (Popen.wait(timeout) polls in sleeps of up to 50 ms).
        """
        deadline = time.monotonic() + timeout
        self._reader.join(timeout)
        code = self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        self._reader.join(max(0.0, deadline - time.monotonic()))
        return code

    def stderr_text(self) -> str:
        return self.process.stderr.read() if self.process.stderr is not None else ""

    def stop(self) -> None:
        end_process(self.process)
        self._reader.join(5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


mosquitto_tool = find_mosquitto  # mosquitto_tool("mosquitto_pub"), _sub, _passwd


def python_module(module: str, *args: str, cwd: Path | None = None) -> Peer:
    """`python -m module args...` as a Peer, with this interpreter."""
    return Peer([sys.executable, "-u", "-m", module, *args], cwd=cwd)


# --- servers that are not quite brokers ---------------------------------------------


_S = TypeVar("_S", bound="_Server")


class _Server:
    """A TCP server on a free loopback port; each connection goes to `_handle` on its own thread.

    close() ends the accept loop and every connection (shutdown wakes a recv()
    blocked on another thread; close alone does not), then joins the threads.
    """

    def __init__(self, name: str, backlog: int | None = None) -> None:
        self._server = socket.create_server((LOOPBACK, 0), backlog=backlog)
        self._server.settimeout(0.2)  # for platforms where shutdown() does not wake accept()
        self.port: int = self._server.getsockname()[1]
        self._name, self._stopping = name, threading.Event()
        self._accepted: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name=f"{name}-accept", daemon=True)
        self._acceptor.start()

    def _handled(self, conn: socket.socket) -> None:
        try:
            self._handle(conn)
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:  # the accept timeout, or closed
                continue
            conn.settimeout(None)
            self._accepted.append(conn)
            thread = threading.Thread(
                target=self._handled, args=(conn,), name=self._name, daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def close(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes accept() at once on Linux
        self._acceptor.join(2)
        self._server.close()
        for conn in self._accepted:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(2)
        for conn in self._accepted:
            conn.close()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Silent(_Server):
    def __init__(self, other_protocol: bytes) -> None:
        self.other_protocol = other_protocol
        super().__init__("kata-silent-server", backlog=16)

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            if self.other_protocol:
                conn.sendall(self.other_protocol)
                return  # and hang up
            while conn.recv(4096):
                pass  # whatever the client says goes unanswered


@contextlib.contextmanager
def silent_server(other_protocol: bytes = b"") -> Iterator[int]:
    """A TCP port that accepts connections and never says a word of MQTT.

    Each connection is held open in silence; with `other_protocol`, it gets
    those bytes at once and is closed (an HTTP server's answer, say).
    """
    with _Silent(other_protocol) as server:
        yield server.port


# MQTT 3.1.1 control packet types (the high nibble of the first byte), in numeric order.
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = range(0x10, 0x80, 0x10)
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = range(0x80, 0xF0, 0x10)
CONNACK_SIZE = 4  # an MQTT 3.1.1 CONNACK is exactly 4 bytes
_NAMES = {CONNECT: "CONNECT", SUBSCRIBE: "SUBSCRIBE", PUBLISH: "PUBLISH"}


def _subscribed_filters(body: bytes) -> int:
    """How many topic filters a SUBSCRIBE carries (each gets a return code in the SUBACK)."""
    count, at = 0, 2  # after the packet identifier
    while at + 2 <= len(body):
        at += 2 + int.from_bytes(body[at : at + 2], "big") + 1
        count += 1
    return max(count, 1)


# Timeouts for a call that must time out on an answer a ScriptedBroker holds back after
# its CONNACK: short, then long only if a busy machine made it give up before that.
PAST_CONNACK = (0.1, 2.0)


class ScriptedBroker(_Server):
    """A tiny MQTT 3.1.1 server that answers the way a test tells it: late, refusing, or never.

    `connack_after`, `suback_after`, `puback_after` (PUBACK, or PUBREC at QoS 2): the
    delay in seconds of each answer, None for never. `connack_code` (5: not authorized)
    and `suback_code` (the granted QoS, 0x80: refused) are the codes. PINGREQ,
    UNSUBSCRIBE and PUBREL are answered at once. `sent[name]` is set just BEFORE that
    answer is written (a call that returned without it returned without the answer);
    `received[name]` once a CONNECT, SUBSCRIBE or PUBLISH came (a call that timed out
    after it got past its CONNACK).
    """

    def __init__(
        self,
        *,
        connack_code: int = 0,
        suback_code: int = 1,
        connack_after: float | None = 0.0,
        suback_after: float | None = 0.0,
        puback_after: float | None = 0.0,
    ) -> None:
        self.connack_code, self.suback_code = connack_code, suback_code
        self.connack_after, self.suback_after = connack_after, suback_after
        self.puback_after = puback_after
        self.sent = {name: threading.Event() for name in ("CONNACK", "SUBACK", "PUBACK", "PUBREC")}
        self.received = {name: threading.Event() for name in ("CONNECT", "SUBSCRIBE", "PUBLISH")}
        self._closing = threading.Event()
        super().__init__("kata-scripted-broker")

    def _answer(self, conn: socket.socket, name: str, after: float | None, packet: bytes) -> None:
        if after is None:
            return  # never
        if after > 0 and self._closing.wait(after):
            return  # the test ended first
        self.sent[name].set()
        conn.sendall(packet)

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while packet := read_packet(conn):
                kind, flags, body = packet
                if (name := _NAMES.get(kind)) is not None:
                    self.received[name].set()
                if kind == CONNECT:
                    connack = bytes([CONNACK, 2, 0, self.connack_code])
                    self._answer(conn, "CONNACK", self.connack_after, connack)
                elif kind == SUBSCRIBE:
                    codes = bytes([self.suback_code]) * _subscribed_filters(body)
                    suback = bytes([SUBACK, 2 + len(codes)]) + body[:2] + codes
                    self._answer(conn, "SUBACK", self.suback_after, suback)
                elif kind == PUBLISH and (qos := (flags >> 1) & 3):
                    topic_end = 2 + int.from_bytes(body[:2], "big")
                    packet_id = body[topic_end : topic_end + 2]
                    name, ack = ("PUBACK", PUBACK) if qos == 1 else ("PUBREC", PUBREC)
                    self._answer(conn, name, self.puback_after, bytes([ack, 2]) + packet_id)
                elif kind == PUBREL:
                    conn.sendall(bytes([PUBCOMP, 2]) + body[:2])
                elif kind == UNSUBSCRIBE:
                    conn.sendall(bytes([UNSUBACK, 2]) + body[:2])
                elif kind == PINGREQ:
                    conn.sendall(bytes([PINGRESP, 0]))
                elif kind == DISCONNECT:
                    return

    def close(self) -> None:
        self._closing.set()
        super().close()


class Relay(_Server):
    """A TCP relay in front of a broker that can lose, delay or cut what the broker says.

    - `pass_back=N`: of what the broker says on each connection, only the
      first N bytes reach the client (CONNACK_SIZE: the CONNACK gets through,
      every PUBACK or PUBREC after it is lost, as on a network that fails
      right after the PUBLISH went out). Everything the client sends arrives.
    - `delay=S`: every chunk the broker sends reaches the client S seconds late.
    - `cut()` drops every live connection and turns new ones away (accepted and
      closed at once, as a load balancer in front of a dead broker does) until
      `restore()`. `attempts` holds when each connection came, so tests measure
      a client's backoff without sleeping.
    """

    def __init__(
        self, host: str, port: int, *, pass_back: int | None = None, delay: float = 0.0
    ) -> None:
        self.target = (host, port)
        self.pass_back, self.delay = pass_back, delay
        self.attempts: list[float] = []  # time.monotonic() of every accepted connection
        self._cond = threading.Condition()
        self._down = False
        self._cut_at_attempt = 0
        self._closed = threading.Event()
        self._hung_up = threading.Event()
        self._live: list[tuple[socket.socket, socket.socket]] = []
        self._upstreams: list[socket.socket] = []
        self._from_broker: list[threading.Thread] = []
        super().__init__("kata-relay")

    def cut(self) -> None:
        """Drop every live connection and turn new ones away until restore()."""
        with self._cond:
            self._down = True
            self._cut_at_attempt = len(self.attempts)
            self._hung_up.clear()
            live, self._live = self._live, []
        for client, upstream in live:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_RDWR)
            # Half-close towards the client: it reads EOF, and we see when it
            # closes its end, i.e. when it noticed the loss.
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)

    def restore(self) -> None:
        with self._cond:
            self._down = False

    def wait_hung_up(self, timeout: float = 5.0) -> None:
        """Block until the client closed a connection that cut() dropped."""
        if not self._hung_up.wait(timeout):
            raise AssertionError(_say("peers.relay.no_hang_up", timeout=timeout))

    def wait_attempts(self, count: int, timeout: float, why: str = "") -> list[float]:
        """The times of the first `count` connection attempts since the last cut()."""
        with self._cond:
            first = self._cut_at_attempt
            if not self._cond.wait_for(lambda: len(self.attempts) - first >= count, timeout):
                got = len(self.attempts) - first
                raise AssertionError(
                    _say("peers.relay.attempts", why, got=got, timeout=timeout, count=count)
                )
            return list(self.attempts[first : first + count])

    def broker_closed_all(self, timeout: float) -> bool:
        """True once the broker ended every connection made through the relay: mosquitto
        handles a client's packets in order, so it has handled all before the DISCONNECT."""
        deadline = time.monotonic() + timeout
        for pump in list(self._from_broker):
            pump.join(max(0.0, deadline - time.monotonic()))
        return bool(self._from_broker) and not any(p.is_alive() for p in self._from_broker)

    def close(self) -> None:
        self._closed.set()
        self.cut()
        super().close()
        # Whatever is still open ends now; each pump closes the socket it reads.
        for upstream in self._upstreams:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_RDWR)
        for pump in self._from_broker:
            pump.join(2)

    def _handle(self, client: socket.socket) -> None:
        """One connection (on its own thread): the client's bytes here, the broker's on a pump."""
        with self._cond:
            self.attempts.append(time.monotonic())
            self._cond.notify_all()
            if self._down:
                return  # accepted and closed at once
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            return
        upstream.settimeout(None)
        with self._cond:
            self._live.append((client, upstream))
            self._upstreams.append(upstream)
        back = threading.Thread(
            target=self._pump, args=(upstream, client, False), name="kata-relay", daemon=True
        )
        self._from_broker.append(back)
        back.start()
        self._pump(client, upstream, True)

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        passed = 0
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if not from_client:
                    if self.delay and self._closed.wait(self.delay):
                        break
                    if self.pass_back is not None:
                        data = data[: max(0, self.pass_back - passed)]
                        passed += len(data)
                if data:
                    dst.sendall(data)
        if from_client:
            # The client closed its end (or reset it): it noticed.
            self._hung_up.set()
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        src.close()


# --- a callback that records ---------------------------------------------------------


class Inbox:
    """A callback that records every call (`calls`), so tests wait on it instead of sleeping.

    With `fail_on`, a call whose last argument is in it raises ValueError after it is
    recorded: a handler that fails.
    """

    def __init__(self, fail_on: frozenset[object] | set[object] = frozenset()) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.fail_on = fail_on
        self._queue: queue.Queue[tuple[object, ...]] = queue.Queue()

    def __call__(self, *args: object) -> None:
        self.calls.append(args)
        self._queue.put(args)
        if args and args[-1] in self.fail_on:
            raise ValueError(f"the handler does not like {args[-1]!r}")

    def next_or_none(self, timeout: float = 5.0) -> tuple[object, ...] | None:
        """The next call's arguments, or None when no call comes within `timeout`."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def next(self, timeout: float = 5.0, why: str = "") -> tuple[object, ...]:
        """The next call's arguments; AssertionError (saying `why`) when none comes."""
        call = self.next_or_none(timeout)
        if call is None:
            raise AssertionError(_say("peers.inbox.not_called", why, timeout=timeout))
        return call

    def wait_for(self, last: object, timeout: float = 5.0, why: str = "") -> tuple[object, ...]:
        """Skip calls until one whose last argument is `last`; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        seen: list[object] = []
        while True:
            call = self.next_or_none(max(0.0, deadline - time.monotonic()))
            if call is None:
                raise AssertionError(
                    _say("peers.inbox.missing", why, wanted=last, timeout=timeout, seen=seen)
                )
            if call and call[-1] == last:
                return call
            seen.append(call[-1] if call else None)
