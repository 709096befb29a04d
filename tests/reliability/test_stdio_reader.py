"""The stdio door under abuse: malformed and oversized lines, signals, a real terminal.

Each test starts the real server process (``python -m mcp_server``) and speaks raw JSON lines to
it, so it sees every byte the server writes. "Answered" means a JSON-RPC error comes back for the
bad line, before the answer to the next good request, which shows the server still serves.
Waits (10 s) are hang detectors, never speed assertions.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Generator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from tests.e2e.raw_stdio import PROTOCOL_VERSION, RawStdioServer
from tests.e2e.support import JsonObject, as_object, integer, sqlite_url, string

pytestmark = pytest.mark.slow

HANG_S = 10.0  # generous: only a server that hangs takes this long
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
DEFAULT_LIMIT = 4_194_304
MIB = 1024 * 1024


def server_env(db_path: Path, **settings: str) -> dict[str, str]:
    env = {key: os.environ[key] for key in ("PATH", "HOME", "PYTHONPATH") if key in os.environ}
    env["SHOPKEEPER_DATABASE_URL"] = sqlite_url(db_path)
    env["SHOPKEEPER_WORKER"] = "off"  # nothing in the background but what a test starts
    env.update({f"SHOPKEEPER_{name.upper()}": value for name, value in settings.items()})
    return env


def start(tmp_path: Path, **settings: str) -> RawStdioServer:
    return RawStdioServer(
        [sys.executable, "-m", "mcp_server"],
        env=server_env(tmp_path / "shop.db", **settings),
        cwd=tmp_path,
        stderr_path=tmp_path / "stderr.log",
    )


def ready(server: RawStdioServer) -> None:
    """Initialized, and the database opened (a tool call that reads it has been answered)."""
    server.initialize()
    listed = server.call_tool("customers_list", {})
    assert listed.get("isError") is False, listed


def answers_then_ping(server: RawStdioServer, line: bytes, ping_id: int) -> list[JsonObject]:
    """Send a bad line, then a ping; everything the server wrote up to and including the pong."""
    server.send_raw(line + b"\n")
    server.send_raw(json.dumps({"jsonrpc": "2.0", "id": ping_id, "method": "ping"}).encode() + b"\n")
    replies = server.replies_until(ping_id, "ping")
    assert replies[-1].get("result") == {}, f"the server stopped serving after {line[:80]!r}"
    return replies[:-1]


def error_of(replies: list[JsonObject]) -> tuple[int, object]:
    """The one error answer to a bad line: (code, id)."""
    assert len(replies) == 1, f"expected one error answer, got {replies}"
    error = as_object(replies[0].get("error"))
    assert replies[0].get("jsonrpc") == "2.0"
    assert string(error, "message")
    return integer(error, "code"), replies[0].get("id")


def peak_rss_bytes(pid: int) -> int:
    """The process's high-water resident set size (VmHWM), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def lifespan_cleanup_ran(db_path: Path) -> bool:
    """The server closed its database: SQLite removes the -wal and -shm files when the last connection closes."""
    return db_path.is_file() and not any(db_path.with_name(db_path.name + tail).exists() for tail in ("-wal", "-shm"))


def send_in_background(server: RawStdioServer, data: bytes) -> threading.Thread:
    """A large write goes through a thread, so a server that stops reading fails the test instead of hanging it."""
    writer = threading.Thread(target=server.send_raw, args=(data,), daemon=True)
    writer.start()
    return writer


