"""``shopkeeper db copy``: a shop's SQLite file copied, table by table, into an empty PostgreSQL database.

The source is read in ONE read transaction: SQLite's WAL gives it a snapshot of every table as of one
moment while servers keep writing, with no second copy of a possibly large file on disk (a backup to a
temporary file first would need that space and a second pass). The source is opened read-only.

The target is written in ONE transaction (its tables locked against writers), so a failure leaves
every table empty; rows keep their ids, sequences continue after them, and the row counts of both
sides are compared before the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from sqlalchemy import JSON, Column, Table, Text, bindparam, cast, func, insert, inspect, select, text, tuple_
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import type_coerce

from mcp_server.adapters.database import (
    DatabaseMissingError,
    PoolOptions,
    create_engine,
    current_revision,
    describe_failure,
    sqlite_file,
    upgrade,
)
from mcp_server.adapters.migrations import HEAD_REVISION
from mcp_server.models.entities import Base

logger = logging.getLogger(__name__)

BATCH_ROWS = 2_000
"""Rows read and inserted at a time: few round trips, little memory, well under PostgreSQL's 32,767
parameters per statement (the widest table has about twenty columns)."""

_DRIVERS = {"postgresql+asyncpg": "postgresql+asyncpg", "postgresql+psycopg": "postgresql+psycopg"}
_ALIASES = ("postgresql", "postgres")  # what psql, pg_dump and most hosts print: asyncpg (decision 0013)
_VERSIONS = Path(__file__).parent / "migrations" / "versions"

CopyProblem = Literal["bad-url", "refused", "outdated", "failed"]


class CopyError(Exception):
    """A copy that was not made, in words for a person (no SQL, no password). ``problem``: ``bad-url`` (the
    target is not a PostgreSQL URL), ``refused`` (the target holds data, or the source is no shop),
    ``outdated`` (the source's schema is older than this version's: upgrade it first), ``failed``."""

    def __init__(self, message: str, *, problem: CopyProblem) -> None:
        super().__init__(message)
        self.problem: CopyProblem = problem


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What was copied: the target (password hidden) and each table's rows, in the order they were copied."""

    target: str
    tables: tuple[tuple[str, int], ...]

    @property
    def rows(self) -> int:
        return sum(count for _, count in self.tables)


def postgres_url(url: str) -> URL:
    """``url`` as a PostgreSQL URL with its driver (postgresql:// and postgres:// become asyncpg); CopyError else."""
    example = "e.g. postgresql://user:password@host:5432/shop"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise CopyError(f"the target is not a database URL ({example})", problem="bad-url") from None
    driver = _DRIVERS.get(parsed.drivername) or ("postgresql+asyncpg" if parsed.drivername in _ALIASES else None)
    if driver is None:
        raise CopyError(
            f"the target must be a PostgreSQL URL, not {parsed.drivername}:// ({example})", problem="bad-url"
        )
    if not parsed.database:
        raise CopyError(f"name the target database after the host ({example})", problem="bad-url")
    return parsed.set(drivername=driver)


def hidden(url: URL) -> str:
    """How to name the target to a person: its URL as psql takes it, password hidden, no driver name."""
    return url.set(drivername="postgresql").render_as_string(hide_password=True)


