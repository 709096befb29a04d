"""The SQLAlchemy unit of work: one session, one transaction, committed once or rolled back."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mcp_server.models.errors import UniqueViolationError
from mcp_server.repositories.audit import SqlAuditRepository
from mcp_server.repositories.customers import SqlCustomerRepository
from mcp_server.repositories.outbox import SqlOutboxRepository


class SqlUnitOfWork:
    customers: SqlCustomerRepository
    audit: SqlAuditRepository
    outbox: SqlOutboxRepository

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        session = self._sessions()
        self._session = session
        self.customers = SqlCustomerRepository(session)
        self.audit = SqlAuditRepository(session)
        self.outbox = SqlOutboxRepository(session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            # close() rolls back whatever was not committed and returns the connection to the pool.
            await self._session.close()
            self._session = None

    async def commit(self) -> None:
        if self._session is None:
            raise RuntimeError("commit() outside 'async with'")
        try:
            await self._session.commit()
        except IntegrityError as exc:
            raise UniqueViolationError("a unique value") from exc


class SqlUnitOfWorkFactory:
    """Hands out units of work: writers take SQLite's write lock at BEGIN, readers take none."""

    def __init__(
        self, read_sessions: async_sessionmaker[AsyncSession], write_sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self._read = read_sessions
        self._write = write_sessions

    def __call__(self, *, write: bool) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._write if write else self._read)
