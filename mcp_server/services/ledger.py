"""Money going back and stock coming back, and the customer's e-mail about it: what orders,
refunds, cancellations and card settlements share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from mcp_server.models.audit import JsonScalar
from mcp_server.models.customers import Customer
from mcp_server.models.orders import Order
from mcp_server.models.outbox import OUTBOX_ID_PREFIX, NotificationKind, OutboxMessage
from mcp_server.models.payments import REFUND_ID_PREFIX, Payment
from mcp_server.services.audit import AuditRecorder
from mcp_server.services.ports import IdFactory, UnitOfWork
from mcp_server.utils.money import format_money


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
    uow: UnitOfWork,
    audit: AuditRecorder,
    order: Order,
    payment: Payment,
    *,
    actor: str,
    at: datetime,
    extra: Mapping[str, JsonScalar] | None = None,
) -> Order:
    """Count a succeeded payment on its order (paid once payments cover the total), with its audit entry
    (``extra``: more for the entry to say, e.g. that a person settled it by hand)."""
    updated = order.pay(payment.amount_minor, at)
    await uow.orders.update(updated)
    await audit.record(
        uow,
        actor=actor,
        action="payment.recorded",
        entity_type="order",
        entity_id=order.id,
        before=order.audit_state(),
        after=updated.audit_state()
        | {"payment_id": payment.id, "amount_minor": payment.amount_minor, "method": payment.method}
        | dict(extra or {}),
    )
    return updated


def returned(refunds: list[Payment]) -> int:
    """Money these refunds gave back already (pending card refunds are not given back yet)."""
    return sum(r.amount_minor for r in refunds if r.status == "succeeded")


def still_pending(rows: list[Payment]) -> list[Payment]:
    return [r for r in rows if r.status == "pending"]


async def restock_all(uow: UnitOfWork, order: Order, at: datetime) -> tuple[Order, int]:
    """Put every unit not yet returned back into stock; the order with updated lines, and how many."""
    units = 0
    for line in order.lines:
        back = line.quantity - line.restocked
        if back > 0:
            level = await uow.products.adjust_stock(line.product_id, back, at)
            if level is None:  # only a missing product refuses a positive delta
                raise LookupError(f"product {line.product_id} of order {order.id} is gone")
            units += back
    return order.restocked(), units


def units_to_restock(order: Order) -> int:
    return sum(line.quantity - line.restocked for line in order.lines)


def order_mail(
    ids: IdFactory, kind: NotificationKind, customer: Customer, order: Order, at: datetime, *, refund_minor: int = 0
) -> OutboxMessage:
    payload = {
        "name": customer.name,
        "order_id": order.id,
        "total": format_money(order.total_minor, order.currency),
        "status": order.status,
    }
    if order.carrier and order.tracking_number:
        payload |= {"carrier": order.carrier, "tracking_number": order.tracking_number}
    if refund_minor:
        payload["refund"] = format_money(refund_minor, order.currency)
    return OutboxMessage(
        id=ids.new(OUTBOX_ID_PREFIX),
        kind=kind,
        recipient=customer.email,
        subject_id=order.id,
        payload=payload,
        status="pending",
        attempts=0,
        created_at=at,
        next_attempt_at=at,
    )