async def copy_database(source_url: str, target_url: str) -> CopyReport:
    """Copy the SQLite shop at ``source_url`` into the empty PostgreSQL database at ``target_url``.

    Raises CopyError (or DatabaseMissingError for a missing source file); the target is then as it was,
    except that an empty database may have been given the shop's (empty) schema.
    """
    target = postgres_url(target_url)
    label = hidden(target)
    path = sqlite_file(source_url)
    if path is None:
        raise CopyError(
            "the shop is not in a SQLite file (it is on a database server already); only a file is copied",
            problem="refused",
        )
    if not path.is_file():
        raise DatabaseMissingError(path, "that is a directory" if path.is_dir() else "there is no file there")
    # Read-only: SQLite refuses any write through it. Quoted twice: SQLAlchemy decodes the URL once, SQLite
    # decodes the file: URI once more, so a '#' or '?' in a folder's name stays part of the path.
    source = create_engine(f"sqlite+aiosqlite:///file:{quote(quote(str(path.absolute())))}?mode=ro&uri=true")
    destination = create_engine(target.render_as_string(hide_password=False), pool=PoolOptions(size=2))
    tables = [table for table in Base.metadata.sorted_tables if table.name != "alembic_version"]
    doing = f"read {path}"
    try:
        async with source.connect() as read:
            # One read transaction: every table (and the counts) as of the same moment.
            await read.exec_driver_sql("BEGIN")
            await _check_source(read, tables, path)
            expected = {table.name: await _count(read, table) for table in tables}
            doing = f"connect to {label}"
            if await _needs_schema(destination, tables, label):
                doing = f"create the shop's tables in {label}"
                await upgrade(destination)
            async with destination.begin() as write:
                doing = f"lock {label}"
                await _lock_empty(write, tables, label)
                copied: list[tuple[str, int]] = []
                for table in tables:
                    doing = f"copy table {table.name} into {label}"
                    copied.append((table.name, await _copy_table(read, write, table)))
                doing = f"check the copy in {label}"
                await _check_counts(write, tables, expected, dict(copied))
                await _continue_sequences(write, tables)
                doing = f"commit the copy in {label}"
        logger.debug("copied %d rows into %s", sum(count for _, count in copied), label)
        return CopyReport(label, tuple(copied))
    except (CopyError, DatabaseMissingError):
        raise
    except Exception as exc:
        logger.debug("the copy failed", exc_info=True)
        words = _refused_copy(exc) or describe_failure(exc).replace("SHOPKEEPER_DATABASE_URL", "the target URL")
        raise CopyError(f"could not {doing}: {words}; nothing was copied", problem="failed") from None
    finally:
        await source.dispose()
        await destination.dispose()


_COPY_WORDS = {
    "22001": "a value is longer than PostgreSQL's column allows (SQLite does not check lengths)",
    "22P05": "a text holds a character PostgreSQL cannot store (a NUL byte)",
    "23502": "a required value is missing",
    "23503": "a row refers to a row that is not there",
    "23505": "two rows have the same key",
    "23514": "a row breaks one of the table's rules",
    "55P03": "another connection holds the target's tables (is a Shopkeeper server already using it?)",
}


def _refused_copy(exc: BaseException) -> str | None:
    """Why PostgreSQL refused a copied row (or the lock), in words: never the row's values, which are
    customers' data (PostgreSQL's own message may quote them)."""
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    words = _COPY_WORDS.get(state) if isinstance(state, str) else None
    return None if words is None else f"{words} (SQLSTATE {state})"


async def _check_source(read: AsyncConnection, tables: Sequence[Table], path: Path) -> None:
    """The source is a shop at this version's schema, with no table the copy would leave behind."""
    names = set(await read.run_sync(lambda conn: inspect(conn).get_table_names()))
    if "alembic_version" not in names:
        raise CopyError(f"{path} holds no shop (it has no schema); there is nothing to copy", problem="refused")
    row = (await read.exec_driver_sql("SELECT version_num FROM alembic_version")).first()
    revision = None if row is None else str(row[0])
    if revision != HEAD_REVISION:
        if revision is not None and any(_VERSIONS.glob(f"{revision}_*.py")):
            raise CopyError(
                f"the shop's schema is at revision {revision}, not the newest ({HEAD_REVISION})", problem="outdated"
            )
        raise CopyError(
            f"the shop's schema (revision {revision or 'none'}) is not one this version of Shopkeeper knows "
            "(was it made by a newer version?)",
            problem="refused",
        )
    unknown = sorted(names - {table.name for table in tables} - {"alembic_version"})
    if unknown:
        raise CopyError(
            f"the shop has tables this version of Shopkeeper does not know ({', '.join(unknown)}); nothing was copied",
            problem="refused",
        )


async def _needs_schema(engine: AsyncEngine, tables: Sequence[Table], label: str) -> bool:
    """True for an empty database (it needs the shop's schema); refuse one that holds an older shop or tables
    of the same names. A target already at this version's schema is accepted here: its tables are checked
    empty under a lock."""
    revision = await current_revision(engine)
    if revision == HEAD_REVISION:
        return False
    if revision is not None:
        raise CopyError(
            f"{label} already holds a Shopkeeper database (schema revision {revision}); copy only into a new, "
            "empty database. Nothing was changed",
            problem="refused",
        )
    async with engine.connect() as conn:
        names = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    taken = sorted(names & {table.name for table in tables})
    if taken:
        raise CopyError(
            f"{label} already has tables named {', '.join(taken)}; copy only into a new, empty database. "
            "Nothing was changed",
            problem="refused",
        )
    return True


