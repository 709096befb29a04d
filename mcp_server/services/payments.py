"""Payment use cases: record money received or charge a card, list the ledger, refund with a person's confirmation.

Manual payments and refunds are booked in one transaction. Card payments and refunds of card
payments take three steps (see ``services.cards``): a ``pending`` row is committed first, then
the gateway is called with the row's id as idempotency key, then its answer is booked. A card
attempt the gateway could not answer stays pending and is resumed, with the same key, by the
next ``record`` (or ``refund``) for the same order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta, tzinfo
from functools import partial
from typing import Literal

from mcp_server.models.common import Page
from mcp_server.models.customers import Customer
from mcp_server.models.orders import ALLOWED_ACTIONS, ORDER_ID_PREFIX, Order
from mcp_server.models.payments import (
    PAYMENT_ID_PREFIX,
    REFUND_ID_PREFIX,
    Payment,
    PaymentCreate,
    PaymentQuery,
    PaymentSettle,
    RefundCreate,
)
from mcp_server.services.audit import AuditRecorder
from mcp_server.services.cards import KEY_LIFETIME, NO_GATEWAY, CardDesk
from mcp_server.services.ledger import (
    allocate,
    book_payment,
    order_mail,
    pay_back,
    restock_all,
    returned,
    still_pending,
    units_to_restock,
)
from mcp_server.services.orders import not_an_order_id
from mcp_server.services.pagination import page_of, resume_after
from mcp_server.services.ports import Clock, IdFactory, PaymentGateway, UnitOfWork, UnitOfWorkFactory
from mcp_server.services.reports import day_bounds
from mcp_server.services.requests import (
    Approval,
    ConfirmationTokens,
    NeedsConfirmation,
    redeem,
    remember,
    replay,
    request_hash,
)
from mcp_server.services.results import (
    Conflict,
    IllegalTransition,
    NotFound,
    Rejected,
    Success,
    unavailable_when_busy,
)
from mcp_server.utils.ids import canonical_id
from mcp_server.utils.money import format_money

SETTLE_AFTER = timedelta(minutes=1)
SETTLE_BATCH = 20
RECORD = "payments_record"
REFUND = "payments_refund"
SETTLE = "payments_settle"
_CURSOR_KIND = "payments"


@dataclass(frozen=True, slots=True)
class Recorded:
    payment: Payment
    order: Order
    replayed: bool = False
    resumed: bool = False  # this call completed an earlier pending card payment instead of starting one


@dataclass(frozen=True, slots=True)
class CardNotCharged:
    """A card payment the gateway did not complete: failed (nothing charged) or still pending
    (unknown yet; resuming it later cannot charge twice). The order's paid amount is unchanged."""

    payment: Payment
    order: Order
    reason: str
    resumed: bool = False
    needs_person: bool = False  # pending, and asking the gateway again will not settle it

    @property
    def pending(self) -> bool:
        return self.payment.status == "pending"


@dataclass(frozen=True, slots=True)
class SettleRound:
    """What one background round of asking the gateway about pending card rows found."""

    succeeded: int = 0
    failed: int = 0
    pending: int = 0
    for_a_person: tuple[str, ...] = ()  # why rows that asking again will not settle are stuck
    busy: int = 0  # left alone: another request was asking the gateway about them (not in ``pending``)

    @property
    def handled(self) -> int:
        return self.succeeded + self.failed


@dataclass(frozen=True, slots=True)
class _Charge:
    """A pending card payment to send to the gateway, once the transaction that wrote it is over."""

    payment: Payment
    resumed: bool


