from __future__ import annotations

from functools import cache
from typing import Any, cast

from sqlalchemy import Select, String, Table, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mcp_server.models.customers import Customer
from mcp_server.models.entities.customers import CustomerEntity
from mcp_server.models.errors import UniqueViolationError
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

    async def _write(self, statement: Any) -> None:
        try:
            await self._connection.execute(statement)
        except IntegrityError as exc:
            # Only the e-mail's uniqueness is a business outcome; any other violation is a bug.
            if "customers.email" in str(exc.orig) or "uq_customers_email" in str(exc.orig):
                raise UniqueViolationError("customer e-mail") from exc
            raise
