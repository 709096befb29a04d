from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mcp_server.models.customers import Customer
from mcp_server.models.entities.customers import CustomerEntity
from mcp_server.models.entities.orders import ORDER_COLUMNS, OrderEntity, OrderLineEntity
from mcp_server.models.entities.payments import PaymentEntity
from mcp_server.models.orders import Order
from mcp_server.models.payments import Payment
from mcp_server.repositories.sql import fetch_all, fetch_batch, moment_param

_o = cast(Table, OrderEntity.__table__)
_l = cast(Table, OrderLineEntity.__table__)
_LINE_COLUMNS = (_l.c.line_no, _l.c.product_id, _l.c.sku, _l.c.name, _l.c.quantity, _l.c.unit_price_minor)
# One round trip: the order's columns repeated on each of its lines, in line order.
_WITH_LINES = (
    select(*_o.c, *_LINE_COLUMNS, _l.c.restocked)
    .select_from(_o.outerjoin(_l, _l.c.order_id == _o.c.id))
    .where(_o.c.id == bindparam("id"))
    .order_by(_l.c.line_no)
)
# A writer on a database server reads the order it will write over under a row lock, so two calls on
# one order take turns as they do under SQLite's BEGIN IMMEDIATE (which locks the whole file).
_WITH_LINES_LOCKED = _WITH_LINES.with_for_update(of=_o)
_c = cast(Table, CustomerEntity.__table__)
_p = cast(Table, PaymentEntity.__table__)
_ITS_CUSTOMER = select(*_c.c).where(
    _c.c.id == select(_o.c.customer_id).where(_o.c.id == bindparam("id")).scalar_subquery()
)
_ITS_PAYMENTS = select(*_p.c).where(_p.c.order_id == bindparam("id")).order_by(_p.c.sequence)
_SET_RESTOCKED = (
    update(_l)
    .where(_l.c.order_id == bindparam("b_order"), _l.c.line_no == bindparam("b_line"))
    .values(restocked=bindparam("b_restocked"))
)
_UPDATABLE = ("status", "paid_minor", "refunded_minor", "carrier", "tracking_number", "updated_at")


@cache
def _page(
    *, status: bool, customer: bool, placed_from: bool, placed_to: bool, before: bool, sqlite: bool
) -> Select[Any]:
    """Keyset page, newest first; one compiled statement per combination of filters (and engine).

    Without a date, newest first is by id (ids are time-ordered), along the primary key or the
    (status, id) / (customer_id, id) index, stopping after the page. With a date it is by placed_at,
    then id, along ix_orders_placed_at from the window's end: by id, a window far back is reached
    only past every newer order (0.6 s under a million orders). ``before`` is the id of the last
    order shown; with a date the page continues after its (placed_at, id).
    """
    if not (placed_from or placed_to):
        query = select(*_o.c).order_by(_o.c.id.desc()).limit(bindparam("limit"))
        if before:
            query = query.where(_o.c.id < bindparam("before"))
        if status:
            query = query.where(_o.c.status == bindparam("status"))
        if customer:
            query = query.where(_o.c.customer_id == bindparam("customer_id"))
        return query
    query = select(*_o.c).order_by(_o.c.placed_at.desc(), _o.c.id.desc()).limit(bindparam("limit"))
    if before:
        # First, so that SQLite starts the index range here rather than at placed_to (it takes the first bound).
        last_at = select(_o.c.placed_at).where(_o.c.id == bindparam("before")).scalar_subquery()
        query = query.where(_o.c.placed_at <= last_at, or_(_o.c.placed_at < last_at, _o.c.id < bindparam("before")))
    if status:
        # SQLite has no statistics and would take the (status, id) index, then sort every order of that
        # status (0.3 s for "delivered" under a million); ``|| ''`` keeps it on the date index. PostgreSQL
        # chooses by its statistics.
        query = query.where((_o.c.status.concat("") if sqlite else _o.c.status) == bindparam("status"))
    if customer:  # the customer's orders, sorted: as many as one customer has
        query = query.where(_o.c.customer_id == bindparam("customer_id"))
    if placed_from:
        query = query.where(_o.c.placed_at >= bindparam("placed_from"))
    if placed_to:
        query = query.where(_o.c.placed_at < bindparam("placed_to"))
    return query


class SqlOrderRepository:
    def __init__(self, connection: AsyncConnection, *, lock: bool = False) -> None:
        self._connection = connection
        self._lock = lock

    async def get(self, order_id: str) -> Order | None:
        """The order with its lines; in a writer on a database server, locked until the transaction ends."""
        query = _WITH_LINES_LOCKED if self._lock else _WITH_LINES
        return _order(await fetch_all(self._connection, query, {"id": order_id}, inline=True))

    async def detail(self, order_id: str) -> tuple[Order, Customer | None, list[Payment]] | None:
        """The order with its lines, its customer and its payments and refunds, in one round trip."""
        key = {"id": order_id}
        rows, customer, payments = await fetch_batch(
            self._connection, [(_WITH_LINES, key), (_ITS_CUSTOMER, key), (_ITS_PAYMENTS, key)], inline=True
        )
        order = _order(rows)
        if order is None:
            return None
        return (
            order,
            CustomerEntity.record_from_row(customer[0]) if customer else None,
            [PaymentEntity.record_from_row(row) for row in payments],
        )

    async def add(self, order: Order) -> None:
        await self._connection.execute(insert(_o).values(OrderEntity.values_from_record(order)))
        await self._connection.execute(
            insert(_l), [OrderLineEntity.values_from_record(order.id, line) for line in order.lines]
        )

    async def update(self, order: Order) -> None:
        values = OrderEntity.values_from_record(order)
        await self._connection.execute(
            update(_o).where(_o.c.id == order.id).values({name: values[name] for name in _UPDATABLE})
        )
        if order.lines:
            await self._connection.execute(
                _SET_RESTOCKED,
                [{"b_order": order.id, "b_line": line.line_no, "b_restocked": line.restocked} for line in order.lines],
            )

    async def page_before(
        self,
        *,
        status: str | None,
        customer_id: str | None,
        placed_from: datetime | None,
        placed_to: datetime | None,
        before_id: str | None,
        limit: int,
    ) -> list[Order]:
        params: dict[str, Any] = {"limit": limit}
        if before_id is not None:
            params["before"] = before_id
        if status is not None:
            params["status"] = status
        if customer_id is not None:
            params["customer_id"] = customer_id
        if placed_from is not None:
            params["placed_from"] = moment_param(self._connection, placed_from)
        if placed_to is not None:
            params["placed_to"] = moment_param(self._connection, placed_to)
        dated = placed_from is not None or placed_to is not None
        statement = _page(
            status=status is not None,
            customer=customer_id is not None,
            placed_from=placed_from is not None,
            placed_to=placed_to is not None,
            before=before_id is not None,
            sqlite=self._connection.dialect.name == "sqlite",
        )
        # A date with a status or a customer may read many rows to fill a page: that runs on aiosqlite's
        # thread. Every other page reads about the rows it returns.
        inline = not (dated and (status is not None or customer_id is not None))
        return [
            OrderEntity.record_from_row(row)
            for row in await fetch_all(self._connection, statement, params, inline=inline)
        ]


def _order(rows: list[Sequence[Any]]) -> Order | None:
    if not rows:
        return None
    lines = tuple(
        OrderLineEntity.record_from_row(row[ORDER_COLUMNS:]) for row in rows if row[ORDER_COLUMNS] is not None
    )
    return OrderEntity.record_from_row(rows[0], lines)
