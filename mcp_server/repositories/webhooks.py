"""The payment gateway's events the webhook door has taken: each event id filed once."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from mcp_server.models.entities.base import utc_from_db
from mcp_server.models.entities.requests import WebhookEventEntity
from mcp_server.models.gateway_events import TakenEvent
from mcp_server.repositories.sql import fetch_one

_t = cast(Table, WebhookEventEntity.__table__)
_COLUMNS = [_t.c.event_id, _t.c.event_type, _t.c.received_at, _t.c.outcome]
_GET = select(*_COLUMNS).where(_t.c.event_id == bindparam("event_id"))


class SqlWebhookEventRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, event_id: str) -> TakenEvent | None:
        row = await fetch_one(self._connection, _GET, {"event_id": event_id}, inline=True)
        if row is None:
            return None
        event_id, event_type, received_at, outcome = row
        return TakenEvent(event_id, event_type, utc_from_db(received_at), outcome)

    async def add(self, event: TakenEvent) -> bool:
        # ON CONFLICT DO NOTHING: two deliveries of one event racing each other file it once, and
        # the loser's transaction is not aborted (as a unique violation would abort it on PostgreSQL).
        insert = postgresql_insert if self._connection.dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert(_t)
            .values(
                event_id=event.event_id,
                event_type=event.event_type,
                received_at=event.received_at,
                outcome=event.outcome[:200],
            )
            .on_conflict_do_nothing(index_elements=[_t.c.event_id])
        )
        result = await self._connection.execute(statement)
        return result.rowcount == 1
