"""The server as a desktop app runs it: a subprocess speaking MCP on stdio, configured by environment.

These start real processes (about a second each), so they carry the ``slow`` marker; they still
run by default.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.session import IncomingMessage
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.e2e.raw_stdio import RawStdioServer
from tests.e2e.support import (
    CHECKOUT,
    PROTOCOL_VERSIONS,
    TOOLS,
    Mode,
    Where,
    as_list,
    as_object,
    objects,
    optional_string,
    sqlite_url,
    string,
    text_of,
    url_of,
)
from tests.engines import ShopDatabase

pytestmark = pytest.mark.slow

PLACEHOLDER = "<ABSOLUTE_PATH_TO_SHOPKEEPER_CHECKOUT>"
HANG_S = 30.0  # only a server that hangs takes this long
VENV_BIN = CHECKOUT / ".venv" / "bin"


@dataclass(frozen=True, slots=True)
class Launch:
    """How to start a server: what a desktop app would run, plus the environment it passes."""

    command: str
    args: list[str]
    env: dict[str, str]

    @property
    def argv(self) -> list[str]:
        return [self.command, *self.args]


def inherited_env() -> dict[str, str]:
    """Desktop apps pass little more than PATH and HOME."""
    return {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}


def from_desktop_config(db: Where) -> Launch:
    """claude_desktop_config.example.json with the placeholder replaced by this checkout's path."""
    config = as_object(json.loads((CHECKOUT / "claude_desktop_config.example.json").read_text()))
    entry = as_object(as_object(config.get("mcpServers")).get("shopkeeper"))

    def filled(value: object) -> str:
        assert isinstance(value, str)
        return value.replace(PLACEHOLDER, str(CHECKOUT))

    command = filled(entry.get("command"))
    assert PLACEHOLDER in string(entry, "command"), "the example should tell people where to put their path"
    assert Path(command).is_absolute()
    assert Path(command).is_file(), f"{command} does not exist: is the virtualenv where the example says?"
    assert os.access(command, os.X_OK), f"{command} is not executable"
    env = {key: filled(value) for key, value in as_object(entry.get("env", {})).items()}
    return Launch(
        command=command,
        args=[filled(arg) for arg in as_list(entry.get("args", []))],
        env={**inherited_env(), **env, "SHOPKEEPER_DATABASE_URL": url_of(db)},
    )


def python_module(db: Where) -> Launch:
    return Launch(
        command=sys.executable,
        args=["-m", "mcp_server"],
        env={**inherited_env(), "SHOPKEEPER_DATABASE_URL": url_of(db)},
    )


LAUNCHERS = {"desktop-config": from_desktop_config, "python-m-mcp_server": python_module}


def assert_only_json_rpc(lines: list[bytes]) -> None:
    """Every byte on stdout is a JSON-RPC 2.0 message, one per line."""
    assert lines, "the server wrote nothing to stdout"
    for raw in lines:
        assert raw.endswith(b"\n"), f"unterminated stdout line: {raw!r}"
        try:
            message = as_object(json.loads(raw))
        except ValueError:
            pytest.fail(f"stdout carried something that is not JSON-RPC: {raw!r}")
        assert message.get("jsonrpc") == "2.0", raw
        assert "id" in message or "method" in message, raw


def assert_clean_stderr(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "ERROR" not in stderr, stderr


@pytest.mark.anyio
async def test_desktop_config_starts_a_server_the_sdk_client_can_use(
    anyio_backend: str, shop_db: ShopDatabase, tmp_path: Path, mode: Mode
) -> None:
    del anyio_backend
    launch = from_desktop_config(shop_db)
    # A SQLite shop's mail goes beside its file; a database server's shop names a folder (not the home's).
    mail = {} if shop_db.engine == "sqlite" else {"SHOPKEEPER_MAIL_DIR": str(tmp_path / "mail")}
    params = StdioServerParameters(command=launch.command, args=launch.args, env=launch.env | mail, cwd=tmp_path)
    garbage: list[Exception] = []

    async def watch(message: IncomingMessage) -> None:
        if isinstance(message, Exception):  # a stdout line that was not a JSON-RPC message
            garbage.append(message)

    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode, message_handler=watch) as client:
            assert client.protocol_version == PROTOCOL_VERSIONS[mode]
            assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
            registered = await client.call_tool("customers_register", {"name": "Ada", "email": "Ada@Engines.Example"})
            assert not registered.is_error, text_of(registered)
            customer_id = string(as_object(registered.structured_content), "id")
            fetched = await client.call_tool("customers_get", {"email": "ada@engines.example"})
            assert not fetched.is_error, text_of(fetched)

    assert as_object(fetched.structured_content) == as_object(registered.structured_content)
    assert f"`{customer_id}`" in text_of(fetched)
    assert garbage == [], "stdout carries only JSON-RPC"
    assert_clean_stderr(stderr_path.read_text())


