"""Recording money received for an order, or charging a saved card for it.

A manual payment is booked in one transaction. A card payment takes three steps (see
``services.cards``): a ``pending`` row is committed first, then the gateway is called with the
row's id as idempotency key, then its answer is booked. A card attempt the gateway could not
answer stays pending and is resumed, with the same key, by the next ``record`` for the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp_server.models.events import PaymentStarted
from mcp_server.models.orders import ORDER_ID_PREFIX, Order
from mcp_server.models.payments import PAYMENT_ID_PREFIX, Payment, PaymentCreate
from mcp_server.services.cards import NO_GATEWAY
from mcp_server.services.ledger import book_payment
from mcp_server.services.order_lookup import not_an_order_id
from mcp_server.services.payments.base import UseCase
from mcp_server.services.payments.outcomes import CardNotCharged, Recorded
from mcp_server.services.requests import remember, replay, request_hash
from mcp_server.services.results import (
    Conflict,
    IllegalTransition,
    NotFound,
    Rejected,
    Success,
    unavailable_when_busy,
)
from mcp_server.services.unit_of_work import EventfulUnitOfWork
from mcp_server.utils.ids import canonical_id
from mcp_server.utils.money import format_money

RECORD = "payments_record"

RecordResult = Success[Recorded] | CardNotCharged | NotFound | Rejected | Conflict | IllegalTransition


@dataclass(frozen=True, slots=True)
class _Charge:
    """A pending card payment to send to the gateway, once the transaction that wrote it is over."""

    payment: Payment
    resumed: bool


class Recording(UseCase):
    """``payments_record``: money received by hand, or a saved card charged."""

    @unavailable_when_busy
    async def record(self, request: PaymentCreate, *, actor: str, idempotency_key: str | None = None) -> RecordResult:
        """Record money received for an order, or charge a saved card for it; when payments cover
        the total the order is paid.

        While a card payment of the order is pending at the gateway, this completes that one
        (same idempotency key at the gateway, so it cannot charge twice) and starts nothing new.
        """
        order_id = canonical_id(request.order_id, ORDER_ID_PREFIX)
        if order_id is None:
            return not_an_order_id(request.order_id)
        if request.method == "card" and not self._cards.available:
            return Rejected(NO_GATEWAY, field="method")
        digest = request_hash(request.model_dump(mode="json") | {"order_id": order_id})
        async with self._uow(write=True) as uow:
            step = await self._begin(uow, request, order_id, digest, actor, idempotency_key)
        if not isinstance(step, _Charge):
            return step
        settled = await self._cards.charge(step.payment, actor=actor, resent=step.resumed)
        if settled.row.status == "succeeded":
            return Success(Recorded(settled.row, settled.order, resumed=step.resumed))
        return CardNotCharged(
            settled.row, settled.order, settled.note or "", resumed=step.resumed, needs_person=settled.needs_person
        )

    async def _begin(
        self,
        uow: EventfulUnitOfWork,
        request: PaymentCreate,
        order_id: str,
        digest: str,
        actor: str,
        idempotency_key: str | None,
    ) -> _Charge | Success[Recorded] | CardNotCharged | NotFound | Rejected | Conflict | IllegalTransition:
        """Book a manual payment, or write a card payment as pending; or find the pending one to resume."""
        earlier = await replay(uow, RECORD, idempotency_key, digest)
        if isinstance(earlier, Conflict):
            return earlier
        if earlier is not None:
            first = await uow.payments.get(earlier[0]) if earlier else None
            if first is not None and first.status == "pending":
                return _Charge(first, resumed=True)
            if first is not None and first.status == "failed":
                order = await uow.orders.get(first.order_id)
                if order is not None:
                    return CardNotCharged(first, order, first.reason or "the card payment failed")
            return await self._recorded_again(uow, earlier[0])
        order = await uow.orders.get(order_id)
        if order is None:
            return NotFound("order", f"id {order_id}")
        waiting = [p for p in await self._cards.pending_for(uow, order.id) if p.kind == "payment"]
        if waiting:
            return _Charge(waiting[0], resumed=True)
        if not order.may("pay"):
            return IllegalTransition(order.id, order.status, "take a payment", order.allowed)
        amount = order.outstanding_minor if request.amount is None else request.amount
        if amount > order.outstanding_minor:
            return Rejected(
                f"{format_money(amount, order.currency)} is more than the "
                f"{format_money(order.outstanding_minor, order.currency)} still to pay on order {order.id}",
                field="amount",
            )
        now = self._clock.now()
        card = request.method == "card"
        payment = Payment(
            id=self._ids.new(PAYMENT_ID_PREFIX),
            kind="payment",
            order_id=order.id,
            amount_minor=amount,
            currency=order.currency,
            method=request.method,
            status="pending" if card else "succeeded",
            created_at=now,
            reference=request.payment_method if card else request.reference,
        )
        await uow.payments.add(payment)
        if card:
            uow.raise_event(PaymentStarted(actor, order, payment))
            await remember(uow, RECORD, idempotency_key, digest, (payment.id,), now)
            await uow.commit()
            return _Charge(payment, resumed=False)
        return await self._book(uow, order, payment, actor, idempotency_key, digest)

    async def _book(
        self,
        uow: EventfulUnitOfWork,
        order: Order,
        payment: Payment,
        actor: str,
        idempotency_key: str | None,
        digest: str,
    ) -> Success[Recorded]:
        now = payment.created_at
        updated = await book_payment(uow, order, payment, actor=actor, at=now)
        await remember(uow, RECORD, idempotency_key, digest, (payment.id,), now)
        await uow.commit()
        return Success(Recorded(payment, updated))

    async def _recorded_again(self, uow: EventfulUnitOfWork, payment_id: str) -> Success[Recorded] | NotFound:
        payment = await uow.payments.get(payment_id)
        order = await uow.orders.get(payment.order_id) if payment else None
        if payment is None or order is None:
            return NotFound("payment", f"id {payment_id}")
        return Success(Recorded(payment, order, replayed=True))
