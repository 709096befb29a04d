"""Booking what the gateway (or a person reading its dashboard) said about a pending card row.

Each booking settles the row inside the caller's unit of work (the caller commits): ``succeeded``
moves the money on the order (a refund also queues the customer's e-mail), ``failed`` releases
it, and the audit entry says so. Each answers None, and changes nothing, when the conditional
settle found the row no longer pending (someone else settled it first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from mcp_server.models.audit import JsonScalar
from mcp_server.models.orders import Order
from mcp_server.models.payments import Payment
from mcp_server.services.audit import AuditRecorder
from mcp_server.services.ledger import book_payment, order_mail
from mcp_server.services.ports import Clock, IdFactory, UnitOfWork

AuditDetails = Mapping[str, JsonScalar]


@dataclass(frozen=True, slots=True)
class Settled:
    """A row after the gateway was asked about it; ``order`` is the order after the change."""

    row: Payment
    order: Order
    note: str | None = None  # why it failed, or why it is still pending
    needs_person: bool = False  # pending, and asking the gateway again will not settle it
    busy: bool = False  # pending, and another request is asking the gateway about it: nothing was sent

    @property
    def pending(self) -> bool:
        return self.row.status == "pending"


class CardBooks:
    """Settles pending card rows on their orders, with the audit entry and any e-mail."""

    def __init__(self, clock: Clock, ids: IdFactory) -> None:
        self._clock = clock
        self._ids = ids
        self._audit = AuditRecorder(clock, ids)

    async def charged(
        self, uow: UnitOfWork, payment: Payment, gateway_id: str, actor: str, extra: AuditDetails | None = None
    ) -> Settled | None:
        """The gateway took the money: the row succeeded and the order counts it as paid."""
        order = await self.order(uow, payment)
        if not await uow.payments.settle(payment.id, status="succeeded", gateway_reference=gateway_id, reason=None):
            return None
        row = replace(payment, status="succeeded", gateway_reference=gateway_id)
        updated = await book_payment(uow, self._audit, order, row, actor=actor, at=self._clock.now(), extra=extra)
        return Settled(row, updated)

    async def refunded(
        self, uow: UnitOfWork, refund: Payment, gateway_id: str | None, actor: str, extra: AuditDetails | None = None
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
        await self._audit.record(
            uow,
            actor=actor,
            action="payment.refunded",
            entity_type="order",
            entity_id=order.id,
            before=order.audit_state(),
            after=updated.audit_state()
            | {
                "refund_ids": refund.id,
                "amount_minor": refund.amount_minor,
                "reason": refund.reason,
                "method": "card",
            }
            | dict(extra or {}),
        )
        customer = await uow.customers.get(order.customer_id)
        if customer is not None:  # a cancellation's e-mail names only what was returned at once
            await uow.outbox.add(
                order_mail(self._ids, "order_refunded", customer, updated, now, refund_minor=refund.amount_minor)
            )
        return Settled(replace(refund, status="succeeded", gateway_reference=gateway_id), updated)

    async def failed(
        self,
        uow: UnitOfWork,
        row: Payment,
        note: str,
        gateway_ref: str | None,
        actor: str,
        *,
        action: str,
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
        await self._audit.record(
            uow,
            actor=actor,
            action=action,
            entity_type="order",
            entity_id=order.id,
            before=order.audit_state(),
            after=order.audit_state()
            | {"payment_id": row.id, "amount_minor": row.amount_minor, "method": "card", "reason": note}
            | dict(extra or {}),
        )
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
