"""aiosqlite, one thread trip per statement.

SQLAlchemy's aiosqlite adapter makes four trips to aiosqlite's worker thread for every
statement: create a cursor, execute, fetch the rows, close the cursor. Each trip wakes the
thread and the event loop (≈0.1-0.2 ms here), which made a one-row lookup several times
slower than the SQL itself. The cursor below does all four steps in one trip and hands
SQLAlchemy the finished result; everything else (pool, dialect, transactions) is
SQLAlchemy's own code. Handed to the engine as its DBAPI module by adapters.database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_only

_Result = tuple[Any, list[Any], int, int | None]


class _FinishedCursor:
    """Looks like an aiosqlite cursor to SQLAlchemy; runs a statement start to finish in one trip."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: list[Any] = []

    async def __aenter__(self) -> _FinishedCursor:
        return self

    async def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> _FinishedCursor:
        result = await _in_thread(self._connection, _run, operation, parameters)
        self.description, self._rows, self.rowcount, self.lastrowid = result
        return self

    async def executemany(self, operation: str, seq_of_parameters: Sequence[Sequence[Any]]) -> _FinishedCursor:
        result = await _in_thread(self._connection, _run_many, operation, seq_of_parameters)
        self.description, self._rows, self.rowcount, self.lastrowid = result
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []


async def _in_thread(connection: aiosqlite.Connection, fn: Callable[..., _Result], *args: Any) -> _Result:
    """Run ``fn(sqlite3_connection, *args)`` on aiosqlite's worker thread: one trip.

    aiosqlite has no public call for "run this function on your thread"; ``_execute`` is the
    one its own methods use. The integration tests exercise every path through here.
    """
    execute: Callable[..., Awaitable[_Result]] = getattr(connection, "_execute")  # noqa: B009 - private, see above
    raw: sqlite3.Connection = getattr(connection, "_conn")  # noqa: B009
    return await execute(fn, raw, *args)


def _run(conn: sqlite3.Connection, operation: str, parameters: Sequence[Any] | None) -> _Result:
    cursor = conn.cursor()
    try:
        cursor.execute(operation, parameters or ())
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_many(conn: sqlite3.Connection, operation: str, seq_of_parameters: Sequence[Sequence[Any]]) -> _Result:
    cursor = conn.cursor()
    try:
        cursor.executemany(operation, seq_of_parameters)
        return cursor.description, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def _make_new_cursor(self, connection: Any) -> Any:
        return _FinishedCursor(connection)


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _OneTripCursor


class OneTripAiosqliteDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI adapter, with connections whose cursors make one trip per statement."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> _OneTripConnection:
        connection = aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # pyright: ignore[reportPrivateUsage] - as SQLAlchemy itself does
        return _OneTripConnection(self, cast(Any, await_only(connection)))
