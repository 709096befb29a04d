"""`shopkeeper db backup`: a consistent, checked, private copy of a database that is being written to,
from and to any path a file system allows, never through a planted link, never half-written.

The copy is SQLite's (its online backup API, of the file): these tests make SQLite files of their own.
On PostgreSQL the command names the server's own tool instead and writes nothing (the last test)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from mcp_server.adapters.database import BackupError, DatabaseMissingError, backup_sqlite
from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from mcp_server.handlers.cli.main import run
from tests.databases import mode_of, new_database, umask
from tests.engines import ShopDatabase

SHOPKEEPER = Path(sys.executable).with_name("shopkeeper")
ODD_NAMES = ["hash#1", "what?", "100%", "50%41", "with space", "café ñ 日本", "#?%& é"]


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
        done = backup_sqlite(source, copy)
    finally:
        stop.set()
        writer.join(timeout=10)

    assert done.pages > 0
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

    with pytest.raises(BackupError, match="already exists") as refused:
        backup_sqlite(source, copy)
    assert refused.value.refused
    assert copy.read_text(encoding="utf-8") == "precious"


def test_the_command_says_what_it_did_and_refuses_an_existing_file(tmp_path: Path) -> None:
    source, copy = tmp_path / "shop.db", tmp_path / "copy.db"
    env = {**os.environ, "SHOPKEEPER_DATABASE_URL": new_database(source)}
    shopkeeper = [sys.executable, "-c", "from mcp_server.entrypoint import cli_main; cli_main()"]

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


def _tables(path: Path) -> list[str]:
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        return sorted(str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))


@pytest.mark.parametrize("name", ODD_NAMES)
def test_any_path_backs_up_to_any_path(tmp_path: Path, name: str) -> None:
    """A '#' once cut the source path short: an empty copy, 'backed up', and a stray file beside it."""
    source, copy = tmp_path / name / "shop.db", tmp_path / f"copy {name}" / f"{name}.db"
    source.parent.mkdir()
    _make_db(source)

    done = backup_sqlite(source, copy)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, f"copy {name}"]), "no stray file appears"
    assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name]
    assert done.path == copy
    assert done.tables == 2
    assert _tables(copy) == ["ledger", "totals"]


def test_a_planted_part_file_link_is_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "unrelated.db"
    with closing(sqlite3.connect(victim)) as conn, conn:
        conn.execute("CREATE TABLE precious (n INTEGER)")
        conn.execute("INSERT INTO precious VALUES (42)")
    before = victim.read_bytes()
    source, copy = tmp_path / "shop.db", tmp_path / "b5.db"
    _make_db(source)
    (tmp_path / "b5.db.part").symlink_to(victim)

    done = backup_sqlite(source, copy)

    assert victim.read_bytes() == before, "the file the link points to is untouched"
    assert (tmp_path / "b5.db.part").is_symlink()
    assert not copy.is_symlink()
    assert _tables(done.path) == ["ledger", "totals"]


def test_a_link_at_the_target_is_refused_not_followed(tmp_path: Path) -> None:
    source, copy, elsewhere = tmp_path / "shop.db", tmp_path / "copy.db", tmp_path / "elsewhere.db"
    _make_db(source)
    copy.symlink_to(elsewhere)  # dangling: "exists" says no, yet a write would land in elsewhere.db

    with pytest.raises(BackupError, match="already exists"):
        backup_sqlite(source, copy)

    assert copy.is_symlink()
    assert not elsewhere.exists()


def test_a_directory_target_gets_a_copy_inside_with_a_clear_name(tmp_path: Path) -> None:
    source, folder = tmp_path / "shop.db", tmp_path / "backups"
    _make_db(source)
    folder.mkdir()

    done = backup_sqlite(source, folder)

    assert done.path.parent == folder
    assert done.path.name.startswith("shop-"), done.path.name
    assert done.path.suffix == ".db", done.path.name
    assert _tables(done.path) == ["ledger", "totals"]


def test_a_missing_source_is_said_in_words_and_nothing_is_created(tmp_path: Path) -> None:
    with pytest.raises(DatabaseMissingError, match="no database") as failed:
        backup_sqlite(tmp_path / "nothing.db", tmp_path / "copy.db")
    assert str(tmp_path / "nothing.db") in str(failed.value)
    assert list(tmp_path.iterdir()) == []


def test_the_copy_is_checked_against_the_source(tmp_path: Path) -> None:
    """A copy with fewer tables than its source (what the '#' bug produced) is never reported as done."""
    from mcp_server.adapters.database import check_copy

    source, bad = tmp_path / "shop.db", tmp_path / "bad.db"
    _make_db(source)
    with closing(sqlite3.connect(bad)) as conn, conn:
        conn.execute("CREATE TABLE ledger (n INTEGER)")

    with (
        closing(sqlite3.connect(source)) as src,
        closing(sqlite3.connect(bad)) as dst,
        pytest.raises(BackupError, match="1 of 2 tables"),
    ):
        check_copy(src, dst)


def test_a_backup_and_its_new_directory_are_private_whatever_the_umask(tmp_path: Path) -> None:
    source, copy = tmp_path / "shop.db", tmp_path / "new" / "dir" / "copy.db"
    _make_db(source)

    with umask(0o000):
        backup_sqlite(source, copy)

    assert mode_of(copy) == 0o600
    assert mode_of(tmp_path / "new") == 0o700
    assert mode_of(tmp_path / "new" / "dir") == 0o700


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 128 KiB tmpfs: a full disk that only this test fills."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=128k,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_disk_leaves_no_partial_file_and_says_so(tmp_path: Path, small_disk: Path) -> None:
    source = tmp_path / "shop.db"
    _make_db(source)
    with closing(sqlite3.connect(source)) as conn, conn:
        conn.executemany("INSERT INTO ledger VALUES (?, ?)", ((n, n) for n in range(1, 60_000)))
    assert source.stat().st_size > 4 * 128 * 1024

    with pytest.raises(BackupError, match="disk is full"):
        backup_sqlite(source, small_disk / "copy.db")

    assert list(small_disk.iterdir()) == [], "the partial copy is removed"


def _shopkeeper(db_path: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The console script on a new shop database at ``db_path``."""
    env = {**os.environ, "SHOPKEEPER_DATABASE_URL": new_database(db_path)}
    return subprocess.run(
        [str(SHOPKEEPER), *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_console_script_backs_up_a_shop_under_a_hash_and_a_question_mark(tmp_path: Path) -> None:
    """The issue's case: a database at '…/hash#1/shop.db' was copied as an empty file."""
    for name in ("hash#1", "what?"):
        db_path = tmp_path / name / "shop.db"
        done = _shopkeeper(db_path, "db", "backup", f"{name}.db", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "alembic_version" in _tables(tmp_path / f"{name}.db")
        assert "customers" in _tables(tmp_path / f"{name}.db")
    assert not (tmp_path / "hash").exists(), "no stray file where the path was cut"


def test_the_command_refuses_a_missing_directory_and_names_problems_in_words(tmp_path: Path) -> None:
    env = {**os.environ, "SHOPKEEPER_DATABASE_URL": new_database(tmp_path / "shop.db")}
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")

    def backup(target: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SHOPKEEPER), "db", "backup", target], env=env, cwd=tmp_path, capture_output=True, text=True,
            timeout=60, check=False,
        )  # fmt: skip

    into_missing = backup("newdir/")
    under_a_file = backup(str(blocker / "copy.db"))

    assert into_missing.returncode == 4, into_missing.stderr
    assert into_missing.stderr.count("\n") == 1
    assert "newdir/" in into_missing.stderr
    assert "no directory" in into_missing.stderr
    assert not (tmp_path / "newdir").exists()
    assert under_a_file.returncode == 1
    assert under_a_file.stderr.count("\n") == 1
    assert "not a directory" in under_a_file.stderr.lower()
    assert ".part" not in under_a_file.stderr, "names what is in the way, not a temporary file"
    assert "Error" not in under_a_file.stderr, "words, not an exception class"


@pytest.mark.parametrize("db_engine", ["postgresql"])
def test_on_postgresql_the_command_names_pg_dump_and_writes_nothing(
    shop_db: ShopDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = shop_db.tables()
    actions = bootstrap(load_settings({"SHOPKEEPER_DATABASE_URL": shop_db.url})).cli_actions()

    code = run(["db", "backup", str(tmp_path / "copy.db")], actions)

    said = capsys.readouterr()
    assert code == 4, said.err  # refused
    assert said.err.count("\n") == 1
    assert "pg_dump --format=custom" in said.err
    assert "nothing was written" in said.err
    assert list(tmp_path.iterdir()) == []
    assert shop_db.tables() == before
