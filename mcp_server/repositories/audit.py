from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mcp_server.models.audit import AuditEntry
from mcp_server.models.entities.audit import AuditEntryEntity


class SqlAuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, entry: AuditEntry) -> None:
        self._session.add(AuditEntryEntity.from_record(entry))

    async def page_before(
        self,
        *,
        entity_type: str | None,
        entity_id: str | None,
        action: str | None,
        before_sequence: int | None,
        limit: int,
    ) -> list[AuditEntry]:
        query = select(AuditEntryEntity).order_by(AuditEntryEntity.sequence.desc()).limit(limit)
        if entity_type is not None:
            query = query.where(AuditEntryEntity.entity_type == entity_type)
        if entity_id is not None:
            query = query.where(AuditEntryEntity.entity_id == entity_id)
        if action is not None:
            query = query.where(AuditEntryEntity.action == action)
        if before_sequence is not None:
            query = query.where(AuditEntryEntity.sequence < before_sequence)
        result = await self._session.scalars(query)
        return [entity.to_record() for entity in result]
