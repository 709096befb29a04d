"""Where the MCP server's database is: it creates one only at the default location or as a new file
in a directory that exists, says so in its first answer, and keeps every file it makes private."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from tests.databases import mode_of, modes_in, sqlite_url, umask
from tests.e2e.support import Mode, assert_no_internals, text_of
from tests.engines import ShopDatabase
from tests.postgres import PostgresServer

NEW_SHOP = "new, empty shop"


def _app(env: dict[str, str]):
    return bootstrap(load_settings({"SHOPKEEPER_WORKER": "off", **env})).mcp_server()


async def test_the_first_answer_of_a_shop_the_server_created_says_it_is_new(
    anyio_backend: str, tmp_path: Path, mode: Mode
) -> None:
    """On SQLite, where the server makes the file (the next test is PostgreSQL's empty database)."""
    del anyio_backend
    db_path = tmp_path / "dya.db"  # a typo for day.db, say: the assistant must be able to tell

    async with Client(_app({"SHOPKEEPER_DATABASE_URL": sqlite_url(db_path)}), mode=mode) as client:
        first = await client.call_tool("orders_list", {})
        second = await client.call_tool("orders_list", {})

    assert not first.is_error
    assert NEW_SHOP in text_of(first)
    assert "SHOPKEEPER_DATABASE_URL" in text_of(first), "says which setting to check"
    assert_no_internals(text_of(first), db_path=db_path)
    assert NEW_SHOP not in text_of(second), "said once"
    assert db_path.is_file()


async def test_the_first_answer_on_an_empty_postgresql_database_says_the_shop_is_new(
    anyio_backend: str, postgres: PostgresServer
) -> None:
    """A database server's database is made by its administrator; the server builds the shop in it."""
    del anyio_backend
    db = ShopDatabase("postgresql", postgres.create_database("e2e_empty"), name="e2e_empty")
    try:
        async with Client(_app({"SHOPKEEPER_DATABASE_URL": db.url})) as client:
            first = await client.call_tool("orders_list", {})
            second = await client.call_tool("orders_list", {})
    finally:
        postgres.drop_database("e2e_empty")

    assert not first.is_error, text_of(first)
    assert NEW_SHOP in text_of(first)
    assert "SHOPKEEPER_DATABASE_URL" in text_of(first), "says which setting to check"
    assert_no_internals(text_of(first), db=db)
    assert NEW_SHOP not in text_of(second), "said once"


async def test_an_existing_shop_is_not_called_new(anyio_backend: str, shop_db: ShopDatabase, mode: Mode) -> None:
    del anyio_backend

    async with Client(_app({"SHOPKEEPER_DATABASE_URL": shop_db.url}), mode=mode) as client:
        first = await client.call_tool("orders_list", {})

    assert not first.is_error
    assert NEW_SHOP not in text_of(first)


async def test_a_database_under_a_missing_directory_is_refused_and_nothing_is_made(
    anyio_backend: str, tmp_path: Path, mode: Mode
) -> None:
    """On SQLite only: about a file and its directory."""
    del anyio_backend
    db_path = tmp_path / "no" / "such" / "shop.db"

    async with Client(_app({"SHOPKEEPER_DATABASE_URL": sqlite_url(db_path)}), mode=mode) as client:
        refused = await client.call_tool("customers_list", {})

    assert refused.is_error
    text = text_of(refused)
    assert "database is not available" in text
    assert "shopkeeper db init" in text, "names the command that creates it"
    assert_no_internals(text, db_path=db_path)
    assert modes_in(tmp_path) == {}, "no directory, no file"


async def test_at_the_default_location_the_server_makes_a_private_data_directory(
    anyio_backend: str, tmp_path: Path, mode: Mode, monkeypatch: pytest.MonkeyPatch
) -> None:
    del anyio_backend
    home = tmp_path / "home"
    home.mkdir()
    for name in ("XDG_DATA_HOME", "SHOPKEEPER_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    settings = load_settings()

    data = home / ".local" / "share" / "shopkeeper"

    with umask(0o000):
        async with Client(bootstrap(settings).mcp_server(), mode=mode) as client:
            first = await client.call_tool("customers_register", {"name": "Ada", "email": "ada@example.com"})
            files = modes_in(data)  # while the server has it open: WAL and SHM exist

    assert not first.is_error, text_of(first)
    assert NEW_SHOP in text_of(first)
    for folder in (home / ".local", home / ".local" / "share", data):
        assert mode_of(folder) == 0o700, folder
    assert files == {"shopkeeper.db": 0o600, "shopkeeper.db-wal": 0o600, "shopkeeper.db-shm": 0o600}
