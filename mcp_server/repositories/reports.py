"""Sales figures, aggregated by the database: nothing here loads a table into memory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import cast

from sqlalchemy import Integer, String, Table, and_, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from mcp_server.models.entities.base import UTCDateTime
from mcp_server.models.entities.catalog import ProductEntity
from mcp_server.models.entities.orders import OrderEntity, OrderLineEntity
from mcp_server.models.entities.payments import PaymentEntity
from mcp_server.models.reports import DaySales, DayWindow, ProductSales
from mcp_server.repositories.sql import moment_param

_o = cast(Table, OrderEntity.__table__)
_l = cast(Table, OrderLineEntity.__table__)
_p = cast(Table, PaymentEntity.__table__)
_products = cast(Table, ProductEntity.__table__)


class SqlReportRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def sales_by_day(self, days: Sequence[DayWindow]) -> list[DaySales]:
        if not days:
            return []
        # Local days as UTC intervals: each is a range scan of the placed_at index.
        # (SQLite has no column list on VALUES aliases; a UNION ALL of one-row SELECTs is portable.)
        # SQLite keeps UTC moments as text; other engines compare them as timestamps.
        moment = String if self._connection.dialect.name == "sqlite" else UTCDateTime()
        windows = union_all(
            *(
                select(
                    literal(n, Integer).label("day_no"),
                    literal(moment_param(self._connection, d.start), moment).label("day_start"),
                    literal(moment_param(self._connection, d.end), moment).label("day_end"),
                )
                for n, d in enumerate(days)
            )
        ).cte("days")
        live = _o.c.status != "cancelled"
        orders = (
            select(
                windows.c.day_no,
                _o.c.currency,
                func.sum(case((live, 1), else_=0)),
                func.sum(case((live, _o.c.units), else_=0)),
                func.sum(case((live, _o.c.total_minor), else_=0)),
                func.sum(case((live, 0), else_=1)),
            )
            .select_from(
                windows.join(_o, and_(_o.c.placed_at >= windows.c.day_start, _o.c.placed_at < windows.c.day_end))
            )
            .group_by(windows.c.day_no, _o.c.currency)
        )
        # Money returned in the day (succeeded refunds only: a card refund pending or failed at the
        # gateway returned nothing) on orders that still count as sales: a cancelled order's refunds
        # leave with its revenue, so a cancellation nets to zero instead of going negative. The day's
        # refunds come from the created_at index; each finds its order by primary key.
        refunds = (
            select(windows.c.day_no, _p.c.currency, func.sum(_p.c.amount_minor))
            .select_from(
                windows.join(
                    _p, and_(_p.c.created_at >= windows.c.day_start, _p.c.created_at < windows.c.day_end)
                ).join(_o, _o.c.id == _p.c.order_id)
            )
            .where(_p.c.kind == "refund", _p.c.status == "succeeded", live)
            .group_by(windows.c.day_no, _p.c.currency)
        )
        totals: dict[tuple[int, str], list[int]] = {}
        for day_no, currency, count, units, revenue, cancelled in await self._connection.execute(orders):
            totals[(int(day_no), currency)] = [int(count), int(units), int(revenue), 0, int(cancelled)]
        for day_no, currency, refunded in await self._connection.execute(refunds):
            totals.setdefault((int(day_no), currency), [0, 0, 0, 0, 0])[3] = int(refunded)
        return [
            DaySales(_day(days, n), currency, *figures)
            for (n, currency), figures in sorted(totals.items(), key=lambda item: item[0])
        ]

    async def sales_by_product(self, start: datetime, end: datetime, limit: int) -> list[ProductSales]:
        # Grouped by product and currency only (an order has at most one line per product, so
        # count(*) counts orders); names are joined in after the LIMIT, on the few rows left.
        revenue = func.sum(_l.c.line_total_minor).label("revenue")
        ranked = (
            select(
                _l.c.product_id,
                _o.c.currency,
                func.count().label("orders"),
                func.sum(_l.c.quantity).label("units"),
                revenue,
            )
            .select_from(_o.join(_l, _l.c.order_id == _o.c.id))
            .where(
                _o.c.placed_at >= start,  # typed binds: SQLAlchemy writes them as the column stores them
                _o.c.placed_at < end,
                _o.c.status != "cancelled",
            )
            .group_by(_l.c.product_id, _o.c.currency)
            .order_by(revenue.desc(), _l.c.product_id)
            .limit(limit)
            .subquery("ranked")
        )
        statement = (
            select(
                ranked.c.product_id,
                _products.c.sku,
                _products.c.name,
                ranked.c.currency,
                ranked.c.orders,
                ranked.c.units,
                ranked.c.revenue,
            )
            .select_from(ranked.join(_products, _products.c.id == ranked.c.product_id))
            .order_by(ranked.c.revenue.desc(), ranked.c.product_id)
        )
        return [
            ProductSales(product_id, sku, name, currency, int(orders), int(units), int(total))
            for product_id, sku, name, currency, orders, units, total in await self._connection.execute(statement)
        ]


def _day(days: Sequence[DayWindow], n: int) -> date:
    return days[n].day
