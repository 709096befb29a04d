"""Records for the contract tests, built with the models' own constructors, and small helpers to
write them through one unit of work and read them back through another."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from mcp_server.models.approvals import ApprovalRequest
from mcp_server.models.audit import AuditEntry, JsonScalar
from mcp_server.models.catalog import Product
from mcp_server.models.customers import Customer
from mcp_server.models.orders import Address, Order, OrderLine
from mcp_server.models.outbox import NotificationStatus, OutboxMessage
from mcp_server.models.payments import Payment, PaymentKind, PaymentStatus
from mcp_server.services.ports import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")

T0 = datetime(2026, 11, 26, 9, 0, 0, 123456, tzinfo=UTC)
"""Every moment has microseconds, so a store that drops them shows."""


def at(seconds: float = 0, *, days: int = 0) -> datetime:
    return T0 + timedelta(days=days, seconds=seconds)


def ident(prefix: str, n: int) -> str:
    """Ids in the real shape, ordered as made: ``cus_0000…0001``."""
    return f"{prefix}_{n:026d}"


def engine_of(request: pytest.FixtureRequest) -> str:
    """Which engine this test runs on: "fake", "sqlite" or "postgresql"."""
    callspec = getattr(request.node, "callspec")  # noqa: B009 - pytest's parametrized item
    return str(callspec.params["uow_factory"])


def xfail_on(request: pytest.FixtureRequest, engine: str, reason: str) -> None:
    """Expect this test to fail (strictly) on ``engine`` only: a known bug there, reported."""
    if engine_of(request) == engine:
        request.applymarker(pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason))


async def written(uow: UnitOfWorkFactory, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """``work`` done in one write unit, committed; its result."""
    async with uow(write=True) as unit:
        result = await work(unit)
        await unit.commit()
    return result


async def read(uow: UnitOfWorkFactory, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """``work`` done in a new read unit; its result."""
    async with uow(write=False) as unit:
        return await work(unit)


async def save(uow: UnitOfWorkFactory, *records: object) -> None:
    """Add ``records`` in one write unit, in the order given, and commit."""
    async with uow(write=True) as unit:
        for record in records:
            await add(unit, record)
        await unit.commit()


async def add(unit: UnitOfWork, record: object) -> None:
    match record:
        case Customer():
            await unit.customers.add(record)
        case Product():
            await unit.products.add(record)
        case Order():
            await unit.orders.add(record)
        case Payment():
            await unit.payments.add(record)
        case AuditEntry():
            await unit.audit.add(record)
        case OutboxMessage():
            await unit.outbox.add(record)
        case ApprovalRequest():
            await unit.requests.add_approval(record)
        case _:
            raise TypeError(f"no repository for {type(record).__name__}")


def customer(n: int, name: str = "Ada Lovelace", email: str | None = None, *, when: datetime = T0) -> Customer:
    return Customer(
        id=ident("cus", n),
        name=name,
        email=email or f"customer{n}@example.com",
        phone=None,
        notes=None,
        created_at=when,
        updated_at=when,
    )


def product(
    n: int,
    sku: str | None = None,
    name: str | None = None,
    *,
    stock: int = 10,
    price_minor: int = 1250,
    currency: str = "EUR",
    active: bool = True,
) -> Product:
    sku = sku or f"SKU-{n}"
    return Product(
        id=ident("prd", n),
        sku=sku,
        name=name or f"Product {sku}",
        description=None,
        price_minor=price_minor,
        currency=currency,
        stock=stock,
        active=active,
        created_at=T0,
        updated_at=T0,
    )


def order(
    n: int,
    buyer: Customer,
    lines: list[tuple[Product, int]],
    *,
    when: datetime = T0,
    address: Address | None = None,
) -> Order:
    """An order placed as OrderService places one: lines numbered from 1, at each product's price."""
    return Order.place(
        order_id=ident("ord", n),
        customer_id=buyer.id,
        currency=lines[0][0].currency,
        lines=tuple(
            OrderLine(line_no, p.id, p.sku, p.name, quantity, p.price_minor)
            for line_no, (p, quantity) in enumerate(lines, start=1)
        ),
        shipping_address=address,
        at=when,
    )


def payment(
    n: int,
    of: Order,
    amount_minor: int,
    *,
    kind: PaymentKind = "payment",
    status: PaymentStatus = "succeeded",
    when: datetime = T0,
    refund_of: Payment | None = None,
) -> Payment:
    return Payment(
        id=ident("pay" if kind == "payment" else "ref", n),
        kind=kind,
        order_id=of.id,
        amount_minor=amount_minor,
        currency=of.currency,
        method="card" if status == "pending" else "cash",
        status=status,
        created_at=when,
        payment_id=refund_of.id if refund_of is not None else None,
        reason="test" if kind == "refund" else None,
    )


def entry(
    n: int,
    entity_id: str,
    action: str = "customer.registered",
    *,
    entity_type: str = "customer",
    after: dict[str, JsonScalar] | None = None,
) -> AuditEntry:
    return AuditEntry(
        id=ident("aud", n),
        occurred_at=at(n),
        actor="test",
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=None,
        after=after if after is not None else {"n": n},
    )


def message(n: int, *, due: datetime = T0, status: NotificationStatus = "pending") -> OutboxMessage:
    return OutboxMessage(
        id=ident("ntf", n),
        kind="welcome",
        recipient=f"customer{n}@example.com",
        subject_id=ident("cus", n),
        payload={"name": "Élodie", "n": str(n)},
        status=status,
        attempts=0,
        created_at=T0,
        next_attempt_at=due,
    )


def approval(n: int, *, created: datetime = T0, subject: str = "ord_1") -> ApprovalRequest:
    return ApprovalRequest(
        id=ident("apr", n),
        use_case="refund",
        arguments_digest="a" * 64,
        state_digest="s" * 64,
        summary=f"Refund 5.00 EUR on {subject} (request {n})",
        subject_id=subject,
        actor="assistant",
        created_at=created,
        expires_at=created + timedelta(minutes=30),
    )
