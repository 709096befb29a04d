"""Money going back and stock coming back, and the customer's e-mail about it: what orders,
refunds, cancellations and card settlements share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from mcp_server.models.audit import JsonScalar
from mcp_server.models.events import PaymentRecorded
from mcp_server.models.orders import Order
from mcp_server.models.payments import REFUND_ID_PREFIX, Payment
from mcp_server.services.ports import IdFactory, UnitOfWork
from mcp_server.services.unit_of_work import EventfulUnitOfWork


def allocate(payments: list[Payment], amount: int) -> list[tuple[Payment, int]]:
    """Spread ``amount`` over refundable payments, newest first; the caller checked it fits."""
    left, plan = amount, list[tuple[Payment, int]]()
    for payment in sorted(payments, key=lambda p: p.sequence, reverse=True):
        if left == 0:
            break
        take = min(payment.refundable_minor, left)
        if take > 0:
            plan.append((payment, take))
            left -= take
    if left:
        raise ValueError("amount exceeds what the payments can return")
    return plan


async def pay_back(
    uow: UnitOfWork,
    ids: IdFactory,
    plan: list[tuple[Payment, int]],
    *,
    reason: str,
    restock: bool,
    at: datetime,
) -> list[Payment]:
    """Write one refund per payment in ``plan`` and raise each payment's refunded amount.

    A card payment's refund is written ``pending`` (the money is reserved on the payment, so no
    other refund can take it): the caller sends it to the gateway after committing
    (``CardDesk.resume``). Only the other refunds count as money returned, see ``returned``.
    """
    refunds: list[Payment] = []
    for payment, amount in plan:
        refund = Payment(
            id=ids.new(REFUND_ID_PREFIX),
            kind="refund",
            order_id=payment.order_id,
            amount_minor=amount,
            currency=payment.currency,
            method=payment.method,
            status="pending" if payment.method == "card" else "succeeded",
            created_at=at,
            payment_id=payment.id,
            reason=reason,
            restock=restock,
        )
        await uow.payments.add(refund)
        await uow.payments.set_refunded(payment.id, payment.refunded_minor + amount)
        refunds.append(refund)
    return refunds


async def book_payment(
    uow: EventfulUnitOfWork,
    order: Order,
    payment: Payment,
    *,
    actor: str,
    at: datetime,
    extra: Mapping[str, JsonScalar] | None = None,
) -> Order:
    """Count a succeeded payment on its order (paid once payments cover the total), raising
    ``PaymentRecorded`` (``extra``: more for its audit entry to say, e.g. that a person settled it)."""
    updated = order.pay(payment.amount_minor, at)
    await uow.orders.update(updated)
    uow.raise_event(PaymentRecorded(actor, order, updated, payment, dict(extra or {})))
    return updated


def returned(refunds: list[Payment]) -> int:
    """Money these refunds gave back already (pending card refunds are not given back yet)."""
    return sum(r.amount_minor for r in refunds if r.status == "succeeded")


def still_pending(rows: list[Payment]) -> list[Payment]:
    return [r for r in rows if r.status == "pending"]


async def restock_all(uow: UnitOfWork, order: Order, at: datetime) -> tuple[Order, int]:
    """Put every unit not yet returned back into stock; the order with updated lines, and how many."""
    units = 0
    for line in sorted(order.lines, key=lambda line: line.product_id):  # one lock order for every writer
        back = line.quantity - line.restocked
        if back > 0:
            level = await uow.products.adjust_stock(line.product_id, back, at)
            if level is None:  # only a missing product refuses a positive delta
                raise LookupError(f"product {line.product_id} of order {order.id} is gone")
            units += back
    return order.restocked(), units


def units_to_restock(order: Order) -> int:
    return sum(line.quantity - line.restocked for line in order.lines)
