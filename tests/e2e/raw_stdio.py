"""Speak MCP to a server process the way a desktop app does: JSON-RPC, one message per line, on stdio.

Kept deliberately low-level so a test can see every byte the server writes to stdout.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from tests.e2e.support import JsonObject, as_object

PROTOCOL_VERSION = "2025-11-25"
REPLY_TIMEOUT = 15.0
EXIT_TIMEOUT = 5.0


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

    def result(self, method: str, params: JsonObject | None = None) -> JsonObject:
        reply = self.request(method, params)
        assert "error" not in reply, f"{method} failed: {reply['error']}"
        return as_object(reply.get("result"))

    def initialize(self, client_name: str = "raw-json-lines") -> JsonObject:
        result = self.result(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
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
