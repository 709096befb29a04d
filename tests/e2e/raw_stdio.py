"""Speak MCP to a server process the way a desktop app does: JSON-RPC, one message per line, on stdio.

Kept deliberately low-level so a test can see every byte the server writes to stdout.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from tests.e2e.support import JsonObject, as_object

PROTOCOL_VERSION = "2025-11-25"
REPLY_TIMEOUT = 15.0
EXIT_TIMEOUT = 5.0
STATE_TIMEOUT = 30.0  # for wait_until: only a hang takes this long


class ServerDidNotExitError(AssertionError):
    pass


class RawStdioServer:
    """A server subprocess; every stdout line is kept in ``lines``, stderr goes to ``stderr_path``."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self.lines: list[bytes] = []
        self._inbox: queue.Queue[bytes | None] = queue.Queue()
        self._next_id = 0
        with stderr_path.open("wb") as stderr:
            self._process = subprocess.Popen(
                list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=dict(env), cwd=cwd
            )
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()

    def __enter__(self) -> RawStdioServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def _read_stdout(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        for line in stdout:
            self.lines.append(line)
            self._inbox.put(line)
        self._inbox.put(None)

    def notify(self, method: str, params: JsonObject | None = None) -> None:
        message: JsonObject = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)

    def request(self, method: str, params: JsonObject | None = None) -> JsonObject:
        """Send one request and wait for its response (other messages are kept in ``lines``)."""
        self._next_id += 1
        request_id = self._next_id
        message: JsonObject = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)
        return self.replies_until(request_id, method)[-1]

    def replies_until(self, request_id: object, what: str = "the request") -> list[JsonObject]:
        """Every message the server writes from now on, up to and including the reply to ``request_id``."""
        replies: list[JsonObject] = []
        while True:
            try:
                line = self._inbox.get(timeout=REPLY_TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"no answer to {what} within {REPLY_TIMEOUT}s; stderr:\n{self.stderr}") from None
            if line is None:
                raise AssertionError(f"the server closed stdout before answering {what}; stderr:\n{self.stderr}")
            reply = as_object(json.loads(line))
            replies.append(reply)
            if reply.get("id") == request_id and ("result" in reply or "error" in reply):
                return replies

    def next_message(self) -> JsonObject:
        """The next message the server writes (a request of its own, a notification or a reply)."""
        try:
            line = self._inbox.get(timeout=REPLY_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"nothing from the server within {REPLY_TIMEOUT}s; stderr:\n{self.stderr}") from None
        if line is None:
            raise AssertionError(f"the server closed stdout; stderr:\n{self.stderr}")
        return as_object(json.loads(line))

    def send(self, message: JsonObject) -> None:
        """Write one JSON-RPC message (e.g. a request whose answers the test reads with next_message)."""
        self._write(message)

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (a test's malformed or oversized line; add the newline yourself)."""
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(data)
        stdin.flush()

    @property
    def pid(self) -> int:
        return self._process.pid

    def send_signal(self, signum: int) -> None:
        self._process.send_signal(signum)

    def open_files(self) -> set[Path]:
        """The files the server process has open right now (Linux: /proc/<pid>/fd)."""
        fds = Path(f"/proc/{self.pid}/fd")
        return {Path(target) for fd in os.listdir(fds) if (target := _readlink(fds / fd)) is not None}

    def wait_channels(self) -> list[str]:
        """Where in the kernel each of the server's threads waits now (Linux: /proc/<pid>/task/*/wchan;
        "0" for a running thread), e.g. ``hrtimer_nanosleep`` for a thread asleep in ``usleep()``."""
        channels: list[str] = []
        tasks = Path(f"/proc/{self.pid}/task")
        for task in os.listdir(tasks):
            try:
                channels.append((tasks / task / "wchan").read_text())
            except OSError:  # the thread ended since the listing
                continue
        return channels

    def stdin_fd_in_server(self) -> int:
        """The server's descriptor for the pipe this side writes to (its own fd 0, or a copy of it)."""
        stdin = self._process.stdin
        assert stdin is not None
        pipe = f"pipe:[{os.fstat(stdin.fileno()).st_ino}]"
        fds = Path(f"/proc/{self.pid}/fd")
        found = [int(fd) for fd in os.listdir(fds) if _readlink(fds / fd) == pipe]
        assert found, f"the server does not hold its stdin pipe; descriptors: {os.listdir(fds)}"
        return max(found)  # a copy, if it made one (fd 0 itself may be the null device by now)

    def polls(self, fd: int) -> bool:
        """Whether an event loop of the server watches its ``fd`` (Linux: epoll instances' /proc fdinfo)."""
        fds = Path(f"/proc/{self.pid}/fd")
        for epoll in os.listdir(fds):
            if _readlink(fds / epoll) != "anon_inode:[eventpoll]":
                continue
            try:
                info = (Path(f"/proc/{self.pid}/fdinfo") / epoll).read_text()
            except OSError:  # closed since the listing
                continue
            if any(line.split()[:2] == ["tfd:", str(fd)] for line in info.splitlines()):
                return True
        return False

    def main_thread_blocked(self) -> bool:
        """Whether the server's main thread is waiting in the kernel rather than running."""
        try:
            return Path(f"/proc/{self.pid}/task/{self.pid}/wchan").read_text() != "0"
        except OSError:  # it exited
            return True

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = STATE_TIMEOUT) -> None:
        """Return once ``condition()`` holds: a state of the server process only /proc shows, so it is
        looked at every few milliseconds; ``timeout`` only detects a hang."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self._process.poll() is not None:
                raise AssertionError(f"the server exited before {what}; stderr:\n{self.stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no sign of {what} within {timeout}s; stderr:\n{self.stderr}")
            time.sleep(0.005)

    def result(self, method: str, params: JsonObject | None = None) -> JsonObject:
        reply = self.request(method, params)
        assert "error" not in reply, f"{method} failed: {reply['error']}"
        return as_object(reply.get("result"))

    def initialize(self, client_name: str = "raw-json-lines", capabilities: JsonObject | None = None) -> JsonObject:
        result = self.result(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": capabilities or {},
                "clientInfo": {"name": client_name, "version": "1.0"},
            },
        )
        self.notify("notifications/initialized")
        return result

    def call_tool(self, name: str, arguments: JsonObject) -> JsonObject:
        return self.result("tools/call", {"name": name, "arguments": arguments})

    def close_stdin(self) -> None:
        """What a client does when it is done (or quits): the server should then exit."""
        stdin = self._process.stdin
        assert stdin is not None
        stdin.close()

    def wait_for_exit(self, timeout: float = EXIT_TIMEOUT) -> int:
        try:
            code = self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            raise ServerDidNotExitError(f"the server did not exit within {timeout}s; stderr:\n{self.stderr}") from None
        self._reader.join(timeout)
        return code

    def close(self, timeout: float = EXIT_TIMEOUT) -> int:
        self.close_stdin()
        return self.wait_for_exit(timeout)

    def _write(self, message: JsonObject) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(json.dumps(message).encode() + b"\n")
        stdin.flush()


def _readlink(path: Path) -> str | None:
    try:
        return os.readlink(path)
    except OSError:  # closed since the listing
        return None
