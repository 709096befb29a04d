"""Booking what the gateway (or a person reading its dashboard) said about a pending card row.

Each booking settles the row inside the caller's unit of work (the caller commits): ``succeeded``
moves the money on the order, ``failed`` releases it, and the event each raises becomes the audit
entry and any e-mail. Each answers None, and changes nothing, when the conditional settle found
the row no longer pending (someone else settled it first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from mcp_server.models.audit import JsonScalar
from mcp_server.models.events import CardRefunded, PaymentFailed, RefundFailed
from mcp_server.models.orders import Order
from mcp_server.models.payments import Payment
from mcp_server.services.ledger import book_payment
from mcp_server.services.ports import Clock, UnitOfWork
from mcp_server.services.unit_of_work import EventfulUnitOfWork

AuditDetails = Mapping[str, JsonScalar]


@dataclass(frozen=True, slots=True)
class Settled:
    """A row after the gateway was asked about it; ``order`` is the order after the change."""

    row: Payment
    order: Order
    note: str | None = None  # why it failed, or why it is still pending
    needs_person: bool = False  # pending, and asking the gateway again will not settle it
    busy: bool = False  # pending, and another request is asking the gateway about it: nothing was sent
    unanswered: bool = False  # pending: the gateway gave no answer (or refused the shop's key) this time

    @property
    def pending(self) -> bool:
        return self.row.status == "pending"


class CardBooks:
    """Settles pending card rows on their orders, raising the event that says so."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def charged(
        self, uow: EventfulUnitOfWork, payment: Payment, gateway_id: str, actor: str, extra: AuditDetails | None = None
    ) -> Settled | None:
        """The gateway took the money: the row succeeded and the order counts it as paid."""
        order = await self.order(uow, payment)
        if not await uow.payments.settle(payment.id, status="succeeded", gateway_reference=gateway_id, reason=None):
            return None
        row = replace(payment, status="succeeded", gateway_reference=gateway_id)
        updated = await book_payment(uow, order, row, actor=actor, at=self._clock.now(), extra=extra)
        return Settled(row, updated)

    async def refunded(
        self,
        uow: EventfulUnitOfWork,
        refund: Payment,
        gateway_id: str | None,
        actor: str,
        extra: AuditDetails | None = None,
    ) -> Settled | None:
        """The gateway gave the money back: the order counts it as refunded and the customer gets the e-mail."""
        order = await self.order(uow, refund)
        if not await uow.payments.settle(
            refund.id, status="succeeded", gateway_reference=gateway_id, reason=refund.reason
        ):
            return None
        now = self._clock.now()
        updated = order.refund(refund.amount_minor, now)
        await uow.orders.update(updated)
        customer = await uow.customers.get(order.customer_id)
        uow.raise_event(CardRefunded(actor, order, updated, refund, customer, dict(extra or {})))
        return Settled(replace(refund, status="succeeded", gateway_reference=gateway_id), updated)

    async def failed(
        self,
        uow: EventfulUnitOfWork,
        row: Payment,
        note: str,
        gateway_ref: str | None,
        actor: str,
        *,
        extra: AuditDetails | None = None,
    ) -> Settled | None:
        """Nothing moved: the row failed (``note`` says why) and a refund frees what it reserved on its payment."""
        # A refund keeps the shop's own reason, with why it failed after it.
        stored = f"{row.reason} — not refunded: {note}"[:500] if row.kind == "refund" and row.reason else note
        order = await self.order(uow, row)
        if not await uow.payments.settle(row.id, status="failed", gateway_reference=gateway_ref, reason=stored):
            return None
        if row.kind == "refund" and row.payment_id is not None:
            paid_by = await uow.payments.get(row.payment_id)
            if paid_by is not None:  # give back the room the refund had reserved on its payment
                await uow.payments.set_refunded(paid_by.id, max(0, paid_by.refunded_minor - row.amount_minor))
        details = dict(extra or {})
        failed = PaymentFailed if row.kind == "payment" else RefundFailed
        uow.raise_event(failed(actor, order, row, note, details))
        return Settled(replace(row, status="failed", gateway_reference=gateway_ref, reason=stored), order, note)

    async def as_it_is(self, uow: UnitOfWork, row: Payment) -> Settled:
        """Someone else settled the row first (or nothing changed): report it as stored."""
        stored = await uow.payments.get(row.id) or row
        return Settled(stored, await self.order(uow, stored), stored.reason if stored.status == "failed" else None)

    async def order(self, uow: UnitOfWork, row: Payment) -> Order:
        """The row's order, as stored now."""
        order = await uow.orders.get(row.order_id)
        if order is None:  # rows are never written without their order, which is never deleted
            raise LookupError(f"order {row.order_id} of payment {row.id} is gone")
        return order