MALFORMED: dict[str, tuple[bytes, int, object]] = {
    # name: (line, expected code, expected id)
    "lone surrogate": (
        b'{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"customers_register",'
        b'"arguments":{"name":"\\ud800","email":"ada@engines.example"}}}',
        PARSE_ERROR,
        41,
    ),
    "lone surrogate, id last": (
        b'{"method":"ping","params":{"x":"\\udfff"},"jsonrpc":"2.0","id":"s-42"}',
        PARSE_ERROR,
        "s-42",
    ),
    "nested 100,000 deep": (
        b'{"jsonrpc":"2.0","id":43,"method":"ping","params":{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
        PARSE_ERROR,
        43,
    ),
    "nested 100,000 deep, no id": (b"[" * 100_000 + b"]" * 100_000, PARSE_ERROR, None),
    "truncated": (b'{"jsonrpc":"2.0","id":44,"method":"tools/list","par', PARSE_ERROR, 44),
    "truncated before the id": (b'{"jsonrpc":"2.0","method":"tools/li', PARSE_ERROR, None),
    "invalid UTF-8": (b'{"jsonrpc":"2.0","id":45,"method":"ping","params":{"x":"\xff\xfe"}}', PARSE_ERROR, 45),
    "not an object": (b"42", INVALID_REQUEST, None),
    "a batch": (b'[{"jsonrpc":"2.0","id":46,"method":"ping"}]', INVALID_REQUEST, None),
    "no method": (b'{"jsonrpc":"2.0","id":47,"params":{}}', INVALID_REQUEST, 47),
}


def test_every_malformed_line_is_answered_and_the_server_keeps_serving(tmp_path: Path) -> None:
    with start(tmp_path) as server:
        ready(server)
        answered = {
            name: error_of(answers_then_ping(server, line, ping_id=1000 + n))
            for n, (name, (line, _, _)) in enumerate(MALFORMED.items())
        }
        code = server.close(timeout=HANG_S)

    assert answered == {name: (code, request_id) for name, (_, code, request_id) in MALFORMED.items()}
    assert code == 0
    assert "Traceback" not in server.stderr


def test_an_oversized_message_is_refused_by_the_configured_limit_with_its_id(tmp_path: Path) -> None:
    limit = 65_536
    with start(tmp_path, max_message_bytes=str(limit)) as server:
        ready(server)
        just_fits = register_line(request_id=7, notes_bytes=0)
        just_fits = register_line(request_id=7, notes_bytes=limit - len(just_fits))
        assert len(just_fits) == limit
        accepted = answers_then_ping(server, just_fits, ping_id=8)
        too_big = register_line(request_id=9, notes_bytes=limit - len(register_line(9, 0)) + 1)
        refused = answers_then_ping(server, too_big, ping_id=10)
        code = server.close(timeout=HANG_S)

    assert [reply.get("id") for reply in accepted] == [7]
    assert "error" not in accepted[0], "a message of exactly the limit is served"
    assert error_of(refused) == (INVALID_REQUEST, 9)
    message = string(as_object(refused[0].get("error")), "message")
    assert "65,536 bytes" in message, message
    assert "SHOPKEEPER_MAX_MESSAGE_BYTES" in message
    assert code == 0


def register_line(request_id: int, notes_bytes: int) -> bytes:
    """A customers_register request whose notes make it as long as wanted (ASCII, so bytes = characters)."""
    message = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {
            "name": "customers_register",
            "arguments": {"name": "Ada", "email": f"ada{request_id}@engines.example", "notes": "n" * notes_bytes},
        },
    }
    return json.dumps(message, separators=(",", ":")).encode()


