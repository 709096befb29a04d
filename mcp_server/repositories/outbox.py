from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mcp_server.models.entities.outbox import OutboxMessageEntity
from mcp_server.models.outbox import OutboxMessage


class SqlOutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, message: OutboxMessage) -> None:
        self._session.add(OutboxMessageEntity.from_record(message))
