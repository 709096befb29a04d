"""Refunds: money back (never more than paid minus refunded), with a person's confirmation.

A manual payment's share is booked in one transaction. The share that comes from card payments
is committed as pending refunds, then sent to the gateway (see ``services.cards``); a part the
gateway could not be asked about stays pending, its money reserved, and is sent again with the
same key by the next refund of the order.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from mcp_server.models.events import PaymentRefunded, RefundStarted
from mcp_server.models.orders import ORDER_ID_PREFIX
from mcp_server.models.payments import PAYMENT_ID_PREFIX, Payment, RefundCreate
from mcp_server.services.approvals import (
    REFUND,
    Approval,
    ApprovalGiven,
    Asked,
    GoAhead,
    NeedsApproval,
    PersonConfirmed,
)
from mcp_server.services.ledger import (
    allocate,
    pay_back,
    restock_all,
    returned,
    still_pending,
    units_to_restock,
)
from mcp_server.services.order_lookup import not_an_order_id
from mcp_server.services.payments.base import UseCase
from mcp_server.services.payments.outcomes import RefundPlan
from mcp_server.services.ports import UnitOfWork
from mcp_server.services.requests import remember, replay, request_hash
from mcp_server.services.results import (
    Conflict,
    IllegalTransition,
    Malformed,
    NotFound,
    Rejected,
    Success,
    unavailable_when_busy,
)
from mcp_server.services.unit_of_work import EventfulUnitOfWork
from mcp_server.utils.ids import canonical_id
from mcp_server.utils.money import format_money

RefundResult = Success[RefundPlan] | NeedsApproval[RefundPlan] | NotFound | Rejected | Conflict | IllegalTransition


class Refunds(UseCase):
    """``payments_refund``: preview, confirm, give back; card parts through the gateway."""

    @unavailable_when_busy
    async def was_refunded_with(self, request: RefundCreate, idempotency_key: str) -> bool:
        """True when this key already made exactly this refund (a retry to replay, not to confirm)."""
        async with self._uow(write=False) as uow:
            earlier = await replay(uow, REFUND, idempotency_key, request_hash(_normalised(request)))
        return isinstance(earlier, tuple)

    @unavailable_when_busy
    async def preview_refund(
        self, request: RefundCreate
    ) -> Success[RefundPlan] | NotFound | Rejected | IllegalTransition:
        """What ``refund`` would do, for a person to confirm; changes nothing."""
        async with self._uow(write=False) as uow:
            planned = await self._plan(uow, request)
        if isinstance(planned, tuple):
            return Success(planned[0])
        return planned

    @unavailable_when_busy
    async def refund(
        self, request: RefundCreate, *, actor: str, approval: Approval, idempotency_key: str | None = None
    ) -> RefundResult:
        """Give money back (never more than paid minus refunded), optionally restocking the order.

        Needs ``approval``: without it nothing changes but an approval request, bound to these
        arguments and the order as it is now, and the result is its preview.

        The part that comes from card payments is refunded through the gateway after the
        refund is committed as pending; a part the gateway could not be asked about stays
        pending (its money stays reserved) and is sent again, with the same key, by the next
        refund for the order (or a retry with the same ``idempotency_key``).
        """
        # First settle what earlier refunds of the order left pending at the gateway.
        goes_ahead = isinstance(approval, ApprovalGiven | PersonConfirmed) or (
            approval is None and not self._approvals.required
        )
        moved = await self._resume_refunds_of(request, actor) if goes_ahead else set[str]()
        async with self._uow(write=True) as uow:
            done = await self._refund_in(uow, request, actor, approval, idempotency_key)
        if not isinstance(done, Success):
            return done
        plan = done.value
        if plan.replayed and any(r.id in moved for r in plan.refunds):
            plan = replace(plan, replayed=False)  # this retry completed the first call's card refund
        return Success(await self._send_card_refunds(plan, actor))

    async def _resume_refunds_of(self, request: RefundCreate, actor: str) -> set[str]:
        """Resume the order's pending card refunds; the ids of those that settled."""
        if not self._cards.available:
            return set()
        async with self._uow(write=False) as uow:
            order_id = canonical_id(request.order_id, ORDER_ID_PREFIX) if request.order_id else None
            if request.payment_id is not None:
                payment_id = canonical_id(request.payment_id, PAYMENT_ID_PREFIX)
                paid = await uow.payments.get(payment_id) if payment_id else None
                order_id = paid.order_id if paid else None
            pending = (
                [r for r in await self._cards.pending_for(uow, order_id) if r.kind == "refund"] if order_id else []
            )
        return {s.row.id for s in await self._cards.resume(pending, actor=actor) if not s.pending}

    async def _refund_in(
        self,
        uow: EventfulUnitOfWork,
        request: RefundCreate,
        actor: str,
        approval: Approval,
        idempotency_key: str | None,
    ) -> Success[RefundPlan] | NeedsApproval[RefundPlan] | NotFound | Rejected | Conflict | IllegalTransition:
        digest = request_hash(_normalised(request))
        earlier = await replay(uow, REFUND, idempotency_key, digest)
        if isinstance(earlier, Conflict):
            return earlier
        if earlier is not None:
            return await self._refunded_again(uow, request, earlier)
        planned = await self._plan(uow, request)
        if not isinstance(planned, tuple):
            return planned
        plan, payments = planned
        # The token also binds the order's state: after another refund it no longer fits.
        bound = request_hash(
            request.model_dump(mode="json")
            | {
                "order": plan.order.id,
                "refunded": plan.order.refunded_minor,
                "reserved": sum(p.refunded_minor for p in payments),
            }
        )
        asked = Asked(
            REFUND, arguments=digest, bound=bound, summary=plan.describe(), subject_id=plan.order.id, actor=actor
        )
        gate = await self._approvals.gate(uow, asked, approval, plan)
        if not isinstance(gate, GoAhead):
            return gate
        actor = gate.actor
        now = self._clock.now()
        order = plan.order
        restocked_units = 0
        if request.restock:
            order, restocked_units = await restock_all(uow, order, now)
        refunds = await pay_back(
            uow,
            self._ids,
            allocate(payments, request.amount),
            reason=request.reason,
            restock=request.restock,
            at=now,
        )
        given_back = returned(refunds)  # card refunds count once the gateway has made them
        updated = order.refund(given_back, now)
        await uow.orders.update(updated)
        refunded = RefundStarted if still_pending(refunds) else PaymentRefunded
        uow.raise_event(
            refunded(
                actor,
                plan.order,
                updated,
                tuple(refunds),
                request.amount,
                request.reason,
                restocked_units,
                plan.customer,
            )
        )
        await remember(uow, REFUND, idempotency_key, digest, tuple(r.id for r in refunds), now)
        await uow.commit()
        return Success(
            replace(
                plan,
                order=updated,
                restock_units=restocked_units,
                refunds=tuple(refunds),
                refunded_before=plan.order.refunded_minor,
            )
        )

    async def _send_card_refunds(self, plan: RefundPlan, actor: str) -> RefundPlan:
        """Send the order's pending card refunds (this one's and any left from before) to the gateway."""
        async with self._uow(write=False) as uow:
            pending = [r for r in await self._cards.pending_for(uow, plan.order.id) if r.kind == "refund"]
        if not pending:
            return plan
        settled = {s.row.id: s.row for s in await self._cards.resume(pending, actor=actor)}
        async with self._uow(write=False) as uow:
            order = await uow.orders.get(plan.order.id) or plan.order
        refunds = tuple(settled.get(r.id, r) for r in plan.refunds)
        # A retry with the key that completed this refund's pending part did change something.
        moved = any(r.status != s.status for r, s in zip(plan.refunds, refunds, strict=True))
        return replace(plan, order=order, refunds=refunds, replayed=plan.replayed and not moved)

    async def _plan(
        self, uow: UnitOfWork, request: RefundCreate
    ) -> tuple[RefundPlan, list[Payment]] | NotFound | Rejected | IllegalTransition:
        if (request.order_id is None) == (request.payment_id is None):
            return Rejected("give exactly one of order_id or payment_id", field="order_id")
        only: Payment | None = None
        if request.payment_id is not None:
            payment_id = canonical_id(request.payment_id, PAYMENT_ID_PREFIX)
            if payment_id is None:
                return Malformed(
                    f"'{request.payment_id[:80]}' is not a payment id (pay_ followed by 26 letters and digits)",
                    field="payment_id",
                )
            only = await uow.payments.get(payment_id)
            if only is None or only.kind != "payment":
                return NotFound("payment", f"id {payment_id}")
            order_id = only.order_id
        else:
            assert request.order_id is not None
            canonical = canonical_id(request.order_id, ORDER_ID_PREFIX)
            if canonical is None:
                return not_an_order_id(request.order_id)
            order_id = canonical
        order = await uow.orders.get(order_id)
        if order is None:
            return NotFound("order", f"id {order_id}")
        payments = [only] if only is not None else await uow.payments.for_order(order.id)
        refundable = sum(p.refundable_minor for p in payments)
        # A cancelled order still owes money back while its card refund is pending or was refused.
        if not order.may("refund"):
            return IllegalTransition(order.id, order.status, "be refunded", order.allowed)
        if request.restock and order.status == "cancelled":
            return Rejected(
                f"order {order.id} is cancelled: its stock went back when it was cancelled; refund with restock=false",
                field="restock",
            )
        if request.restock and order.status == "paid":
            return Rejected(
                f"order {order.id} has not shipped, so nothing can come back into stock: to take it all back, "
                "cancel the order (it restocks and refunds); otherwise refund with restock=false",
                field="restock",
            )
        if request.amount > refundable:
            money = partial(format_money, currency=order.currency)
            if only is not None:
                detail = f"paid {money(only.amount_minor)}, refunded or being refunded {money(only.refunded_minor)}"
                scope = f"payment {only.id}"
            else:
                held = sum(p.refunded_minor for p in payments) - order.refunded_minor  # card refunds not made yet
                waiting = f", {money(held)} pending at the payment gateway" if held > 0 else ""
                detail = f"paid {money(order.paid_minor)}, refunded {money(order.refunded_minor)}{waiting}"
                scope = f"order {order.id}"
            return Rejected(
                f"{money(request.amount)} is more than can be refunded on {scope}: at most {money(refundable)} "
                f"({detail})",
                field="amount",
            )
        customer = await uow.customers.get(order.customer_id)
        plan = RefundPlan(
            order=order,
            customer=customer,
            amount_minor=request.amount,
            restock_units=units_to_restock(order) if request.restock else 0,
            reason=request.reason,
            restock=request.restock,
        )
        return plan, payments

    async def _refunded_again(
        self, uow: UnitOfWork, request: RefundCreate, refund_ids: tuple[str, ...]
    ) -> Success[RefundPlan] | NotFound:
        refunds = await uow.payments.by_ids(refund_ids)
        order = await uow.orders.get(refunds[0].order_id) if refunds else None
        if not refunds or order is None:
            return NotFound("refund", f"id {refund_ids[0] if refund_ids else '?'}")
        customer = await uow.customers.get(order.customer_id)
        return Success(
            RefundPlan(
                order=order,
                customer=customer,
                amount_minor=sum(r.amount_minor for r in refunds),
                restock_units=0,
                reason=request.reason,
                restock=request.restock,
                refunds=tuple(refunds),
                replayed=True,
                refunded_before=None,
            )
        )


def _normalised(request: RefundCreate) -> dict[str, object]:
    """The request as the key check compares it: ids in any letter case are the same call."""
    data = request.model_dump(mode="json")
    if request.order_id is not None:
        data["order_id"] = canonical_id(request.order_id, ORDER_ID_PREFIX) or request.order_id
    if request.payment_id is not None:
        data["payment_id"] = canonical_id(request.payment_id, PAYMENT_ID_PREFIX) or request.payment_id
    return data
