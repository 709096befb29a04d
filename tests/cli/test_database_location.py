"""Where the CLI's database is: a mistyped location never becomes a new, empty shop; only
``db init`` / ``db upgrade`` create one; a database that cannot be opened is one line, every command."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from mcp_server.handlers.cli.common import Terminal
from mcp_server.handlers.cli.main import run
from tests.databases import mode_of, modes_in, new_database, sqlite_url, umask
from tests.e2e.support import assert_no_internals

NOBODY = Terminal(ask=lambda question: pytest.fail(f"nobody should be asked: {question}"), interactive=lambda: False)

# Every path through which a command opens the database: each group's commands, the worker, backups.
OPENING_COMMANDS = [
    ("customers", "list"),
    ("customers", "get", "cus_01M8DDKK36E9YSJQTM2D02DDWS"),
    ("customers", "create", "--name", "Ada", "--email", "ada@example.com"),
    ("catalog", "search"),
    ("orders", "list"),
    ("orders", "get", "ord_01M8DDKK36E9YSJQTM2D02DDWS"),
    ("payments", "list"),
    ("reports", "sales", "--from", "2026-11-01", "--to", "2026-11-30"),
    ("audit", "list"),
    ("notifications", "list"),
    ("worker", "--once"),
    ("db", "backup", "copy.db"),
]


def shopkeeper(db_path: Path, *argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``shopkeeper ARGV`` in-process with SHOPKEEPER_DATABASE_URL naming ``db_path``."""
    settings = load_settings({"SHOPKEEPER_DATABASE_URL": sqlite_url(db_path)})
    capsys.readouterr()
    code = run(list(argv), bootstrap(settings).cli_actions(), NOBODY)
    captured = capsys.readouterr()
    assert_no_internals(captured.out + captured.err)
    return code, captured.out, captured.err


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("shopkeeper: "), err
    assert "Error" not in lines[0], f"words, not an exception class: {err}"
    return lines[0]


@pytest.mark.parametrize("argv", OPENING_COMMANDS, ids=" ".join)
def test_a_mistyped_database_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...]
) -> None:
    """The issue's case: '…/dya.db' for '…/day.db' made and migrated a new file and said 'No orders.'"""
    monkeypatch.chdir(tmp_path)
    new_database(tmp_path / "day.db")
    typo = tmp_path / "dya.db"

    code, out, err = shopkeeper(typo, *argv, capsys=capsys)

    assert code == 1
    assert out == ""
    line = one_line(err)
    assert str(typo) in line, "names the path"
    assert "shopkeeper db init" in line, "names the command that creates it"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.db"], "nothing was created"


def test_a_database_under_a_missing_directory_is_refused_and_no_directory_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_path = tmp_path / "no" / "such" / "shop.db"

    code, _, err = shopkeeper(db_path, "orders", "list", capsys=capsys)

    assert code == 1
    assert str(db_path) in one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_db_init_creates_a_private_database_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_path = tmp_path / "data" / "shop.db"

    with umask(0o000):
        code, out, err = shopkeeper(db_path, "db", "init", capsys=capsys)
        listed = shopkeeper(db_path, "orders", "list", capsys=capsys)
    again, _, again_err = shopkeeper(db_path, "db", "init", capsys=capsys)

    assert (code, err) == (0, "")
    assert str(db_path) in out
    assert "new, empty" in out
    assert listed[0] == 0, listed[2]
    assert mode_of(tmp_path / "data") == 0o700
    assert modes_in(tmp_path / "data") == {"shop.db": 0o600}  # WAL and SHM: tests/integration/test_private_files.py
    assert again == 4, "an existing shop is never initialised again"
    assert "already exists" in one_line(again_err)
    assert "shopkeeper db upgrade" in again_err


def test_db_upgrade_still_creates_and_says_the_shop_is_new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_path = tmp_path / "shop.db"

    code, out, err = shopkeeper(db_path, "db", "upgrade", capsys=capsys)
    again, out_again, _ = shopkeeper(db_path, "db", "upgrade", capsys=capsys)

    assert (code, err) == (0, "")
    assert "new, empty" in out
    assert "upgraded to revision" in out
    assert again == 0
    assert "already at revision" in out_again
    assert "new" not in out_again


def _not_a_database(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an SQLite file, just some text that is long enough " * 100)
    return path


def _a_directory(tmp_path: Path) -> Path:
    path = tmp_path / "folder.db"
    path.mkdir()
    return path


def _from_a_newer_version(tmp_path: Path) -> Path:
    """A shop stamped by a newer Shopkeeper: this one cannot migrate it (a backup still can copy it)."""
    path = tmp_path / "newer.db"
    new_database(path)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = 'from-the-future'")
    return path


UNOPENABLE: dict[str, Callable[[Path], Path]] = {
    "not a database": _not_a_database,
    "a directory": _a_directory,
    "a newer version": _from_a_newer_version,
}
COMMANDS = [("worker", "--once"), ("orders", "list"), ("db", "upgrade"), ("db", "backup", "c.db")]
CASES = [
    pytest.param(make, argv, id=f"{name}-{' '.join(argv)}")
    for name, make in UNOPENABLE.items()
    for argv in COMMANDS
    if (name, argv[:2]) != ("a newer version", ("db", "backup"))
]


@pytest.mark.parametrize(("make", "argv"), CASES)
def test_a_database_that_cannot_be_opened_is_one_line_for_every_command(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[Path], Path],
    argv: tuple[str, ...],
) -> None:
    """``worker --once`` printed a 35-line traceback here; ``db upgrade`` said only an exception class."""
    monkeypatch.chdir(tmp_path)
    db_path = make(tmp_path)

    code, out, err = shopkeeper(db_path, *argv, capsys=capsys)

    assert code == 1, err
    assert out == ""
    one_line(err)
    assert not (tmp_path / "c.db").exists()
