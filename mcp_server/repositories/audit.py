from __future__ import annotations

from functools import cache
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mcp_server.models.audit import AuditEntry
from mcp_server.models.entities.audit import AuditEntryEntity
from mcp_server.repositories.sql import fetch_all

_t = cast(Table, AuditEntryEntity.__table__)
_FILTERS = ("entity_type", "entity_id", "action")


@cache
def _page(filters: tuple[str, ...], before: bool) -> Select[Any]:
    """Newest first; one compiled statement per combination of filters."""
    query = select(*_t.c).order_by(_t.c.sequence.desc()).limit(bindparam("limit"))
    for name in filters:
        query = query.where(_t.c[name] == bindparam(name))
    if before:
        query = query.where(_t.c.sequence < bindparam("before"))
    return query


class SqlAuditRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, entry: AuditEntry) -> None:
        await self._connection.execute(insert(_t).values(AuditEntryEntity.values_from_record(entry)))

    async def page_before(
        self,
        *,
        entity_type: str | None,
        entity_id: str | None,
        action: str | None,
        before_sequence: int | None,
        limit: int,
    ) -> list[AuditEntry]:
        given = {"entity_type": entity_type, "entity_id": entity_id, "action": action}
        params: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
        statement = _page(tuple(name for name in _FILTERS if name in params), before_sequence is not None)
        params["limit"] = limit
        if before_sequence is not None:
            params["before"] = before_sequence
        # Indexed either way, except a rare entity_type alone, which may scan before it fills a page.
        inline = entity_type is None or entity_id is not None
        rows = await fetch_all(self._connection, statement, params, inline=inline)
        return [AuditEntryEntity.record_from_row(row) for row in rows]
