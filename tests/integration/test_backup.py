"""`shopkeeper db backup`: a consistent copy of a database that is being written to."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest

from mcp_server.adapters.database import backup_sqlite


def _make_db(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE ledger (n INTEGER PRIMARY KEY, total INTEGER NOT NULL)")
        conn.execute("CREATE TABLE totals (id INTEGER PRIMARY KEY, sum INTEGER NOT NULL)")
        conn.execute("INSERT INTO totals VALUES (1, 0)")


def test_the_copy_is_consistent_while_a_writer_keeps_writing(tmp_path: Path) -> None:
    source, copy = tmp_path / "shop.db", tmp_path / "backup" / "copy.db"
    _make_db(source)
    stop = threading.Event()

    def write() -> None:
        # Every transaction adds a row and raises the running sum by the same amount.
        with closing(sqlite3.connect(source, timeout=10)) as conn:
            n = 0
            while not stop.is_set():
                n += 1
                with conn:
                    conn.execute("INSERT INTO ledger VALUES (?, ?)", (n, n))
                    conn.execute("UPDATE totals SET sum = sum + ? WHERE id = 1", (n,))

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        while True:  # let some transactions land first
            with closing(sqlite3.connect(source)) as peek:
                if peek.execute("SELECT count(*) FROM ledger").fetchone()[0] > 200:
                    break
        pages = backup_sqlite(source, copy)
    finally:
        stop.set()
        writer.join(timeout=10)

    assert pages > 0
    with closing(sqlite3.connect(copy)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows, ledger_sum = conn.execute("SELECT count(*), coalesce(sum(total), 0) FROM ledger").fetchone()
        (running,) = conn.execute("SELECT sum FROM totals").fetchone()
    assert rows > 200
    assert ledger_sum == running, "the copy shows the database as of one moment"
    assert not list(copy.parent.glob("*.part")), "no partial file is left behind"


def test_an_existing_target_is_never_overwritten(tmp_path: Path) -> None:
    source, copy = tmp_path / "shop.db", tmp_path / "copy.db"
    _make_db(source)
    copy.write_text("precious", encoding="utf-8")

    with pytest.raises(FileExistsError):
        backup_sqlite(source, copy)
    assert copy.read_text(encoding="utf-8") == "precious"


def test_the_command_says_what_it_did_and_refuses_an_existing_file(tmp_path: Path) -> None:
    source, copy = tmp_path / "shop.db", tmp_path / "copy.db"
    env = {**os.environ, "SHOPKEEPER_DATABASE_URL": f"sqlite+aiosqlite:///{source}"}
    shopkeeper = [sys.executable, "-c", "from mcp_server.entrypoint import cli_main; cli_main()"]
    subprocess.run([*shopkeeper, "db", "upgrade"], env=env, capture_output=True, check=True, timeout=60)

    first = subprocess.run(
        [*shopkeeper, "db", "backup", str(copy)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    again = subprocess.run(
        [*shopkeeper, "db", "backup", str(copy)], env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert first.returncode == 0, first.stderr
    assert f"backed up to {copy}" in first.stdout
    with closing(sqlite3.connect(copy)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None
    assert again.returncode == 4  # refused: the copy never overwrites
    assert again.stderr.strip() == f"shopkeeper: {copy} already exists; choose a new file name"
