from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mcp_server.models.entities.outbox import OutboxMessageEntity
from mcp_server.models.outbox import OutboxMessage
from mcp_server.repositories.sql import fetch_all, fetch_one, moment_param

_t = cast(Table, OutboxMessageEntity.__table__)
_BY_ID = select(*_t.c).where(_t.c.id == bindparam("id"))
_DUE = (
    select(*_t.c)
    .where(
        or_(_t.c.status == "pending", _t.c.status == "sending"),
        _t.c.next_attempt_at <= bindparam("now"),
    )
    .order_by(_t.c.next_attempt_at, _t.c.id)
    .limit(bindparam("limit"))
    # A database server: rows another worker is claiming right now are passed over, not waited for
    # (nor claimed twice). SQLite compiles no clause for it; its BEGIN IMMEDIATE serializes claims.
    .with_for_update(skip_locked=True)
)
_UPDATABLE = ("status", "attempts", "last_error", "next_attempt_at", "sent_at")


@cache
def _page(*, status: bool, after: bool) -> Select[Any]:
    query = select(*_t.c).order_by(_t.c.id).limit(bindparam("limit"))
    if status:
        query = query.where(_t.c.status == bindparam("status"))
    if after:
        query = query.where(_t.c.id > bindparam("after"))
    return query


class SqlOutboxRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, message: OutboxMessage) -> None:
        await self._connection.execute(insert(_t).values(OutboxMessageEntity.values_from_record(message)))

    async def get(self, message_id: str) -> OutboxMessage | None:
        row = await fetch_one(self._connection, _BY_ID, {"id": message_id}, inline=True)
        return OutboxMessageEntity.record_from_row(row) if row is not None else None

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int, *, claim: str) -> list[OutboxMessage]:
        # A "sending" row is due again only once its lease (next_attempt_at) has passed.
        rows = await fetch_all(self._connection, _DUE, {"now": moment_param(self._connection, now), "limit": limit})
        due = [OutboxMessageEntity.record_from_row(row) for row in rows]
        if due:
            await self._connection.execute(
                update(_t)
                .where(_t.c.id.in_([m.id for m in due]))
                .values(status="sending", next_attempt_at=lease_until, claimed_by=claim)
            )
        return [replace(m, status="sending", next_attempt_at=lease_until, claimed_by=claim) for m in due]

    async def renew(self, message_id: str, claim: str, lease_until: datetime) -> bool:
        statement = (
            update(_t)
            .where(_t.c.id == message_id, _t.c.status == "sending", _t.c.claimed_by == claim)
            .values(next_attempt_at=lease_until)
            .returning(_t.c.id)
        )
        return (await self._connection.execute(statement)).first() is not None

    async def finish(self, message: OutboxMessage, claim: str) -> bool:
        values = OutboxMessageEntity.values_from_record(message)
        statement = (
            update(_t)
            .where(_t.c.id == message.id, _t.c.status == "sending", _t.c.claimed_by == claim)
            .values({**{name: values[name] for name in _UPDATABLE}, "claimed_by": None})
            .returning(_t.c.id)
        )
        return (await self._connection.execute(statement)).first() is not None

    async def update(self, message: OutboxMessage) -> None:
        values = OutboxMessageEntity.values_from_record(message)
        await self._connection.execute(
            update(_t).where(_t.c.id == message.id).values({name: values[name] for name in _UPDATABLE})
        )

    async def page_after(self, *, status: str | None, after_id: str | None, limit: int) -> list[OutboxMessage]:
        params: dict[str, Any] = {"limit": limit}
        if status is not None:
            params["status"] = status
        if after_id is not None:
            params["after"] = after_id
        rows = await fetch_all(self._connection, _page(status=status is not None, after=after_id is not None), params)
        return [OutboxMessageEntity.record_from_row(row) for row in rows]
