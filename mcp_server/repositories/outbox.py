from __future__ import annotations

from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mcp_server.models.entities.outbox import OutboxMessageEntity
from mcp_server.models.outbox import OutboxMessage

_t = cast(Table, OutboxMessageEntity.__table__)


class SqlOutboxRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, message: OutboxMessage) -> None:
        await self._connection.execute(insert(_t).values(OutboxMessageEntity.values_from_record(message)))
