"""Settling by hand: a person books what the gateway's dashboard shows about a card row left pending."""

from __future__ import annotations

from dataclasses import replace

from mcp_server.models.payments import PAYMENT_ID_PREFIX, REFUND_ID_PREFIX, Payment, PaymentSettle
from mcp_server.services.approvals import SETTLE, Approval, Asked, GoAhead, NeedsApproval, PreviewOnly
from mcp_server.services.cards import KEY_LIFETIME
from mcp_server.services.payments.base import UseCase
from mcp_server.services.payments.outcomes import HandSettlement
from mcp_server.services.requests import request_hash
from mcp_server.services.results import Malformed, NotFound, Rejected, Success, unavailable_when_busy
from mcp_server.services.unit_of_work import EventfulUnitOfWork
from mcp_server.utils.ids import canonical_id
from mcp_server.utils.money import format_money


class ByHand(UseCase):
    """``payments settle``: a person settles a pending card row the gateway will not settle by being asked."""

    @unavailable_when_busy
    async def settle_by_hand(
        self, request: PaymentSettle, *, actor: str, approval: Approval
    ) -> Success[HandSettlement] | NeedsApproval[HandSettlement] | NotFound | Rejected:
        """Settle a card payment or refund left pending, as a person found it in the gateway's dashboard.

        For the rows the gateway cannot settle by being asked again (pending for longer than it keeps
        idempotency keys, answered for another amount, a key it says was used elsewhere). The effect
        is that of the gateway's own answer: a payment that succeeded pays the order, a refund that
        succeeded counts as refunded (the customer gets the e-mail), a failed one is marked failed (a
        refund's money is freed for a later refund). The audit entry names the person and the note.

        Moves money in the books, so it needs ``approval``: without it nothing changes but an approval
        request, and the result is the preview. A row that is no longer pending (the gateway settled it
        meanwhile) is reported as it is, and nothing changes.
        """
        row_id = canonical_id(request.payment_id, PAYMENT_ID_PREFIX) or canonical_id(
            request.payment_id, REFUND_ID_PREFIX
        )
        if row_id is None:
            return Malformed(
                f"'{request.payment_id[:80]}' is not a payment or refund id (pay_… or ref_… followed by 26 letters "
                "and digits)",
                field="payment_id",
            )
        async with self._uow(write=not isinstance(approval, PreviewOnly)) as uow:
            found = await self._settleable(uow, row_id, request)
            if not isinstance(found, HandSettlement):
                return found
            row = found.row
            bound = request_hash(
                request.model_dump(mode="json")
                | {"payment_id": row.id, "status": row.status, "stored_reference": row.gateway_reference}
            )
            money = format_money(row.amount_minor, row.currency)
            asked = Asked(
                SETTLE,
                arguments=request_hash(request.model_dump(mode="json")),
                bound=bound,
                summary=f"Settle card {row.kind} {row.id} ({money}) of order {row.order_id} by hand: {request.outcome}",
                subject_id=row.id,
                actor=actor,
            )
            gate = await self._approvals.gate(uow, asked, approval, found)
            if not isinstance(gate, GoAhead):
                return gate
            actor = gate.actor
            settled = await self._cards.settle_by_hand(
                uow,
                row,
                succeeded=request.outcome == "succeeded",
                gateway_reference=found.gateway_reference,
                note=request.note,
                actor=actor,
            )
            if settled is not None:
                await uow.commit()
                return Success(replace(found, row=settled.row, order=settled.order, done=True))
        # Settled by someone else between the check and the change: report it as it is.
        async with self._uow(write=False) as uow:
            stored = await uow.payments.get(row.id)
        return _not_pending(stored or row)

    async def _settleable(
        self, uow: EventfulUnitOfWork, row_id: str, request: PaymentSettle
    ) -> HandSettlement | NotFound | Rejected:
        """The preview of settling ``row_id`` by hand, or why it cannot be."""
        row = await uow.payments.get(row_id)
        order = await uow.orders.get(row.order_id) if row is not None else None
        if row is None or order is None:
            return NotFound("payment" if row_id.startswith(PAYMENT_ID_PREFIX) else "refund", f"id {row_id}")
        what = "payment" if row.kind == "payment" else "refund"
        if row.method != "card":
            return Rejected(
                f"{what} {row.id} is a {row.method} {what}, not a card one: only card payments and card refunds left "
                "pending at the payment gateway are settled by hand. Nothing was changed",
                field="payment_id",
            )
        if row.status != "pending":
            return _not_pending(row)
        given = request.gateway_reference
        if given is not None and given.startswith("pi_") != (row.kind == "payment"):
            expected = "the payment intent's id (pi_…)" if row.kind == "payment" else "the refund's id (re_…)"
            return Rejected(
                f"'{given}' cannot be the gateway reference of card {what} {row.id}: that is {expected}, as the "
                "gateway's dashboard shows it",
                field="gateway_reference",
            )
        if given is not None and row.gateway_reference is not None and given != row.gateway_reference:
            return Rejected(
                f"card {what} {row.id} is {row.gateway_reference} at the gateway, not {given}: check the gateway's "
                "dashboard again. Nothing was changed",
                field="gateway_reference",
            )
        if row.kind == "payment" and request.outcome == "succeeded" and given is None:
            return Rejected(
                f"to settle card payment {row.id} as succeeded, give its gateway reference: the payment intent's id "
                "(pi_…) as the gateway's dashboard shows it",
                field="gateway_reference",
            )
        return HandSettlement(
            row=row,
            order=order,
            outcome=request.outcome,
            gateway_reference=given or row.gateway_reference,
            note=request.note,
            gateway_may_answer=self._clock.now() - row.created_at <= KEY_LIFETIME,
        )


def _not_pending(row: Payment) -> Rejected:
    """A row that is settled already, as it is: nothing to settle by hand."""
    what = "card payment" if row.kind == "payment" else "card refund"
    reference = f" (gateway reference {row.gateway_reference})" if row.gateway_reference else ""
    why = f": {row.reason}" if row.status == "failed" and row.reason else ""
    return Rejected(
        f"{what} {row.id} is not pending any more: it {row.status}{reference}{why}. There is nothing to settle "
        "by hand; nothing was changed",
        field="payment_id",
    )
