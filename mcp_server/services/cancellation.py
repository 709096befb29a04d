"""Cancelling an order: restock every line and give back whatever was paid, card money through the gateway."""

from __future__ import annotations

from dataclasses import dataclass, replace

from mcp_server.models.customers import Customer
from mcp_server.models.events import OrderCancelled
from mcp_server.models.orders import Order
from mcp_server.models.payments import Payment
from mcp_server.services.approvals import CANCEL, Approval, ApprovalDesk, Asked, GoAhead, NeedsApproval
from mcp_server.services.card_booking import Settled
from mcp_server.services.cards import CardDesk
from mcp_server.services.ledger import (
    allocate,
    pay_back,
    restock_all,
    returned,
    still_pending,
    units_to_restock,
)
from mcp_server.services.order_lookup import load_order
from mcp_server.services.ports import Clock, IdFactory, UnitOfWork, UnitOfWorkFactory
from mcp_server.services.requests import request_hash
from mcp_server.services.results import IllegalTransition, NotFound, Rejected, Success, unavailable_when_busy
from mcp_server.services.unit_of_work import EventfulUnitOfWork, with_events
from mcp_server.utils.money import format_money


@dataclass(frozen=True, slots=True)
class Cancellation:
    """A cancellation, previewed or done: what goes back to stock and to the customer."""

    order: Order
    customer: Customer | None
    refund_minor: int
    restocked_units: int
    refunds: tuple[Payment, ...] = ()

    def describe(self) -> str:
        """One sentence a person can say yes or no to (the approval request keeps it)."""
        who = f"{self.customer.name} <{self.customer.email}>" if self.customer else self.order.customer_id
        money = format_money(self.refund_minor, self.order.currency)
        return (
            f"Cancel order {self.order.id} of {who}: {self.restocked_units} unit(s) go back into stock and {money} "
            "is refunded."
        )


@dataclass(frozen=True, slots=True)
class PaymentStillPending(Rejected):
    """A card payment of the order is still pending at the gateway, so it is not cancelled; nothing changed.

    ``waiting`` is that payment as the gateway left it; ``needs_person``: asking again will not settle it,
    a person settles it by hand (each door says how)."""

    waiting: Settled | None = None

    @classmethod
    def of(cls, waiting: Settled) -> PaymentStillPending:
        later = "a person must settle it by hand first" if waiting.needs_person else "try again in a minute"
        message = (
            f"card payment {waiting.row.id} of order {waiting.order.id} is still pending at the payment gateway "
            f"({waiting.note or 'no answer yet'}), so the order cannot be cancelled yet; nothing was changed: {later}"
        )
        return cls(message, field="pending_payment", waiting=waiting)


