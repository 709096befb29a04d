"""The `db` commands on a PostgreSQL database: init and upgrade make and keep its schema, backup points
to pg_dump, and a database that is not there is named in words, with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.adapters.migrations import HEAD_REVISION
from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from mcp_server.handlers.cli.common import Exit
from mcp_server.handlers.cli.main import run
from tests.cli.conftest import NOBODY
from tests.e2e.support import assert_no_internals
from tests.postgres import PostgresServer


def shopkeeper(url: str, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``shopkeeper ARGV`` in-process with SHOPKEEPER_DATABASE_URL=url."""
    capsys.readouterr()
    code = run(list(argv), bootstrap(load_settings({"SHOPKEEPER_DATABASE_URL": url})).cli_actions(), NOBODY)
    captured = capsys.readouterr()
    assert_no_internals(captured.out + captured.err)
    return code, captured.out, captured.err


def test_init_makes_the_schema_once_and_upgrade_keeps_it(
    postgres: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres.create_database("cli_init").replace("postgresql+asyncpg://", "postgresql://")
    shown = url  # as psql takes it: no driver name

    made = shopkeeper(url, "db", "init", capsys=capsys)
    again = shopkeeper(url, "db", "init", capsys=capsys)
    upgraded = shopkeeper(url, "db", "upgrade", capsys=capsys)
    listed = shopkeeper(url, "orders", "list", capsys=capsys)

    assert made == (Exit.OK, f"{shown}: made a new, empty shop; schema upgraded to revision {HEAD_REVISION}\n", "")
    assert again[0] == Exit.REFUSED
    assert "already exists" in again[2]
    assert upgraded == (Exit.OK, f"{shown}: schema already at revision {HEAD_REVISION}\n", "")
    assert listed[0] == Exit.OK


def test_backup_names_pg_dump_and_writes_nothing(
    postgres: PostgresServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = postgres.create_database("cli_backup")
    assert shopkeeper(url, "db", "init", capsys=capsys)[0] == Exit.OK

    code, out, err = shopkeeper(url, "db", "backup", str(tmp_path), capsys=capsys)

    assert (code, out) == (Exit.REFUSED, "")
    assert "pg_dump --format=custom" in err
    assert "nothing was written" in err
    assert list(tmp_path.iterdir()) == []


def test_a_database_that_is_not_there_is_named_with_the_fix(
    postgres: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres.url("no_such_shop")

    for argv in (("orders", "list"), ("db", "upgrade")):
        code, out, err = shopkeeper(url, *argv, capsys=capsys)
        assert (code, out) == (Exit.ERROR, "")
        assert "that database does not exist on the server (create it first, e.g. createdb shop)" in err
        assert len(err.splitlines()) == 1


def test_a_password_never_shows(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = shopkeeper("postgresql://shop:s3cret-pw@127.0.0.1:9/shop", "db", "upgrade", capsys=capsys)

    assert code == Exit.ERROR
    assert "s3cret-pw" not in err
    assert "postgresql://shop:***@127.0.0.1:9/shop" in err