@dataclass(frozen=True, slots=True)
class RefundPlan:
    """A refund, previewed or done: which payments give back how much, and what goes back to stock."""

    order: Order
    customer: Customer | None
    amount_minor: int
    restock_units: int
    reason: str
    restock: bool
    refunds: tuple[Payment, ...] = ()
    replayed: bool = False
    refunded_before: int | None = None  # set once done: what had been refunded before this one

    @property
    def earlier_refunds(self) -> int:
        return self.order.refunded_minor if self.refunded_before is None else self.refunded_before

    def describe(self) -> str:
        """One sentence a person can say yes or no to."""
        who = f"{self.customer.name} <{self.customer.email}>" if self.customer else self.order.customer_id
        stock = (
            f"{self.restock_units} unit(s) go back into stock"
            if self.restock and self.restock_units
            else "nothing goes back into stock"
        )
        return (
            f"Refund {format_money(self.amount_minor, self.order.currency)} of order {self.order.id} "
            f"(total {format_money(self.order.total_minor, self.order.currency)}, "
            f"paid {format_money(self.order.paid_minor, self.order.currency)}, "
            f"already refunded {format_money(self.earlier_refunds, self.order.currency)}) "
            f"to {who}; reason: {self.reason}; {stock}."
        )


@dataclass(frozen=True, slots=True)
class HandSettlement:
    """A pending card payment or refund a person settles by hand: the preview, or (``done``) what was booked."""

    row: Payment  # pending in a preview; as settled once done
    order: Order
    outcome: Literal["succeeded", "failed"]
    gateway_reference: str | None
    note: str
    gateway_may_answer: bool = False  # young enough that the gateway could still settle it by itself
    done: bool = False

    def describe(self) -> str:
        """One sentence a person can say yes or no to."""
        row, order = self.row, self.order
        money = format_money(row.amount_minor, row.currency)
        what = "card payment" if row.kind == "payment" else "card refund"
        reference = f" (gateway reference {self.gateway_reference})" if self.gateway_reference else ""
        if row.kind == "payment" and self.outcome == "succeeded":
            effect = f"order {order.id} counts {money} more as paid"
        elif row.kind == "payment":
            effect = f"nothing is counted as paid, and order {order.id} can take another payment or be cancelled"
        elif self.outcome == "succeeded":
            mail = " and the customer gets an e-mail" if order.status != "cancelled" else ""
            effect = f"order {order.id} counts {money} more as refunded{mail}"
        else:
            effect = f"nothing is counted as refunded, and the {money} can be refunded again"
        warning = (
            f" It was sent to the gateway less than {int(KEY_LIFETIME.total_seconds() // 3600)} hours ago, so the "
            "gateway may still settle it by itself: be sure of what its dashboard shows."
            if self.gateway_may_answer
            else ""
        )
        return (
            f"Settle {what} {row.id} of {money} for order {order.id} (pending since "
            f"{row.created_at:%Y-%m-%d %H:%M} UTC) by hand as {self.outcome}{reference}: {effect}; "
            f"note: {self.note}.{warning}"
        )