class Cancelling:
    """``orders_cancel``: preview, confirm, cancel; a card payment still pending is settled first."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdFactory, approvals: ApprovalDesk, cards: CardDesk
    ) -> None:
        self._uow = with_events(uow, clock, ids)
        self._clock = clock
        self._ids = ids
        self._approvals = approvals
        self._cards = cards

    @unavailable_when_busy
    async def preview_cancel(self, order_id: str) -> Success[Cancellation] | NotFound | Rejected | IllegalTransition:
        async with self._uow(write=False) as uow:
            found = await self._cancellable(uow, order_id)
            if not isinstance(found, tuple):
                return found
            order, customer, payments = found
            refund = sum(p.refundable_minor for p in payments)
            return Success(Cancellation(order, customer, refund, units_to_restock(order)))

    @unavailable_when_busy
    async def cancel(
        self,
        order_id: str,
        *,
        reason: str | None,
        actor: str,
        approval: Approval,
        may_give_money_back: bool = True,
    ) -> Success[Cancellation] | NeedsApproval[Cancellation] | NotFound | Rejected | IllegalTransition:
        """Cancel: restock every line and refund whatever was paid. When money goes back, a person
        must approve first (``approval``); without it this returns a preview and an approval request.
        A caller that may not give money back (``may_give_money_back``: no ``refunds`` scope) is refused
        then, before anything is asked or changed.

        A card payment still pending at the gateway is settled first (it may turn out paid); while
        it cannot be, the order is not cancelled. Card refunds go to the gateway after the
        cancellation is committed; one it cannot be asked about stays pending, its money reserved,
        until the next refund of the order sends it again with the same key."""
        for _ in range(2):
            async with self._uow(write=True) as uow:
                found = await self._cancellable(uow, order_id)
                if not isinstance(found, tuple):
                    return found
                waiting = [p for p in found[2] if p.kind == "payment" and p.status == "pending"]
                if not waiting:
                    done = await self._cancel_in(
                        uow, found, reason=reason, actor=actor, approval=approval, may_pay=may_give_money_back
                    )
                    break
            settled = await self._cards.resume(waiting, actor=actor)
            if any(s.pending for s in settled):
                return PaymentStillPending.of(next(s for s in settled if s.pending))
        else:  # pragma: no cover - a settled payment cannot be pending again
            return Rejected("the order's card payments keep changing; try again", field="order_id")
        if not isinstance(done, Success) or not still_pending(list(done.value.refunds)):
            return done
        cancellation = done.value
        settled = {
            s.row.id: s.row for s in await self._cards.resume(still_pending(list(cancellation.refunds)), actor=actor)
        }
        async with self._uow(write=False) as uow:
            order = await uow.orders.get(cancellation.order.id) or cancellation.order
        return Success(
            replace(cancellation, order=order, refunds=tuple(settled.get(r.id, r) for r in cancellation.refunds))
        )

    async def _cancel_in(
        self,
        uow: EventfulUnitOfWork,
        found: tuple[Order, Customer | None, list[Payment]],
        *,
        reason: str | None,
        actor: str,
        approval: Approval,
        may_pay: bool,
    ) -> Success[Cancellation] | NeedsApproval[Cancellation] | Rejected:
        order, customer, payments = found
        # What the payments can still give back: a card refund pending at the gateway holds its share.
        refund = sum(p.refundable_minor for p in payments)
        if refund > 0 and not may_pay:
            return Rejected(
                f"cancelling order {order.id} gives {format_money(refund, order.currency)} back, and this caller may "
                "not give money back (that needs the refunds scope); nothing was changed",
                field="order_id",
            )
        digest = request_hash({"order_id": order.id, "reason": reason, "refundable": refund})
        if refund > 0:
            preview = Cancellation(order, customer, refund, units_to_restock(order))
            asked = Asked(
                CANCEL,
                arguments=request_hash({"order_id": order.id, "reason": reason}),
                bound=digest,
                summary=preview.describe(),
                subject_id=order.id,
                actor=actor,
            )
            gate = await self._approvals.gate(uow, asked, approval, preview)
            if not isinstance(gate, GoAhead):
                return gate
            actor = gate.actor
        now = self._clock.now()
        restocked, units = await restock_all(uow, order, now)
        refunds = await pay_back(
            uow, self._ids, allocate(payments, refund), reason=reason or "order cancelled", restock=True, at=now
        )
        # Card refunds count as returned once the gateway has made them (CardDesk books them).
        cancelled = restocked.cancel(returned(refunds), now)
        await uow.orders.update(cancelled)
        uow.raise_event(OrderCancelled(actor, order, cancelled, units, tuple(refunds), reason, customer))
        await uow.commit()
        return Success(Cancellation(cancelled, customer, refund, units, tuple(refunds)))

    async def _cancellable(
        self, uow: UnitOfWork, order_id: str
    ) -> tuple[Order, Customer | None, list[Payment]] | NotFound | Rejected | IllegalTransition:
        loaded = await load_order(uow, order_id, "cancel")
        if not isinstance(loaded, Order):
            return loaded
        customer = await uow.customers.get(loaded.customer_id)
        return loaded, customer, await uow.payments.for_order(loaded.id)
