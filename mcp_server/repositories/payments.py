from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mcp_server.models.entities.payments import PaymentEntity
from mcp_server.models.payments import Payment, PaymentStatus
from mcp_server.repositories.sql import fetch_all, fetch_one, moment_param

_t = cast(Table, PaymentEntity.__table__)
_BY_ID = select(*_t.c).where(_t.c.id == bindparam("id"))
_PENDING = (
    select(*_t.c)
    # The literal (not a bound value) lets SQLite use the partial index ix_payments_pending.
    .where(
        text("status = 'pending'"),
        _t.c.created_at >= bindparam("since"),
        _t.c.created_at < bindparam("before"),
    )
    .order_by(_t.c.created_at)
    .limit(bindparam("limit"))
)
_FOR_ORDER = select(*_t.c).where(_t.c.order_id == bindparam("order_id")).order_by(_t.c.sequence)
_BY_GATEWAY_REFERENCE = select(*_t.c).where(_t.c.gateway_reference == bindparam("reference")).order_by(_t.c.sequence)


@cache
def _page(*, order: bool, created_from: bool, created_to: bool, after: bool) -> Select[Any]:
    query = select(*_t.c).order_by(_t.c.sequence).limit(bindparam("limit"))
    if after:
        query = query.where(_t.c.sequence > bindparam("after"))
    if order:
        query = query.where(_t.c.order_id == bindparam("order_id"))
    if created_from:
        query = query.where(_t.c.created_at >= bindparam("created_from"))
    if created_to:
        query = query.where(_t.c.created_at < bindparam("created_to"))
    return query


class SqlPaymentRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, payment_id: str) -> Payment | None:
        row = await fetch_one(self._connection, _BY_ID, {"id": payment_id}, inline=True)
        return PaymentEntity.record_from_row(row) if row is not None else None

    async def for_order(self, order_id: str) -> list[Payment]:
        rows = await fetch_all(self._connection, _FOR_ORDER, {"order_id": order_id}, inline=True)
        return [PaymentEntity.record_from_row(row) for row in rows]

    async def by_ids(self, ids: Sequence[str]) -> list[Payment]:
        if not ids:
            return []
        result = await self._connection.execute(select(*_t.c).where(_t.c.id.in_(list(ids))).order_by(_t.c.sequence))
        return [PaymentEntity.record_from_row(tuple(row)) for row in result]

    async def add(self, payment: Payment) -> None:
        await self._connection.execute(insert(_t).values(PaymentEntity.values_from_record(payment)))

    async def set_refunded(self, payment_id: str, refunded_minor: int) -> None:
        await self._connection.execute(update(_t).where(_t.c.id == payment_id).values(refunded_minor=refunded_minor))

    async def pending_between(self, since: datetime, before: datetime, limit: int) -> list[Payment]:
        params = {
            "since": moment_param(self._connection, since),
            "before": moment_param(self._connection, before),
            "limit": limit,
        }
        rows = await fetch_all(self._connection, _PENDING, params)
        return [PaymentEntity.record_from_row(row) for row in rows]

    async def by_gateway_reference(self, gateway_reference: str) -> list[Payment]:
        # Not inline: only webhooks ask this, and without an index on gateway_reference it scans.
        rows = await fetch_all(self._connection, _BY_GATEWAY_REFERENCE, {"reference": gateway_reference})
        return [PaymentEntity.record_from_row(row) for row in rows]

    async def settle(
        self, payment_id: str, *, status: PaymentStatus, gateway_reference: str | None, reason: str | None
    ) -> bool:
        result = await self._connection.execute(
            update(_t)
            .where(_t.c.id == payment_id, _t.c.status == "pending")
            .values(
                status=status, gateway_reference=gateway_reference, reason=reason, lease_until=None, claimed_by=None
            )
        )
        return result.rowcount == 1

    async def claim(self, payment_id: str, *, claim: str, now: datetime, lease_until: datetime) -> bool:
        """Stamp a lease on a pending row nobody holds; False if another caller holds or is taking it.

        On a database server a row another settler is claiming right now is skipped, not waited for
        (SQLite compiles no FOR UPDATE; its BEGIN IMMEDIATE lets one claimer in at a time)."""
        free = (
            select(_t.c.id)
            .where(
                _t.c.id == payment_id,
                _t.c.status == "pending",
                or_(_t.c.lease_until.is_(None), _t.c.lease_until < now),
            )
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        result = await self._connection.execute(
            update(_t).where(_t.c.id == free).values(lease_until=lease_until, claimed_by=claim)
        )
        return result.rowcount == 1

    async def release(self, payment_id: str, claim: str) -> None:
        await self._connection.execute(
            update(_t).where(_t.c.id == payment_id, _t.c.claimed_by == claim).values(lease_until=None, claimed_by=None)
        )

    async def rest(self, payment_id: str, *, attempts: int, next_attempt_at: datetime) -> None:
        await self._connection.execute(
            update(_t)
            .where(_t.c.id == payment_id, _t.c.status == "pending")
            .values(attempts=attempts, next_attempt_at=next_attempt_at)
        )

    async def page_after(
        self,
        *,
        order_id: str | None,
        created_from: datetime | None,
        created_to: datetime | None,
        after_sequence: int | None,
        limit: int,
    ) -> list[Payment]:
        params: dict[str, Any] = {"limit": limit}
        if after_sequence is not None:
            params["after"] = after_sequence
        if order_id is not None:
            params["order_id"] = order_id
        if created_from is not None:
            params["created_from"] = moment_param(self._connection, created_from)
        if created_to is not None:
            params["created_to"] = moment_param(self._connection, created_to)
        statement = _page(
            order=order_id is not None,
            created_from=created_from is not None,
            created_to=created_to is not None,
            after=after_sequence is not None,
        )
        return [PaymentEntity.record_from_row(row) for row in await fetch_all(self._connection, statement, params)]