class PaymentService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdFactory,
        tokens: ConfirmationTokens,
        timezone: tzinfo,
        gateway: PaymentGateway | None = None,
        *,
        cards: CardDesk | None = None,
    ) -> None:
        """``cards``: the process's one card desk (the entrypoint's); without it one is made on ``gateway``."""
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._tokens = tokens
        self._timezone = timezone
        self._audit = AuditRecorder(clock, ids)
        self._cards = cards or CardDesk(uow, clock, ids, gateway)

    @property
    def cards_available(self) -> bool:
        return self._cards.available

    @unavailable_when_busy
    async def record(
        self, request: PaymentCreate, *, actor: str, idempotency_key: str | None = None
    ) -> Success[Recorded] | CardNotCharged | NotFound | Rejected | Conflict | IllegalTransition:
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
        uow: UnitOfWork,
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
        if "pay" not in ALLOWED_ACTIONS[order.status]:
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
            await self._audit.record(
                uow,
                actor=actor,
                action="payment.started",
                entity_type="order",
                entity_id=order.id,
                before=order.audit_state(),
                after=order.audit_state()
                | {
                    "payment_id": payment.id,
                    "amount_minor": amount,
                    "method": "card",
                    "payment_method": payment.reference,
                },
            )
            await remember(uow, RECORD, idempotency_key, digest, (payment.id,), now)
            await uow.commit()
            return _Charge(payment, resumed=False)
        return await self._book(uow, order, payment, actor, idempotency_key, digest)

    async def _book(
        self, uow: UnitOfWork, order: Order, payment: Payment, actor: str, idempotency_key: str | None, digest: str
    ) -> Success[Recorded]:
        now = payment.created_at
        updated = await book_payment(uow, self._audit, order, payment, actor=actor, at=now)
        await remember(uow, RECORD, idempotency_key, digest, (payment.id,), now)
        await uow.commit()
        return Success(Recorded(payment, updated))

    async def _recorded_again(self, uow: UnitOfWork, payment_id: str) -> Success[Recorded] | NotFound:
        payment = await uow.payments.get(payment_id)
        order = await uow.orders.get(payment.order_id) if payment else None
        if payment is None or order is None:
            return NotFound("payment", f"id {payment_id}")
        return Success(Recorded(payment, order, replayed=True))

    @unavailable_when_busy
    async def settle_pending(
        self, *, actor: str, min_age: timedelta = SETTLE_AFTER, limit: int = SETTLE_BATCH
    ) -> SettleRound:
        """Ask the gateway again about card payments and refunds left pending for at least
        ``min_age`` (nobody called again after the gateway did not answer), with their first
        keys, so they settle without anyone asking. Rows older than the gateway remembers keys
        are left for a person; rows another request is asking the gateway about are left to it (``busy``)."""
        if not self._cards.available:
            return SettleRound()
        now = self._clock.now()
        async with self._uow(write=False) as uow:
            rows = await uow.payments.pending_between(now - KEY_LIFETIME, now - min_age, limit * 5)
        due = self._cards.due([r for r in rows if r.method == "card"])[:limit]
        settled = await self._cards.resume(due, actor=actor)
        statuses = [s.row.status for s in settled if not s.busy]
        stuck = tuple(s.note or "" for s in settled if s.needs_person)
        busy = sum(s.busy for s in settled)
        return SettleRound(
            statuses.count("succeeded"), statuses.count("failed"), statuses.count("pending"), stuck, busy
        )

    @unavailable_when_busy
    async def settle_by_hand(
        self, request: PaymentSettle, *, actor: str, approval: Approval
    ) -> Success[HandSettlement] | NeedsConfirmation[HandSettlement] | NotFound | Rejected:
        """Settle a card payment or refund left pending, as a person found it in the gateway's dashboard.

        For the rows the gateway cannot settle by being asked again (pending for longer than it keeps
        idempotency keys, answered for another amount, a key it says was used elsewhere). The effect
        is that of the gateway's own answer: a payment that succeeded pays the order, a refund that
        succeeded counts as refunded (the customer gets the e-mail), a failed one is marked failed (a
        refund's money is freed for a later refund). The audit entry names the person and the note.

        Moves money in the books, so it needs ``approval``: without it nothing changes and the result
        is a preview with a single-use token. A row that is no longer pending (the gateway settled it
        meanwhile) is reported as it is, and nothing changes.
        """
        row_id = canonical_id(request.payment_id, PAYMENT_ID_PREFIX) or canonical_id(
            request.payment_id, REFUND_ID_PREFIX
        )
        if row_id is None:
            return Rejected(
                f"'{request.payment_id[:80]}' is not a payment or refund id (pay_… or ref_… followed by 26 letters "
                "and digits)",
                field="payment_id",
            )
        async with self._uow(write=approval is not None) as uow:
            found = await self._settleable(uow, row_id, request)
            if not isinstance(found, HandSettlement):
                return found
            row = found.row
            bound = request_hash(
                request.model_dump(mode="json")
                | {"payment_id": row.id, "status": row.status, "stored_reference": row.gateway_reference}
            )
            if approval is None:
                token, expires = self._tokens.issue(SETTLE, bound)
                return NeedsConfirmation(found, token, expires)
            if refused := await redeem(uow, self._tokens, approval, SETTLE, bound):
                return refused
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
        self, uow: UnitOfWork, row_id: str, request: PaymentSettle
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

    @unavailable_when_busy
    async def list(self, query: PaymentQuery) -> Success[Page[Payment]] | Rejected:
        order_id = query.order_id
        if order_id is not None:
            order_id = canonical_id(order_id, ORDER_ID_PREFIX)
            if order_id is None:
                return not_an_order_id(query.order_id or "")
        if query.date_from and query.date_to and query.date_from > query.date_to:
            return Rejected("the first day (date_from) is after the last day (date_to)", field="date_from")
        filters = {
            "order_id": order_id,
            "from": query.date_from.isoformat() if query.date_from else None,
            "to": query.date_to.isoformat() if query.date_to else None,
        }
        after = resume_after(query.cursor, _CURSOR_KIND, filters, int)
        if isinstance(after, Rejected):
            return after
        start, end = day_bounds(query.date_from, query.date_to, self._timezone)
        async with self._uow(write=False) as uow:
            rows = await uow.payments.page_after(
                order_id=order_id, created_from=start, created_to=end, after_sequence=after, limit=query.limit + 1
            )
        return Success(page_of(rows, query.limit, _CURSOR_KIND, filters, key=lambda p: p.sequence))

    # -- refunds ---------------------------------------------------------------------------

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
    ) -> Success[RefundPlan] | NeedsConfirmation[RefundPlan] | NotFound | Rejected | Conflict | IllegalTransition:
        """Give money back (never more than paid minus refunded), optionally restocking the order.

        Needs ``approval``: without it nothing changes and the result is a preview with a
        single-use confirmation token bound to these arguments and the order as it is now.

        The part that comes from card payments is refunded through the gateway after the
        refund is committed as pending; a part the gateway could not be asked about stays
        pending (its money stays reserved) and is sent again, with the same key, by the next
        refund for the order (or a retry with the same ``idempotency_key``).
        """
        # First settle what earlier refunds of the order left pending at the gateway.
        moved = await self._resume_refunds_of(request, actor) if approval is not None else set[str]()
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
        uow: UnitOfWork,
        request: RefundCreate,
        actor: str,
        approval: Approval,
        idempotency_key: str | None,
    ) -> Success[RefundPlan] | NeedsConfirmation[RefundPlan] | NotFound | Rejected | Conflict | IllegalTransition:
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
        if approval is None:
            token, expires = self._tokens.issue(REFUND, bound)
            return NeedsConfirmation(plan, token, expires)
        if refused := await redeem(uow, self._tokens, approval, REFUND, bound):
            return refused
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
        refunded = order.refunded_minor + given_back
        updated = replace(
            order,
            refunded_minor=refunded,
            status="refunded" if refunded == order.paid_minor and order.status != "cancelled" else order.status,
            updated_at=now,
        )
        await uow.orders.update(updated)
        pending = still_pending(refunds)
        await self._audit.record(
            uow,
            actor=actor,
            action="payment.refund_started" if pending else "payment.refunded",
            entity_type="order",
            entity_id=order.id,
            before=plan.order.audit_state(),
            after=updated.audit_state()
            | {
                "refund_ids": " ".join(r.id for r in refunds),
                "amount_minor": request.amount,
                "reason": request.reason,
                "restocked_units": restocked_units,
            }
            | ({"pending_minor": request.amount - given_back} if pending else {}),
        )
        if plan.customer is not None and given_back:
            await uow.outbox.add(
                order_mail(self._ids, "order_refunded", plan.customer, updated, now, refund_minor=given_back)
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
                return Rejected(
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
        if "refund" not in order.allowed:
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


def _normalised(request: RefundCreate) -> dict[str, object]:
    """The request as the key check compares it: ids in any letter case are the same call."""
    data = request.model_dump(mode="json")
    if request.order_id is not None:
        data["order_id"] = canonical_id(request.order_id, ORDER_ID_PREFIX) or request.order_id
    if request.payment_id is not None:
        data["payment_id"] = canonical_id(request.payment_id, PAYMENT_ID_PREFIX) or request.payment_id
    return data
