"""A database on a read-only location: reads are served, every write says the file is read-only,
changes nothing and is logged once. The location is a read-only bind mount (root writes through modes)."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest

from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from mcp_server.handlers.cli.common import Terminal
from mcp_server.handlers.cli.main import run
from tests.e2e.support import Tables, as_object, assert_no_internals, objects, open_shop, sqlite_url, string
from tests.reliability.storage_faults import assert_logs_keep_private, read_only_view, records_about, seed_shop

pytestmark = pytest.mark.anyio

SECRET_NAME = "Bob Secretname"
SECRET_EMAIL = "bob.secret@private.example"
NOBODY = Terminal(ask=lambda question: pytest.fail(f"nobody should be asked: {question}"), interactive=lambda: False)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True, slots=True)
class ReadOnlyShop:
    db: Path  # the database as the server sees it, on the read-only mount
    source: Path  # the same file on its writable home, for checking what changed
    ada: str
    product: str


def rows(db: Path) -> Tables:
    """Every row of every table, read without creating -wal/-shm files (the file is complete: no -wal)."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)) as conn:
        names = [str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            name: sorted((tuple(r) for r in conn.execute(f'SELECT * FROM "{name}"')), key=repr)  # noqa: S608 - names from sqlite_master
            for name in sorted(names)
        }


@pytest.fixture
def read_only_shop(tmp_path: Path) -> Generator[ReadOnlyShop]:
    """A shop written and closed cleanly (no -wal/-shm left), then seen through a read-only mount."""
    source = tmp_path / "home" / "shop.db"
    source.parent.mkdir()
    ada, product = anyio.run(seed_shop, source)
    assert sorted(p.name for p in source.parent.iterdir() if p.name.startswith("shop.db")) == ["shop.db"]
    with read_only_view(source.parent, tmp_path / "view") as view:
        yield ReadOnlyShop(view / "shop.db", source, ada, product)


def assert_says_read_only(text: str) -> None:
    lowered = text.lower()
    assert "read-only" in lowered, text
    assert "nothing was changed" in lowered, text
    assert "writable" in lowered, f"the message should say what to fix: {text}"
    assert "unexpected" not in lowered, text


async def test_reads_are_served_and_writes_refused_plainly_and_logged_once(
    read_only_shop: ReadOnlyShop, caplog: pytest.LogCaptureFixture
) -> None:
    before = rows(read_only_shop.source)
    caplog.set_level(logging.INFO)
    async with open_shop(read_only_shop.db, "auto") as shop:
        listed = await shop.ok("customers_list", {"limit": 10})
        assert [string(c, "id") for c in objects(listed.data, "customers")] == [read_only_shop.ada]
        found = await shop.ok("customers_get", {"email": "ada@engines.example"})
        assert string(found.data, "name") == "Ada Lovelace"
        assert string((await shop.ok("catalog_get", {"product_id": read_only_shop.product})).data, "sku") == "MUG-1"

        for attempt in range(3):
            text = await shop.fail("customers_register", {"name": SECRET_NAME, "email": f"{attempt}.{SECRET_EMAIL}"})
            assert_says_read_only(text)
            assert "\n\nNext: " in text, text
        text = await shop.fail(
            "catalog_adjust_stock", {"product_id": read_only_shop.product, "delta": 1, "reason": "restock"}
        )
        assert_says_read_only(text)
        text = await shop.fail(
            "orders_place", {"customer_id": read_only_shop.ada, "lines": [{"sku": "MUG-1", "quantity": 1}]}
        )
        assert_says_read_only(text)

        assert (await shop.ok("customers_list", {"limit": 10})).data == listed.data, "reads still answer"

    assert rows(read_only_shop.source) == before
    refusals = records_about(caplog.records, "read-only", "writes are refused")
    assert len(refusals) == 1, [r.getMessage() for r in refusals]
    assert len(records_about(caplog.records, "read-only", "serving reads only")) == 1
    assert_logs_keep_private(caplog.records, SECRET_NAME, SECRET_EMAIL, "Ada Lovelace", "ada@engines.example")


def test_the_cli_on_a_read_only_file_lists_and_refuses_writes_with_exit_6(
    read_only_shop: ReadOnlyShop, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    before = rows(read_only_shop.source)
    caplog.set_level(logging.INFO)
    settings = load_settings({"SHOPKEEPER_DATABASE_URL": sqlite_url(read_only_shop.db), "SHOPKEEPER_ACTOR": "tester"})
    actions = bootstrap(settings).cli_actions()

    assert run(["--json", "customers", "list"], actions, NOBODY) == 0, capsys.readouterr().err
    listed = as_object(json.loads(capsys.readouterr().out))
    assert [string(c, "email") for c in objects(listed, "customers")] == ["ada@engines.example"]

    code = run(["customers", "create", "--name", SECRET_NAME, "--email", SECRET_EMAIL], actions, NOBODY)
    out, err = capsys.readouterr()
    assert code == 6, err
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("shopkeeper: "), err
    assert_says_read_only(err)
    assert_no_internals(err, db_path=read_only_shop.db)
    assert rows(read_only_shop.source) == before
    assert_logs_keep_private(caplog.records, SECRET_NAME, SECRET_EMAIL)
