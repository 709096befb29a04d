"""The SQLAlchemy unit of work: one connection, one transaction, committed once or rolled back."""

from __future__ import annotations

import sqlite3
from types import TracebackType

import anyio
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mcp_server.models.errors import StorageBusyError
from mcp_server.repositories.audit import SqlAuditRepository
from mcp_server.repositories.catalog import SqlProductRepository
from mcp_server.repositories.customers import SqlCustomerRepository
from mcp_server.repositories.orders import SqlOrderRepository
from mcp_server.repositories.outbox import SqlOutboxRepository
from mcp_server.repositories.payments import SqlPaymentRepository
from mcp_server.repositories.reports import SqlReportRepository
from mcp_server.repositories.requests import SqlRequestLog


class SqlUnitOfWork:
    customers: SqlCustomerRepository
    products: SqlProductRepository
    audit: SqlAuditRepository
    outbox: SqlOutboxRepository
    orders: SqlOrderRepository
    payments: SqlPaymentRepository
    requests: SqlRequestLog
    reports: SqlReportRepository

    def __init__(self, engine: AsyncEngine, *, write: bool) -> None:
        self._engine = engine
        self._write = write
        self._connection: AsyncConnection | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        connection = await self._engine.connect()
        try:
            if self._write:
                # Begin now, before the first read: a writer's checks must see what it will write over.
                await connection.begin()
        except BaseException as exc:
            await _close(connection)
            if _is_busy(exc):
                raise StorageBusyError from exc
            raise
        self._connection = connection
        self.customers = SqlCustomerRepository(connection)
        self.products = SqlProductRepository(connection)
        self.audit = SqlAuditRepository(connection)
        self.outbox = SqlOutboxRepository(connection)
        self.orders = SqlOrderRepository(connection)
        self.payments = SqlPaymentRepository(connection)
        self.requests = SqlRequestLog(connection)
        self.reports = SqlReportRepository(connection)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._connection is not None:
            # close() rolls back whatever was not committed and returns the connection to the pool.
            await _close(self._connection)
            self._connection = None
        if exc is not None and _is_busy(exc):
            raise StorageBusyError from exc

    async def commit(self) -> None:
        if self._connection is None:
            raise RuntimeError("commit() outside 'async with'")
        await self._connection.commit()


async def _close(connection: AsyncConnection) -> None:
    # Shielded: a cancelled tool call must still hand its connection back (rolled back) in order.
    with anyio.CancelScope(shield=True):
        await connection.close()


def _is_busy(exc: BaseException) -> bool:
    """SQLite gave up waiting for another writer's lock (SQLITE_BUSY), through either driver path."""
    if isinstance(exc, OperationalError):
        exc = exc.orig if isinstance(exc.orig, BaseException) else exc
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


class SqlUnitOfWorkFactory:
    """Hands out units of work. Writers take SQLite's write lock at BEGIN; readers take none."""

    def __init__(self, read_engine: AsyncEngine, write_engine: AsyncEngine) -> None:
        self._read = read_engine
        self._write = write_engine

    def __call__(self, *, write: bool) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._write if write else self._read, write=write)
