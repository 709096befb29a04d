from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, String, Table, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mcp_server.models.customers import Customer
from mcp_server.models.entities.customers import CustomerEntity
from mcp_server.models.errors import UniqueViolationError
from mcp_server.models.suggestions import Candidate
from mcp_server.repositories.near import near_params, near_statement, starts_with
from mcp_server.repositories.sql import fetch_all, fetch_one, like_escape

_t = cast(Table, CustomerEntity.__table__)
_BY_ID = select(*_t.c).where(_t.c.id == bindparam("id"))
_BY_EMAIL = select(*_t.c).where(_t.c.email == bindparam("email"))


@cache
def _page(*, filtered: bool, after: bool) -> Select[Any]:
    """Keyset page in id order; one compiled statement per combination of filters."""
    query = select(*_t.c).order_by(_t.c.id).limit(bindparam("limit"))
    if after:
        query = query.where(_t.c.id > bindparam("after"))
    if filtered:
        needle = bindparam("needle", type_=String)
        query = query.where(
            or_(
                _t.c.name_key.contains(needle, autoescape=False, escape="\\"),
                _t.c.email.contains(needle, autoescape=False, escape="\\"),
            )
        )
    return query


NAMES_BATCH = 128  # ids per statement; a page of any list holds at most 100


@cache
def _names(count: int) -> Select[Any]:
    """Ids and names of up to ``count`` customers (binds id0, id1 …): one statement per size of batch."""
    columns: list[ColumnElement[Any]] = [_t.c.id, _t.c.name]
    return select(*columns).where(_t.c.id.in_([bindparam(f"id{i}") for i in range(count)]))


def _batch_size(count: int) -> int:
    """The batch that holds ``count`` ids: a power of two up to NAMES_BATCH, so a handful of statements
    (and prepared plans) serve every page size."""
    size = 1
    while size < count:
        size *= 2
    return min(size, NAMES_BATCH)


@cache
def _near(count: int, *, names: bool, first: bool) -> Select[Any]:
    searched = [_t.c.email, _t.c.name_key] if names else [_t.c.email]
    where = [starts_with(_t.c.email)] if first else []
    return near_statement([_t.c.id, _t.c.email, _t.c.name], searched, count, where=where, order_key=_t.c.id)


class SqlCustomerRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, customer_id: str) -> Customer | None:
        row = await fetch_one(self._connection, _BY_ID, {"id": customer_id}, inline=True)
        return CustomerEntity.record_from_row(row) if row is not None else None

    async def find_by_email(self, email: str) -> Customer | None:
        row = await fetch_one(self._connection, _BY_EMAIL, {"email": email.lower()}, inline=True)
        return CustomerEntity.record_from_row(row) if row is not None else None

    async def add(self, customer: Customer) -> None:
        await self._write(insert(_t).values(CustomerEntity.values_from_record(customer)))

    async def update(self, customer: Customer) -> None:
        values = CustomerEntity.values_from_record(customer)
        await self._write(update(_t).where(_t.c.id == customer.id).values(values))

    async def page_after(self, *, text: str | None, after_id: str | None, limit: int) -> list[Customer]:
        params: dict[str, Any] = {"limit": limit}
        if after_id is not None:
            params["after"] = after_id
        if text:
            params["needle"] = like_escape(text.lower())
        statement = _page(filtered=bool(text), after=after_id is not None)
        return [
            CustomerEntity.record_from_row(row)
            for row in await fetch_all(self._connection, statement, params, inline=not text)
        ]

    async def names(self, ids: Collection[str]) -> dict[str, str]:
        wanted = sorted(set(ids))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), NAMES_BATCH):
            batch = wanted[start : start + NAMES_BATCH]
            size = _batch_size(len(batch))
            padded = batch + [batch[-1]] * (size - len(batch))  # a repeated id matches the same row
            params = {f"id{i}": id_ for i, id_ in enumerate(padded)}
            rows = await fetch_all(self._connection, _names(size), params, inline=True)
            found.update((str(row[0]), str(row[1])) for row in rows)
        return found

    async def near(
        self, pieces: Sequence[str], *, names: bool, limit: int, first: str | None = None
    ) -> list[Candidate]:
        if not pieces:
            return []
        statement = _near(len(pieces), names=names, first=first is not None)
        rows = await fetch_all(self._connection, statement, near_params(pieces, limit, first))
        return [Candidate(id=str(row[0]), key=str(row[1]), name=str(row[2])) for row in rows]

    async def _write(self, statement: Any) -> None:
        try:
            await self._connection.execute(statement)
        except IntegrityError as exc:
            # Only the e-mail's uniqueness is a business outcome; any other violation is a bug.
            if "customers.email" in str(exc.orig) or "uq_customers_email" in str(exc.orig):
                raise UniqueViolationError("customer e-mail") from exc
            raise
