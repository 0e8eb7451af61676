"""Other parties a test talks to: background calls, command line peers, silent servers.

Everything here waits on events with timeouts; nothing sleeps.
"""

from __future__ import annotations

import contextlib
import io
import queue
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

from kata.core.brokers import _EXTRA_BIN_DIRS, LOOPBACK


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
                raise TimeoutError(
                    f"no matching line within {timeout} s; output was: {seen!r}"
                ) from None
            if line is _END:
                self.lines.put(_END)
                future = self._followed
                if future is not None and future.exception() is not None:
                    raise future.exception()  # type: ignore[misc]
                raise AssertionError(f"it returned without printing the line; output: {seen!r}")
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
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout)
        return code

    def stderr_text(self) -> str:
        return self.process.stderr.read() if self.process.stderr is not None else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._reader.join(5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def mosquitto_tool(name: str) -> str | None:
    """mosquitto_pub / mosquitto_sub / mosquitto_passwd, when installed."""
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/bin", *_EXTRA_BIN_DIRS):
        candidate = Path(directory) / name
        if candidate.is_file():
            return str(candidate)
    return None


def python_module(module: str, *args: str, cwd: Path | None = None) -> Peer:
    """`python -m module args...` as a Peer, with this interpreter."""
    return Peer([sys.executable, "-u", "-m", module, *args], cwd=cwd)


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word of MQTT."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind((LOOPBACK, 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, name="kata-silent-server", daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        # Wake the accept() now rather than at its next time-out.
        with contextlib.suppress(OSError), socket.create_connection(server.getsockname(), 1):
            pass
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()
