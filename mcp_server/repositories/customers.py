from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mcp_server.models.customers import Customer
from mcp_server.models.entities.customers import CustomerEntity
from mcp_server.models.errors import UniqueViolationError


class SqlCustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, customer_id: str) -> Customer | None:
        entity = await self._session.get(CustomerEntity, customer_id)
        return entity.to_record() if entity is not None else None

    async def find_by_email(self, email: str) -> Customer | None:
        result = await self._session.execute(select(CustomerEntity).where(CustomerEntity.email == email.lower()))
        entity = result.scalar_one_or_none()
        return entity.to_record() if entity is not None else None

    async def add(self, customer: Customer) -> None:
        self._session.add(CustomerEntity.from_record(customer))
        await self._flush()

    async def update(self, customer: Customer) -> None:
        await self._session.merge(CustomerEntity.from_record(customer))
        await self._flush()

    async def page_after(self, *, text: str | None, after_id: str | None, limit: int) -> list[Customer]:
        query = select(CustomerEntity).order_by(CustomerEntity.id).limit(limit)
        if after_id is not None:
            query = query.where(CustomerEntity.id > after_id)
        if text:
            needle = text.lower()
            query = query.where(
                or_(
                    func.lower(CustomerEntity.name).contains(needle, autoescape=True),
                    CustomerEntity.email.contains(needle, autoescape=True),
                )
            )
        result = await self._session.scalars(query)
        return [entity.to_record() for entity in result]

    async def _flush(self) -> None:
        try:
            await self._session.flush()
        except IntegrityError as exc:
            raise UniqueViolationError("customer e-mail") from exc
