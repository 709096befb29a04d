"""A Stripe stand-in for the payment-gateway tests: localstripe, and a fault-injecting proxy before it.

``LocalStripe`` runs the ``localstripe`` package (a stateful fake of Stripe's REST API) in a
subprocess. It is started through a short wrapper rather than the ``localstripe`` script so that
it listens on 127.0.0.1 only, on a port the system picks when it binds (port 0, so no other
process can take it between choosing and binding), says that port on its stdout once it listens,
and does not write its pickled store to ``/tmp/localstripe.pickle`` after every change (which
the script always does).

``FaultProxy`` sits between the client under test and localstripe and adds what localstripe
lacks or what a real network does:

- Stripe's idempotency: the first answer to a POST with a given ``Idempotency-Key`` is stored
  and replayed (with ``Idempotent-Replayed: true``) for every later POST with that key, without
  reaching localstripe again; reusing a key with other parameters gets Stripe's 400
  ``idempotency_error``. localstripe itself ignores the header.
- faults, queued per test with ``inject``; each request takes the next queued fault:
  ``reset`` (the connection is reset before the request is read), ``timeout`` (the request is
  processed upstream, but the answer is held for ``hold_s``), ``429`` (with ``Retry-After``),
  ``500``/``503`` (answered by the proxy, nothing reaches localstripe), ``409`` (Stripe's
  answer while another request with the same key is in progress), ``stored_500`` (the request
  runs upstream, but the answer is a 500 that Stripe then keeps, and replays, for that key), ``lost`` (the request is
  processed upstream, then the connection is closed without an answer) and ``echo_401`` (a 401
  whose message repeats the presented API key, as a careless gateway might).

It is a plain asyncio server speaking just enough HTTP/1.1 for httpx: one request per
connection, ``Connection: close`` on every answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import socket
import struct
import subprocess
import sys
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Literal

import httpx

Fault = Literal["reset", "timeout", "409", "429", "500", "503", "lost", "echo_401", "stored_500"]

SECRET = "sk_test_51Shopkeeper0SuperSecret0Value"
READ_TIMEOUT_S = 0.6  # the tests' client gives up reading after this; the proxy's "timeout" holds longer
BASE_DELAY_S = 0.05

_LISTENING = "localstripe listening on port "
_LAUNCH = (
    "import socket\n"
    "import localstripe.resources as resources\n"
    "resources.Store.dump_to_disk = lambda self: None\n"
    "from aiohttp import web\n"
    "from localstripe.server import app\n"
    "sock = socket.socket()\n"
    "sock.bind(('127.0.0.1', 0))\n"
    "port = sock.getsockname()[1]\n"
    # aiohttp calls ``print`` once its sites listen: the line the parent waits for
    f"ready = lambda *_: print('{_LISTENING}' + str(port), flush=True)\n"
    "web.run_app(app, sock=sock, print=ready, access_log=None)\n"
)


class LocalStripe:
    """localstripe in a subprocess; ``start()`` returns once it listens (it says so on its stdout)."""

    def __init__(self) -> None:
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._output: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        """``timeout_s`` only detects a hang: it returns as soon as localstripe listens."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self._process = process
        ports: queue.Queue[int | None] = queue.Queue()

        def read_output() -> None:  # keeps the pipe drained for as long as localstripe runs
            assert process.stdout is not None
            for raw in process.stdout:
                line = raw.decode(errors="replace")
                self._output.append(line)
                if line.startswith(_LISTENING):
                    ports.put(int(line.removeprefix(_LISTENING)))
            ports.put(None)  # end of output: localstripe exited

        self._reader = threading.Thread(target=read_output, daemon=True)
        self._reader.start()
        try:
            port = ports.get(timeout=timeout_s)
        except queue.Empty:
            self.stop()
            output = "".join(self._output)
            raise RuntimeError(f"localstripe hung: not listening after {timeout_s} s:\n{output}") from None
        if port is None:
            self.stop()
            output = "".join(self._output)
            raise RuntimeError(f"localstripe exited with {process.returncode} before listening:\n{output}")
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=5)  # it ends at the end of the output
        if process.stdout:
            process.stdout.close()

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": "Bearer sk_test_standin_inspector"}

    def reset(self) -> None:
        """Forget every object (localstripe's own ``DELETE /_config/data``)."""
        httpx.delete(f"{self.url}/_config/data", timeout=5).raise_for_status()

    def list(self, kind: str) -> list[dict[str, object]]:
        """Every object of a kind (``payment_intents``, ``refunds``...), asked of localstripe directly."""
        response = httpx.get(f"{self.url}/v1/{kind}", params={"limit": 1000}, headers=self.auth, timeout=5)
        response.raise_for_status()
        data: list[dict[str, object]] = response.json()["data"]
        return data

    def get(self, kind: str, object_id: str) -> dict[str, object]:
        response = httpx.get(f"{self.url}/v1/{kind}/{object_id}", headers=self.auth, timeout=5)
        response.raise_for_status()
        data: dict[str, object] = response.json()
        return data