@pytest.mark.parametrize("id_position", ["first", "last"])
def test_a_20_mb_message_is_refused_at_the_default_limit_in_bounded_memory(tmp_path: Path, id_position: str) -> None:
    """The SDK's own reader keeps the whole line (and more) in memory; this one never holds more than the limit."""
    size = 20 * MIB
    head, tail = (
        b'{"jsonrpc":"2.0","method":"tools/call","params":{"name":"customers_register","arguments":{"notes":"',
        b'"}}',
    )
    id_field = b'"id":77'
    line = (b"{" + id_field + b"," + head[1:]) if id_position == "first" else head
    ending = tail + (b"," + id_field + b"}" if id_position == "last" else b"}")
    line = line + b"n" * (size - len(line) - len(ending)) + ending
    assert len(line) == size

    with start(tmp_path) as server:
        ready(server)
        before = peak_rss_bytes(server.pid)
        writer = send_in_background(server, line + b"\n")
        writer.join(HANG_S * 3)
        assert not writer.is_alive(), "the server stopped reading its stdin"
        server.send_raw(json.dumps({"jsonrpc": "2.0", "id": 78, "method": "ping"}).encode() + b"\n")
        replies = server.replies_until(78, "ping")
        grew = peak_rss_bytes(server.pid) - before
        code = server.close(timeout=HANG_S)

    assert error_of(replies[:-1]) == (INVALID_REQUEST, 77)
    message = string(as_object(replies[0].get("error")), "message")
    assert f"{DEFAULT_LIMIT:,} bytes" in message, message
    assert grew < size // 2, f"peak memory grew by {grew / MIB:.1f} MiB for a {size / MIB:.0f} MiB line"
    assert code == 0


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)], ids=["INT", "TERM"])
def test_a_signal_stops_an_idle_server_with_its_cleanup(tmp_path: Path, signum: int, exit_code: int) -> None:
    with start(tmp_path) as server:
        ready(server)
        server.send_signal(signum)
        code = server.wait_for_exit(timeout=HANG_S)

    assert code == exit_code
    assert lifespan_cleanup_ran(tmp_path / "shop.db"), "the database was not closed: the lifespan cleanup did not run"
    assert "Traceback" not in server.stderr