@pytest.mark.parametrize("launcher", LAUNCHERS.values(), ids=LAUNCHERS.keys())
def test_stdout_carries_only_json_rpc(tmp_path: Path, launcher: Callable[[Path], Launch]) -> None:
    """On SQLite: every byte of stdout, from both launchers (the test above watches stdout on PostgreSQL)."""
    launch = launcher(tmp_path / "shop.db")

    with RawStdioServer(launch.argv, env=launch.env, cwd=tmp_path, stderr_path=tmp_path / "stderr.log") as server:
        hello = server.initialize()
        tools = objects(server.result("tools/list"), "tools")
        registered = server.call_tool("customers_register", {"name": "Ada Lovelace", "email": "ada@engines.example"})
        customer = as_object(registered.get("structuredContent"))
        fetched = server.call_tool("customers_get", {"customer_id": string(customer, "id")})
        history = server.call_tool("audit_log_list", {})
        code = server.close()

    assert code == 0
    assert_only_json_rpc(server.lines)
    assert_clean_stderr(server.stderr)
    assert string(hello, "protocolVersion") == "2025-11-25"
    assert string(as_object(hello.get("serverInfo")), "name") == "shopkeeper"
    assert {string(tool, "name") for tool in tools} == TOOLS
    assert registered.get("isError") is False
    assert fetched.get("isError") is False
    assert as_object(fetched.get("structuredContent")) == customer
    entries = objects(as_object(history.get("structuredContent")), "entries")
    assert [string(e, "actor") for e in entries] == ["raw-json-lines"], "the actor is the client's name"
    assert optional_string(as_object(history.get("structuredContent")), "next_cursor") is None


class WriteLock:
    """SQLite's write lock on a WAL database, held as another Shopkeeper process in mid-write would."""

    def __init__(self, db_path: Path) -> None:
        self._conn: sqlite3.Connection | None = sqlite3.connect(db_path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("BEGIN IMMEDIATE")

    def __enter__(self) -> WriteLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute("ROLLBACK")
            self._conn.close()
            self._conn = None


def test_server_exits_when_the_client_leaves_during_first_start(tmp_path: Path) -> None:
    """A client lists the tools and quits while the server is still creating its database.

    Another writer's lock keeps the server's first-start migration waiting, so the client
    leaves mid-start every time (without the lock this happens only when the timing is
    unlucky); the lock is released once the server has heard the client leave. The server
    should then finish its start-up and exit, as it does when start-up had finished before
    the client left (without the fix it never exits). The waits look at the server process
    in /proc (Linux): what it has open, where its threads sleep, what its event loop polls.
    """
    db_path = tmp_path / "shop.db"
    wal = db_path.with_name(db_path.name + "-wal")
    launch = python_module(db_path)

    with (
        WriteLock(db_path) as other_writer,
        RawStdioServer(launch.argv, env=launch.env, cwd=tmp_path, stderr_path=tmp_path / "stderr.log") as server,
    ):
        server.initialize()
        assert {string(t, "name") for t in objects(server.result("tools/list"), "tools")} == TOOLS

        def waits_for_the_lock() -> bool:
            # Its connection is open, and a thread sleeps between tries in SQLite's busy handler
            # (no server thread sleeps on a timer otherwise): the migration waits for the lock.
            return wal in server.open_files() and any("nanosleep" in w for w in server.wait_channels())

        server.wait_until(waits_for_the_lock, "start-up waiting for the other writer's lock")
        wire = server.stdin_fd_in_server()
        server.close_stdin()

        def heard_the_client_leave() -> bool:
            # It no longer waits for input and has done all that follows without waiting (the lock is
            # released only now, so a server that abandons the migration on shutdown is caught doing it).
            return not server.polls(wire) and server.main_thread_blocked()

        server.wait_until(heard_the_client_leave, "the server hearing that the client left")
        other_writer.release()
        code = server.wait_for_exit(timeout=HANG_S)

    assert code == 0


def test_bad_database_url_fails_fast_with_one_clear_line(tmp_path: Path) -> None:
    env = {**inherited_env(), "SHOPKEEPER_DATABASE_URL": "mysql://x"}

    finished = subprocess.run(
        [str(VENV_BIN / "shopkeeper-mcp")],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert finished.returncode != 0
    assert finished.stdout == "", "stdout belongs to JSON-RPC"
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, finished.stderr
    assert "SHOPKEEPER_DATABASE_URL" in lines[0]
    assert "sqlite+aiosqlite://" in lines[0], "says what would be accepted"
    assert "Traceback" not in finished.stderr


def run_shopkeeper(*args: str, db_path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "shopkeeper"), *args],
        env={**inherited_env(), "SHOPKEEPER_DATABASE_URL": sqlite_url(db_path)},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_db_upgrade_creates_the_schema_once(tmp_path: Path) -> None:
    """On SQLite: the installed script makes the file and its folder (tests/cli upgrade PostgreSQL)."""
    db_path = tmp_path / "data" / "shop.db"

    first = run_shopkeeper("db", "upgrade", db_path=db_path, cwd=tmp_path)
    second = run_shopkeeper("db", "upgrade", db_path=db_path, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert "upgraded to revision" in first.stdout
    assert str(db_path) in first.stdout, "says which database it touched"
    assert db_path.is_file()
    assert second.returncode == 0, second.stderr
    assert "already at revision" in second.stdout
    assert first.stdout.split()[-1] == second.stdout.split()[-1], "the same revision both times"
    assert "Traceback" not in first.stderr + second.stderr


def test_without_configuration_the_database_lives_in_the_users_data_directory(tmp_path: Path) -> None:
    """The README's first command: no SHOPKEEPER_ variables at all, a user with a fresh home."""
    home = tmp_path / "home"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home)}
    argv = [str(VENV_BIN / "shopkeeper-mcp")]

    with RawStdioServer(argv, env=env, cwd=tmp_path, stderr_path=tmp_path / "stderr.log") as server:
        server.initialize()
        registered = server.call_tool("customers_register", {"name": "Ada Lovelace", "email": "ada@engines.example"})
        code = server.close()

    assert code == 0
    assert registered.get("isError") is False
    database = home / ".local" / "share" / "shopkeeper" / "shopkeeper.db"
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT email FROM customers").fetchall() == [("ada@engines.example",)]