@dataclass(frozen=True)
class Seen:
    """One request as it reached the proxy."""

    method: str
    path: str
    idempotency_key: str | None
    authorization: str | None
    body: bytes
    fault: Fault | None
    replayed: bool = False


@dataclass
class _Stored:
    fingerprint: tuple[str, str, bytes]
    status: int
    body: bytes


@dataclass
class FaultProxy:
    upstream: str
    hold_s: float = 2.0
    retry_after: str = "1"
    seen: list[Seen] = field(default_factory=lambda: [])
    upstream_posts: Counter[str] = field(default_factory=lambda: Counter[str]())
    _faults: deque[Fault] = field(default_factory=lambda: deque[Fault]())
    _stored: dict[str, _Stored] = field(default_factory=lambda: {})
    _locks: dict[str, asyncio.Lock] = field(default_factory=lambda: {})
    _tasks: set[asyncio.Task[None]] = field(default_factory=lambda: set[asyncio.Task[None]]())
    _server: asyncio.Server | None = None
    _client: httpx.AsyncClient | None = None
    url: str = ""

    def inject(self, *faults: Fault) -> None:
        self._faults.extend(faults)

    def heal(self) -> None:
        """Drop the faults not yet used: from now on every request goes through."""
        self._faults.clear()

    @property
    def pending_faults(self) -> int:
        return len(self._faults)

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=10)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # pyright: ignore[reportArgumentType]
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)  # pyright: ignore[reportArgumentType]
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fault = self._faults.popleft() if self._faults else None
        if fault == "reset":
            sock: socket.socket = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            self.seen.append(Seen("?", "?", None, None, b"", fault))
            return
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if length else b""
        key = headers.get("idempotency-key")

        if fault in ("409", "429", "500", "503", "echo_401"):
            self.seen.append(Seen(method, target, key, headers.get("authorization"), body, fault))
            if fault == "echo_401":
                presented = headers.get("authorization", "").removeprefix("Bearer ")
                error = {"type": "invalid_request_error", "message": f"Invalid API Key provided: {presented}"}
                await _answer(writer, 401, json.dumps({"error": error}).encode())
            elif fault == "409":  # Stripe's answer while another request with the same key is running
                error = {
                    "type": "idempotency_error",
                    "code": "idempotency_key_in_use",
                    "message": "There is currently another in-progress request using this Idempotency-Key",
                }
                await _answer(writer, 409, json.dumps({"error": error}).encode())
            else:
                error = {"type": "api_error", "message": f"injected {fault}"}
                extra = {"Retry-After": self.retry_after} if fault == "429" else {}
                await _answer(writer, int(fault), json.dumps({"error": error}).encode(), extra)
            return

        status, answer, replayed = await self._forward(method, target, headers, body, key)
        if fault == "stored_500" and key is not None and not replayed:
            status, answer = 500, json.dumps({"error": {"type": "api_error", "message": "injected 500"}}).encode()
            self._stored[key] = _Stored((method, target, body), status, answer)
        self.seen.append(Seen(method, target, key, headers.get("authorization"), body, fault, replayed))
        if fault == "lost":
            writer.transport.abort()  # processed upstream (or replayed), but the answer never arrives
            return
        if fault == "timeout":
            await asyncio.sleep(self.hold_s)
        await _answer(writer, status, answer, {"Idempotent-Replayed": "true"} if replayed else {})

    async def _forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes, key: str | None
    ) -> tuple[int, bytes, bool]:
        assert self._client is not None
        if method != "POST" or key is None:
            status, answer = await self._upstream(method, target, headers, body)
            return status, answer, False
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            stored = self._stored.get(key)
            if stored is not None:
                if stored.fingerprint != (method, target, body):
                    error = {
                        "type": "idempotency_error",
                        "message": "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with.",
                    }
                    return 400, json.dumps({"error": error}).encode(), False
                return stored.status, stored.body, True
            self.upstream_posts[key] += 1
            status, answer = await self._upstream(method, target, headers, body)
            if status < 500:  # Stripe keeps the result once the request has run
                self._stored[key] = _Stored((method, target, body), status, answer)
            return status, answer, False

    async def _upstream(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        assert self._client is not None
        forwarded = {k: v for k, v in headers.items() if k in ("authorization", "content-type", "accept")}
        response = await self._client.request(method, self.upstream + target, content=body, headers=forwarded)
        return response.status_code, response.content


async def _answer(writer: asyncio.StreamWriter, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in (extra or {}).items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


class Sleeps:
    """Records the client's back-off waits instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
