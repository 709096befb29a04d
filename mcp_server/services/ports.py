"""The collaborators services need, as Protocols. Adapters implement them; tests fake them."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Protocol

from mcp_server.models.audit import AuditEntry
from mcp_server.models.catalog import Product
from mcp_server.models.customers import Customer
from mcp_server.models.outbox import OutboxMessage


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdFactory(Protocol):
    def new(self, prefix: str) -> str: ...


class CustomerRepository(Protocol):
    async def get(self, customer_id: str) -> Customer | None: ...

    async def find_by_email(self, email: str) -> Customer | None: ...

    async def add(self, customer: Customer) -> None:
        """Store a new customer; raises models.errors.UniqueViolationError on a taken e-mail."""
        ...

    async def update(self, customer: Customer) -> None:
        """Overwrite a stored customer; raises models.errors.UniqueViolationError on a taken e-mail."""
        ...

    async def page_after(self, *, text: str | None, after_id: str | None, limit: int) -> list[Customer]:
        """Customers in id order (registration order) after ``after_id``, optionally filtered."""
        ...


class ProductRepository(Protocol):
    async def get(self, product_id: str) -> Product | None: ...

    async def find_by_sku(self, sku: str) -> Product | None:
        """In any letter case."""
        ...

    async def add(self, product: Product) -> None:
        """Store a new product; raises models.errors.UniqueViolationError on a taken SKU."""
        ...

    async def update(self, product: Product) -> None:
        """Overwrite everything but the stock level, which only adjust_stock changes."""
        ...

    async def adjust_stock(self, product_id: str, delta: int, at: datetime) -> int | None:
        """Atomically add ``delta`` unless stock would go below zero; the new level, or None if refused."""
        ...

    async def page_after(
        self, *, text: str | None, active_only: bool, stock_below: int | None, after_id: str | None, limit: int
    ) -> list[Product]: ...


class AuditRepository(Protocol):
    async def add(self, entry: AuditEntry) -> None: ...

    async def page_before(
        self,
        *,
        entity_type: str | None,
        entity_id: str | None,
        action: str | None,
        before_sequence: int | None,
        limit: int,
    ) -> list[AuditEntry]:
        """Entries newest first, strictly older than ``before_sequence`` when given."""
        ...


class OutboxRepository(Protocol):
    async def add(self, message: OutboxMessage) -> None: ...


class UnitOfWork(Protocol):
    """One transaction: everything done through it is committed together, or not at all.

    Leaving the ``async with`` block without ``commit()`` discards every change.
    """

    @property
    def customers(self) -> CustomerRepository: ...

    @property
    def products(self) -> ProductRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> UnitOfWork:
        """A new unit of work; ``write=True`` takes the write lock up front so checks and writes agree."""
        ...
