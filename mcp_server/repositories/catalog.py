from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, String, Table, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mcp_server.models.catalog import Product
from mcp_server.models.entities.catalog import ProductEntity
from mcp_server.models.errors import UniqueViolationError
from mcp_server.models.suggestions import Candidate
from mcp_server.repositories.near import near_params, near_statement, starts_with
from mcp_server.repositories.sql import fetch_all, fetch_one, like_escape

_t = cast(Table, ProductEntity.__table__)
_BY_ID = select(*_t.c).where(_t.c.id == bindparam("id"))
_BY_SKU = select(*_t.c).where(_t.c.sku_key == bindparam("sku_key"))


@cache
def _page(*, text: bool, active_only: bool, stock_below: bool, after: bool) -> Select[Any]:
    """Keyset page in id order; one compiled statement per combination of filters."""
    query = select(*_t.c).order_by(_t.c.id).limit(bindparam("limit"))
    if after:
        query = query.where(_t.c.id > bindparam("after"))
    if active_only:
        query = query.where(_t.c.active.is_(True))
    if stock_below:
        query = query.where(_t.c.stock < bindparam("stock_below"))
    if text:
        needle = bindparam("needle", type_=String)
        query = query.where(
            or_(
                _t.c.name_key.contains(needle, autoescape=False, escape="\\"),
                _t.c.sku_key.contains(needle, autoescape=False, escape="\\"),
            )
        )
    return query


@cache
def _near(count: int, *, names: bool, active_only: bool, first: bool) -> Select[Any]:
    searched = [_t.c.sku_key, _t.c.name_key] if names else [_t.c.sku_key]
    where = [_t.c.active.is_(True)] if active_only else []
    where += [starts_with(_t.c.sku_key)] if first else []
    return near_statement([_t.c.id, _t.c.sku, _t.c.name], searched, count, where=where, order_key=_t.c.id)


class SqlProductRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, product_id: str) -> Product | None:
        row = await fetch_one(self._connection, _BY_ID, {"id": product_id}, inline=True)
        return ProductEntity.record_from_row(row) if row is not None else None

    async def find_by_sku(self, sku: str) -> Product | None:
        row = await fetch_one(self._connection, _BY_SKU, {"sku_key": sku.lower()}, inline=True)
        return ProductEntity.record_from_row(row) if row is not None else None

    async def add(self, product: Product) -> None:
        try:
            await self._connection.execute(insert(_t).values(ProductEntity.values_from_record(product)))
        except IntegrityError as exc:
            if "products.sku_key" in str(exc.orig) or "uq_products_sku_key" in str(exc.orig):
                raise UniqueViolationError("product sku") from exc
            raise

    async def update(self, product: Product) -> None:
        values = ProductEntity.values_from_record(product)
        del values["stock"]  # stock changes only through adjust_stock, atomically
        await self._connection.execute(update(_t).where(_t.c.id == product.id).values(values))

    async def adjust_stock(self, product_id: str, delta: int, at: datetime) -> int | None:
        """Add ``delta`` unless stock would go below zero, in one statement; the new stock or None."""
        statement = (
            update(_t)
            .where(_t.c.id == product_id, _t.c.stock + delta >= 0)
            .values(stock=_t.c.stock + delta, updated_at=at)
            .returning(_t.c.stock)
        )
        row = (await self._connection.execute(statement)).first()
        return None if row is None else int(row[0])

    async def page_after(
        self, *, text: str | None, active_only: bool, stock_below: int | None, after_id: str | None, limit: int
    ) -> list[Product]:
        params: dict[str, Any] = {"limit": limit}
        if after_id is not None:
            params["after"] = after_id
        if text:
            params["needle"] = like_escape(text.lower())
        if stock_below is not None:
            params["stock_below"] = stock_below
        statement = _page(
            text=bool(text), active_only=active_only, stock_below=stock_below is not None, after=after_id is not None
        )
        return [
            ProductEntity.record_from_row(row)
            for row in await fetch_all(self._connection, statement, params, inline=not text)
        ]

    async def near(
        self, pieces: Sequence[str], *, names: bool, active_only: bool, limit: int, first: str | None = None
    ) -> list[Candidate]:
        if not pieces:
            return []
        statement = _near(len(pieces), names=names, active_only=active_only, first=first is not None)
        rows = await fetch_all(self._connection, statement, near_params(pieces, limit, first))
        return [Candidate(id=str(row[0]), key=str(row[1]), name=str(row[2])) for row in rows]
