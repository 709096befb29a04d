"""Running SELECTs with one round trip to the driver.

Statements are built with SQLAlchemy Core and compiled once per dialect. On SQLite
(aiosqlite) the compiled SQL runs straight on the unit of work's own driver connection, so
it sees that unit's transaction, and skips SQLAlchemy's per-execution machinery, which
costs about 0.3 ms per query here — most of what a one-row lookup took (see
docs/decisions/0004). Rows come back as plain tuples in the statement's column order;
the entity modules turn them into records. Other drivers take the ordinary
``connection.execute`` path and give the same tuples.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Select
from sqlalchemy.engine import Compiled, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

Row = Sequence[Any]

_compiled: dict[tuple[int, str], tuple[Select[Any], Compiled]] = {}


def _compile(statement: Select[Any], dialect: Dialect) -> Compiled:
    key = (id(statement), dialect.name)
    hit = _compiled.get(key)
    if hit is None or hit[0] is not statement:  # the statement keeps its id alive in the cache
        hit = (statement, statement.compile(dialect=dialect))
        _compiled[key] = hit
    return hit[1]


async def fetch_all(
    connection: AsyncConnection, statement: Select[Any], params: Mapping[str, Any], *, inline: bool = False
) -> list[Row]:
    """Rows of ``statement`` with bound ``params``; build ``statement`` once and reuse it.

    ``inline=True`` is for index lookups that touch a handful of rows (by id, a keyset page):
    on SQLite they run on the calling thread, which takes ~20 µs, instead of a hop to
    aiosqlite's thread and back, which takes ~100 µs (decision 0006). Anything that may scan
    (text search, date ranges, reports) leaves it False so it never holds up the event loop.
    """
    dialect = connection.dialect
    if dialect.driver == "aiosqlite":
        for name, value in params.items():
            if not isinstance(value, str | int | float | bytes | None):
                # This path skips SQLAlchemy's bind processing (e.g. datetime → UTC text).
                raise TypeError(f"fetch_all binds plain scalars only; convert {name!r} first")
        compiled = _compile(statement, dialect)
        values = compiled.construct_params(dict(params)) or {}
        order = cast("Sequence[str]", getattr(compiled, "positiontup", None) or ())
        driver = await _driver(connection)
        bound = tuple(values[name] for name in order)
        if inline:
            return _run_inline(driver, [(compiled.string, bound)])[0]
        return list(await driver.execute_fetchall(compiled.string, bound))
    if dialect.driver == "asyncpg" and _autocommit(connection):
        return await _fetch_asyncpg(connection, statement, params)
    result = await connection.execute(statement, dict(params))
    return [tuple(row) for row in result]


def _autocommit(connection: AsyncConnection) -> bool:
    """A reader's connection (no transaction of its own): raw driver calls cannot step outside one."""
    sync = connection.sync_connection
    return sync is not None and sync.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


async def _fetch_asyncpg(connection: AsyncConnection, statement: Select[Any], params: Mapping[str, Any]) -> list[Row]:
    """A reader's SELECT straight on asyncpg: SQLAlchemy's per-execution work costs ≈0.3 ms a statement
    on PostgreSQL, the statement itself ≈0.07 ms (decision 0013). Only readers take this path: a writer's
    transaction is begun by SQLAlchemy's adapter on its first statement, which a raw call would bypass."""
    for name, value in params.items():
        if not isinstance(value, str | int | float | bytes | datetime | None):
            raise TypeError(f"fetch_all binds plain values only; convert {name!r} first")
    compiled = _compile(statement, connection.dialect)
    values = compiled.construct_params(dict(params)) or {}
    order = cast("Sequence[str]", getattr(compiled, "positiontup", None) or ())
    driver = await _driver(connection)
    return [tuple(row) for row in await driver.fetch(compiled.string, *(values[name] for name in order))]


async def fetch_one(
    connection: AsyncConnection, statement: Select[Any], params: Mapping[str, Any], *, inline: bool = False
) -> Row | None:
    rows = await fetch_all(connection, statement, params, inline=inline)
    return rows[0] if rows else None


async def _driver(connection: AsyncConnection) -> Any:
    """The aiosqlite connection under ``connection``.

    A live connection's chain of public attributes leads to it without a trip through
    SQLAlchemy's greenlet (``get_raw_connection`` costs ~25 µs); only an invalidated or
    closed one needs that path, which may reconnect.
    """
    sync = connection.sync_connection
    if sync is not None and not sync.invalidated and not sync.closed:
        return sync.connection.driver_connection
    return (await connection.get_raw_connection()).driver_connection


def _run_inline(driver: Any, prepared: Sequence[tuple[str, tuple[Any, ...]]]) -> list[list[Row]]:
    """Run on the calling thread. Safe: the engine opens SQLite with check_same_thread=False, and
    a unit of work awaits each statement before the next, so aiosqlite's thread is idle here."""
    conn: sqlite3.Connection = getattr(driver, "_conn")  # noqa: B009 - private, see fetch_batch
    return [conn.execute(sql, params).fetchall() for sql, params in prepared]


def like_escape(text: str) -> str:
    """``text`` for use inside ``LIKE … ESCAPE '\\'``: its % and _ match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def moment_param(connection: AsyncConnection, moment: datetime) -> datetime | str:
    """A UTC timestamp as a bind for comparisons with UTC columns.

    SQLite stores them as naive UTC text, which compares in time order; the fast path binds
    plain scalars only, so on SQLite this is that text. Other backends take the datetime.
    """
    if connection.dialect.name != "sqlite":
        return moment.astimezone(UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


async def fetch_batch(
    connection: AsyncConnection, queries: Sequence[tuple[Select[Any], Mapping[str, Any]]], *, inline: bool = False
) -> list[list[Row]]:
    """Several SELECTs in one round trip (on aiosqlite, one hop to its thread); rows per query.

    Same private seam as the driver adapter (``aiosqlite.Connection._execute``), see decision 0004.
    """
    dialect = connection.dialect
    if dialect.driver != "aiosqlite":
        return [await fetch_all(connection, statement, params) for statement, params in queries]
    prepared: list[tuple[str, tuple[Any, ...]]] = []
    for statement, params in queries:
        for name, value in params.items():
            if not isinstance(value, str | int | float | bytes | None):
                raise TypeError(f"fetch_batch binds plain scalars only; convert {name!r} first")
        compiled = _compile(statement, dialect)
        values = compiled.construct_params(dict(params)) or {}
        order = cast("Sequence[str]", getattr(compiled, "positiontup", None) or ())
        prepared.append((compiled.string, tuple(values[name] for name in order)))
    driver = await _driver(connection)
    if inline:
        return _run_inline(driver, prepared)

    def run(conn: sqlite3.Connection) -> list[list[Row]]:
        return [conn.execute(sql, params).fetchall() for sql, params in prepared]

    execute: Any = getattr(driver, "_execute")  # noqa: B009 - private, see above
    return await execute(run, getattr(driver, "_conn"))  # noqa: B009