class SilentGateway:
    """A payment gateway that takes the request and never answers: a card payment stays in flight."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.called = threading.Event()
        self._held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(connection)
            if connection.recv(65_536):
                self.called.set()

    def close(self) -> None:
        self._listener.close()
        for connection in self._held:
            connection.close()


@contextmanager
def silent_gateway() -> Generator[SilentGateway]:
    gateway = SilentGateway()
    try:
        yield gateway
    finally:
        gateway.close()


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)], ids=["INT", "TERM"])
def test_a_signal_during_a_tool_call_stops_the_server_and_leaves_the_payment_to_settle(
    tmp_path: Path, signum: int, exit_code: int
) -> None:
    db_path = tmp_path / "shop.db"
    with silent_gateway() as gateway:
        settings = {"stripe_secret_key": "sk_test_stdio", "stripe_api_base": gateway.url}
        with start(tmp_path, **settings) as server:
            ready(server)
            customer = as_object(
                server.call_tool("customers_register", {"name": "Ada", "email": "ada@engines.example"}).get(
                    "structuredContent"
                )
            )
            product: JsonObject = {"sku": "MUG-1", "name": "Mug", "price_minor": 1250, "currency": "EUR", "stock": 5}
            server.call_tool("catalog_create_product", product)
            placed = server.call_tool(
                "orders_place", {"customer_id": string(customer, "id"), "lines": [{"sku": "MUG-1", "quantity": 1}]}
            )
            order_id = string(as_object(as_object(placed.get("structuredContent")).get("order")), "id")
            pay = {"order_id": order_id, "method": "card", "payment_method": "pm_card_visa", "idempotency_key": "k1"}
            server.send_raw(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": 99,
                        "method": "tools/call",
                        "params": {"name": "payments_record", "arguments": pay},
                    }
                ).encode()
                + b"\n"
            )
            assert gateway.called.wait(HANG_S), f"the card payment never reached the gateway; stderr:\n{server.stderr}"
            server.send_signal(signum)
            code = server.wait_for_exit(timeout=HANG_S)

    assert code == exit_code
    assert lifespan_cleanup_ran(db_path), "the database was not closed: the lifespan cleanup did not run"
    with closing(sqlite3.connect(db_path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT kind, method, status FROM payments WHERE order_id = ?", (order_id,)).fetchall()
    assert rows == [("payment", "card", "pending")], "the charge in flight stays pending for the settler"
    assert "Traceback" not in server.stderr


def test_ctrl_c_at_a_terminal_stops_the_server(tmp_path: Path) -> None:
    """`make run` in a terminal: stdin, stdout and stderr are a TTY, and Ctrl-C is the way out."""
    env = server_env(tmp_path / "shop.db")
    pid, terminal = pty.fork()
    if pid == 0:  # the child: a session leader whose controlling terminal is the pty
        os.chdir(tmp_path)
        os.execve(sys.executable, [sys.executable, "-m", "mcp_server"], env)  # noqa: S606 - no shell wanted
    try:
        seen = bytearray()
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "tty", "version": "1"},
            },
        }
        os.write(terminal, json.dumps(initialize).encode() + b"\n")
        read_until(terminal, seen, b'"serverInfo"')
        os.write(terminal, b"\x03")  # Ctrl-C: the terminal sends SIGINT to the foreground process group
        status = wait_for(pid)
    finally:
        if status_of(pid) is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(terminal)

    assert status is not None, (
        f"Ctrl-C did not stop the server within {HANG_S}s; output:\n{seen.decode(errors='replace')}"
    )
    assert os.waitstatus_to_exitcode(status) == 130


def read_until(terminal: int, seen: bytearray, marker: bytes) -> None:
    """Read the terminal as output arrives until ``marker`` is in ``seen`` (HANG_S in all only detects a hang)."""
    deadline = time.monotonic() + HANG_S
    while marker not in seen:
        readable, _, _ = select.select([terminal], [], [], max(0.0, deadline - time.monotonic()))
        assert readable, f"no {marker!r} on the terminal; output:\n{seen.decode(errors='replace')}"
        seen += os.read(terminal, 65_536)


_statuses: dict[int, int] = {}


def status_of(pid: int) -> int | None:
    if pid in _statuses:
        return _statuses[pid]
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        _statuses[pid] = status
        return status
    return None


def wait_for(pid: int) -> int | None:
    """The child's wait status once it exits (its pidfd turns readable then), or None after HANG_S."""
    pidfd = os.pidfd_open(pid)
    try:
        exited, _, _ = select.select([pidfd], [], [], HANG_S)
    finally:
        os.close(pidfd)
    if not exited:
        return None
    _, status = os.waitpid(pid, 0)  # it has exited: this returns at once
    _statuses[pid] = status
    return status


def test_stdin_from_a_file_and_from_dev_null(tmp_path: Path) -> None:
    """Not every stdin can be polled (a regular file, /dev/null): the server still reads it to the end."""
    requests = tmp_path / "requests.jsonl"
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "f", "version": "1"},
        },
    }
    requests.write_bytes(
        json.dumps(initialize).encode()
        + b'\n{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
        + b'{"jsonrpc":"2.0","id":2,"method":"ping"}\n'
        + b"42\n"
    )
    with requests.open("rb") as stdin:
        from_file = subprocess.run(
            [sys.executable, "-m", "mcp_server"],
            stdin=stdin,
            capture_output=True,
            env=server_env(tmp_path / "shop.db"),
            cwd=tmp_path,
            timeout=HANG_S * 3,
            check=False,
        )
    from_null = subprocess.run(
        [sys.executable, "-m", "mcp_server"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=server_env(tmp_path / "other.db"),
        cwd=tmp_path,
        timeout=HANG_S * 3,
        check=False,
    )

    answers = {
        as_object(json.loads(line)).get("id"): as_object(json.loads(line)) for line in from_file.stdout.splitlines()
    }
    assert sorted(answers, key=str) == [1, 2, None], "every request read before the end of the file is answered"
    assert as_object(answers[None].get("error")).get("code") == INVALID_REQUEST
    assert from_file.returncode == 0, from_file.stderr
    assert from_null.returncode == 0, from_null.stderr
    assert from_null.stdout == b""