async def _lock_empty(write: AsyncConnection, tables: Sequence[Table], label: str) -> None:
    """Keep writers (a server started early) out until the copy commits; refuse a table that holds rows."""
    quoted = ", ".join(write.dialect.identifier_preparer.format_table(table) for table in tables)
    await write.exec_driver_sql(f"LOCK TABLE {quoted} IN EXCLUSIVE MODE")
    for table in tables:
        if (await write.execute(select(1).select_from(table).limit(1))).first() is not None:
            raise CopyError(
                f"{label} already holds a shop (its {table.name} table has rows); copy only into a new, empty "
                "database. Nothing was changed",
                problem="refused",
            )


async def _count(conn: AsyncConnection, table: Table) -> int:
    return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def _copy_table(read: AsyncConnection, write: AsyncConnection, table: Table) -> int:
    """Copy every row of ``table`` in primary-key order, BATCH_ROWS at a time; how many rows."""
    key = list(table.primary_key.columns)
    # JSON travels as its text, so a JSON null stays a JSON null and an SQL NULL an SQL NULL (the JSON
    # type would turn both into None, and None back into one of them).
    reading = select(*(_as_text(column) for column in table.columns)).order_by(*key).limit(BATCH_ROWS)
    writing = insert(table).values({column.name: _parameter(column) for column in table.columns})
    names = [column.name for column in table.columns]
    at = [names.index(column.name) for column in key]
    last: tuple[Any, ...] | None = None
    copied = 0
    while True:
        page = reading if last is None else reading.where(_after(key, last))
        rows = (await read.execute(page)).all()
        if not rows:
            return copied
        await write.execute(
            writing, [{f"p_{name}": value for name, value in zip(names, row, strict=True)} for row in rows]
        )
        copied += len(rows)
        last = tuple(rows[-1][index] for index in at)
        if len(rows) < BATCH_ROWS:
            return copied


def _as_text(column: Column[Any]) -> ColumnElement[Any]:
    return type_coerce(column, Text()).label(column.name) if isinstance(column.type, JSON) else column


def _parameter(column: Column[Any]) -> ColumnElement[Any]:
    if isinstance(column.type, JSON):
        return cast(bindparam(f"p_{column.name}", type_=Text()), column.type)
    return bindparam(f"p_{column.name}", type_=column.type)


def _after(key: Sequence[Column[Any]], last: tuple[Any, ...]) -> ColumnElement[bool]:
    """Rows after ``last`` in primary-key order (keyset paging: each page costs the same)."""
    if len(key) == 1:
        return key[0] > last[0]
    return tuple_(*key) > tuple_(*last)


async def _check_counts(
    write: AsyncConnection, tables: Sequence[Table], expected: dict[str, int], copied: dict[str, int]
) -> None:
    """Every table holds as many rows on the target as the source's snapshot; else the copy is rolled back."""
    for table in tables:
        there = await _count(write, table)
        if not expected[table.name] == copied[table.name] == there:
            raise CopyError(
                f"table {table.name} has {expected[table.name]:,} rows in the shop but {there:,} in the copy; "
                "nothing was copied",
                problem="failed",
            )


async def _continue_sequences(write: AsyncConnection, tables: Sequence[Table]) -> None:
    """Each serial column's sequence continues after the copied ids (payments and the audit log number
    their rows), so the next row the server writes does not collide with a copied one."""
    for table in tables:
        column = table.autoincrement_column
        if column is None:
            continue
        await write.run_sync(_continue_sequence, table, column)


def _continue_sequence(conn: Connection, table: Table, column: Column[Any]) -> None:
    preparer = conn.dialect.identifier_preparer
    sequence = conn.execute(
        text("SELECT pg_get_serial_sequence(:table, :column)"),
        {"table": preparer.format_table(table), "column": column.name},
    ).scalar_one()
    if sequence is None:
        return
    highest = conn.execute(select(func.max(column))).scalar_one()
    # setval is not undone by a rollback: it runs last, after the counts are checked.
    conn.execute(text("SELECT setval(:sequence, :next, false)"), {"sequence": sequence, "next": (highest or 0) + 1})
