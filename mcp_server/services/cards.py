"""Card money through the payment gateway: charge a pending payment, refund a pending refund, settle.

Every card charge or card refund is first written as a ``pending`` row (by the use case, in
its own transaction); only then is the gateway called, outside any transaction, with the
row's id as the idempotency key. The gateway's answer settles the row in a second
transaction: ``succeeded`` moves the money on the order, ``failed`` releases it. When the
gateway cannot be reached the row stays ``pending``; ``resume`` sends the very same request
again later, with the same key, so the gateway answers with what it did the first time and a
card is charged (or refunded) at most once per row.

Only one request at a time asks the gateway about a row: it first takes the row's lease in a
short transaction, and drops it once the answer is booked (or none came). Any other request that
finds the row meanwhile (a retry, a refund of the same order, the background settler) sends
nothing and answers "pending". A lease whose holder died runs out by itself after ``LEASE``.

A row that asking again (``resume``) left pending rests before the background round asks about it
again: 1 min, doubling, at most 1 h (``utils.schedule``). The rest is stored with the row, so every
process and use case (a refund, a cancel, the settler) keeps to the same schedule.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta

from mcp_server.models.payments import LEASE_ID_PREFIX, Payment
from mcp_server.models.payments_gateway import (
    CardDeclined,
    GatewayPayment,
    GatewayRefund,
    GatewayRejected,
    GatewayUnavailable,
    PaymentOutcome,
    RefundOutcome,
)
from mcp_server.services.card_booking import AuditDetails, CardBooks, Settled
from mcp_server.services.ports import Clock, IdFactory, PaymentGateway, UnitOfWork, UnitOfWorkFactory
from mcp_server.services.unit_of_work import EventfulUnitOfWork, with_events
from mcp_server.utils.schedule import next_attempt

NO_GATEWAY = (
    "card payments are not available: no payment gateway is configured (the shop's owner sets "
    "SHOPKEEPER_STRIPE_SECRET_KEY); record the payment as cash, bank_transfer or other instead"
)
# Gateway words for a payment intent that will not take money without the customer.
_CHARGE_DONE = frozenset({"succeeded"})
_CHARGE_WAITING = frozenset({"processing"})
_REFUND_DONE = frozenset({"succeeded", "pending"})  # "pending": accepted, the bank is paying it back
_AUTH_REFUSALS = frozenset({401, 403})  # checked before the gateway looks at the idempotency key
REST_FIRST = timedelta(minutes=1)
REST_MAX = timedelta(hours=1)
KEY_LIFETIME = timedelta(hours=23)
"""How long a row may be asked about again with its key. Stripe keeps idempotency keys for 24
hours; after that the same request would be a new one and could charge twice."""
LEASE = timedelta(minutes=3)
"""How long one request holds a pending row while it asks the gateway: longer than the gateway
client's worst case (3 tries of at most 50 s each, the HTTP client's pool, connect, write and read
timeouts, plus up to 4 s between tries), so a live holder keeps it and a dead one's runs out."""
BUSY = (
    "another request is asking the payment gateway about it right now; nothing was sent twice; "
    "call again in a few seconds"
)


def gateway_key(row: Payment) -> str:
    """The idempotency key for a row's gateway request: the same on every attempt, ever."""
    return f"shopkeeper-{row.id}"


class CardDesk:
    """Talks to the gateway for pending card rows and settles them on the order."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdFactory, gateway: PaymentGateway | None) -> None:
        self._uow = with_events(uow, clock, ids)
        self._clock = clock
        self._ids = ids
        self._gateway = gateway
        self._books = CardBooks(clock)

    @property
    def available(self) -> bool:
        return self._gateway is not None

    async def pending_for(self, uow: UnitOfWork, order_id: str) -> list[Payment]:
        return [p for p in await uow.payments.for_order(order_id) if p.status == "pending" and p.method == "card"]

    def due(self, rows: Sequence[Payment]) -> list[Payment]:
        """The rows not resting after staying pending (the background round asks only about these), so
        rows the gateway keeps answering the same way do not crowd out newer ones."""
        now = self._clock.now()
        return [r for r in rows if r.next_attempt_at is None or r.next_attempt_at <= now]

    async def resume(self, rows: Sequence[Payment], *, actor: str) -> list[Settled]:
        """Ask the gateway again about each pending row, with its first key; settle what it answers."""
        settled: list[Settled] = []
        for row in rows:
            if row.kind == "payment":
                done = await self.charge(row, actor=actor, resent=True)
            else:
                done = await self.refund(row, actor=actor, resent=True)
            if done.pending and not done.busy:  # a busy row was not asked: its holder settles it, or it is due
                await self._rest(done.row)
            settled.append(done)
        return settled

    async def _rest(self, row: Payment) -> None:
        """Store when to ask again about ``row`` (as stored now), which asking again left pending."""
        attempts = row.attempts + 1
        at = self._clock.now() + next_attempt(attempts, first=REST_FIRST, cap=REST_MAX)
        async with self._uow(write=True) as uow:
            await uow.payments.rest(row.id, attempts=attempts, next_attempt_at=at)
            await uow.commit()

    async def charge(self, payment: Payment, *, actor: str, resent: bool = False) -> Settled:
        """Charge a pending card payment's saved payment method (its ``reference``).

        ``resent``: it may have been sent before (then an answer that is not the gateway's replay of
        the first one, such as a 401 for a rolled key, says nothing about what the first one did).
        A payment the gateway already named (``processing`` earlier) is looked up instead of resent.
        """
        gateway, saved_card = self._gateway, payment.reference
        if gateway is None or saved_card is None:
            return await self._unchanged(payment, NO_GATEWAY)
        if self._too_old(payment):
            return await self._unchanged(payment, _too_old_note(payment), needs_person=True)

        async def ask() -> Settled:
            outcome: PaymentOutcome
            if payment.gateway_reference is not None:
                looked_up = await gateway.retrieve_payment(payment.gateway_reference)
                outcome = (
                    looked_up if not isinstance(looked_up, GatewayRejected) else GatewayUnavailable(looked_up.message)
                )
            else:
                outcome = await gateway.create_and_confirm_payment(
                    payment.amount_minor,
                    payment.currency,
                    saved_card,
                    gateway_key(payment),
                    {"order_id": payment.order_id, "payment_id": payment.id},
                )
            return await self._settle_charge(payment, outcome, actor, resent)

        return await self._holding(payment, ask)

    async def refund(self, refund: Payment, *, actor: str, resent: bool = False) -> Settled:
        """Refund a pending card refund from its payment at the gateway: its id and amount, and the
        order and refund ids as metadata (a webhook about the refund names the row by them)."""
        gateway = self._gateway
        if gateway is None:
            return await self._unchanged(refund, NO_GATEWAY)
        if self._too_old(refund):
            return await self._unchanged(refund, _too_old_note(refund), needs_person=True)

        async def ask() -> Settled:
            async with self._uow(write=False) as uow:
                paid_by = await uow.payments.get(refund.payment_id) if refund.payment_id else None
            if paid_by is None or paid_by.gateway_reference is None:
                outcome: RefundOutcome = GatewayRejected(0, None, "the refunded payment has no gateway reference")
            else:
                outcome = await gateway.refund(
                    paid_by.gateway_reference,
                    refund.amount_minor,
                    gateway_key(refund),
                    {"order_id": refund.order_id, "refund_id": refund.id},
                )
            return await self._settle_refund(refund, outcome, actor, resent)

        return await self._holding(refund, ask)

    async def _holding(self, row: Payment, ask: Callable[[], Awaitable[Settled]]) -> Settled:
        """Run ``ask`` (the gateway call and its booking) only while holding the row's lease.

        When another request holds it, nothing is sent: the row is reported as it is, ``busy`` if
        still pending. The lease is dropped when the row stays pending (or ``ask`` fails); booking
        an answer drops it with the settle. If this process dies or is cancelled, it runs out after ``LEASE``.
        """
        claim = self._ids.new(LEASE_ID_PREFIX)
        now = self._clock.now()
        async with self._uow(write=True) as uow:
            held = await uow.payments.claim(row.id, claim=claim, now=now, lease_until=now + LEASE)
            if held:
                await uow.commit()
        if not held:
            settled = await self._unchanged(row, BUSY)
            return replace(settled, busy=True) if settled.pending else settled
        try:
            answered = await ask()
        except Exception:
            await self._release(row, claim)
            raise
        # A cancelled call (the server stopping) keeps its lease: writing while cancelled would
        # leave a half-closed connection behind, and the lease runs out by itself as a dead one's does.
        if answered.pending:
            await self._release(row, claim)
        return answered

    async def _release(self, row: Payment, claim: str) -> None:
        async with self._uow(write=True) as uow:
            await uow.payments.release(row.id, claim)
            await uow.commit()

    def _too_old(self, row: Payment) -> bool:
        return self._clock.now() - row.created_at > KEY_LIFETIME

    # -- settling -----------------------------------------------------------------------------------

    async def _settle_charge(self, payment: Payment, outcome: PaymentOutcome, actor: str, resent: bool) -> Settled:
        note: str | None
        if resent and isinstance(outcome, GatewayRejected) and outcome.status in _AUTH_REFUSALS:
            return await self._unchanged(payment, _auth_note(outcome), unanswered=True)
        match outcome:
            case GatewayPayment(status=status) if status in _CHARGE_DONE:
                if outcome.amount_minor != payment.amount_minor or outcome.currency != payment.currency:
                    # Never book money the gateway did not take: leave it for a person to check.
                    return await self._unchanged(
                        payment,
                        f"the gateway charged {outcome.amount_minor} {outcome.currency} for payment {payment.id}, "
                        f"not {payment.amount_minor} {payment.currency}; it stays pending: {for_a_person(payment)}",
                        needs_person=True,
                    )
                return await self._charged(payment, outcome, actor)
            case GatewayPayment(status=status) if status in _CHARGE_WAITING:
                # Resending would replay this first answer for ever: keep the id and look it up next time.
                async with self._uow(write=True) as uow:
                    await uow.payments.settle(payment.id, status="pending", gateway_reference=outcome.id, reason=None)
                    await uow.commit()
                return await self._unchanged(payment, "the gateway is still processing the card payment")
            case GatewayPayment(status=status):
                note = f"the card payment was not completed: the gateway says {status}"
                ref = outcome.id
            case CardDeclined():
                note = f"card declined: {outcome.code}"
                if outcome.decline_code and outcome.decline_code != outcome.code:
                    note += f" ({outcome.decline_code})"
                ref = outcome.payment_id
            case GatewayRejected(code="idempotency_error"):
                # The key was used for a different request: what happened to this one is unknown.
                return await self._unchanged(
                    payment,
                    f"the payment gateway refused the key ({outcome.message}): {for_a_person(payment)}",
                    needs_person=True,
                )
            case GatewayRejected():
                note = f"the payment gateway refused the request: {outcome.code or outcome.status} ({outcome.message})"
                ref = None
            case GatewayUnavailable(stored_failure=True):
                return await self._unchanged(payment, _stored_failure_note(payment, outcome), needs_person=True)
            case GatewayUnavailable():
                return await self._unchanged(payment, outcome.reason, unanswered=True)
        return await self._failed(payment, note, ref, actor)

    async def _settle_refund(self, refund: Payment, outcome: RefundOutcome, actor: str, resent: bool) -> Settled:
        if resent and isinstance(outcome, GatewayRejected) and outcome.status in _AUTH_REFUSALS:
            return await self._unchanged(refund, _auth_note(outcome), unanswered=True)
        match outcome:
            case GatewayRefund(status=status) if status in _REFUND_DONE:
                if outcome.amount_minor != refund.amount_minor:
                    return await self._unchanged(
                        refund,
                        f"the gateway refunded {outcome.amount_minor}, not {refund.amount_minor} (minor units), for "
                        f"refund {refund.id}; it stays pending: {for_a_person(refund)}",
                        needs_person=True,
                    )
                return await self._refunded(refund, outcome.id, actor)
            case GatewayRefund(status=status):
                note = f"the gateway did not refund: it says {status}"
                ref = outcome.id
            case GatewayRejected(code="idempotency_error"):
                return await self._unchanged(
                    refund,
                    f"the payment gateway refused the key ({outcome.message}): {for_a_person(refund)}",
                    needs_person=True,
                )
            case CardDeclined() | GatewayRejected():
                code = outcome.code or (outcome.status if isinstance(outcome, GatewayRejected) else None)
                note = f"the payment gateway refused the refund: {code or 'refused'} ({outcome.message})"
                ref = None
            case GatewayUnavailable(stored_failure=True):
                return await self._unchanged(refund, _stored_failure_note(refund, outcome), needs_person=True)
            case GatewayUnavailable():
                return await self._unchanged(refund, outcome.reason, unanswered=True)
        return await self._failed(refund, note, ref, actor)

    async def _charged(self, payment: Payment, outcome: GatewayPayment, actor: str) -> Settled:
        async with self._uow(write=True) as uow:
            done = await self._books.charged(uow, payment, outcome.id, actor)
            if done is None:
                return await self._books.as_it_is(uow, payment)
            await uow.commit()
        return done

    async def _refunded(self, refund: Payment, gateway_id: str, actor: str) -> Settled:
        async with self._uow(write=True) as uow:
            done = await self._books.refunded(uow, refund, gateway_id, actor)
            if done is None:
                return await self._books.as_it_is(uow, refund)
            await uow.commit()
        return done

    async def _failed(self, row: Payment, note: str, gateway_ref: str | None, actor: str) -> Settled:
        async with self._uow(write=True) as uow:
            done = await self._books.failed(uow, row, note, gateway_ref, actor)
            if done is None:
                return await self._books.as_it_is(uow, row)
            await uow.commit()
        return done

    # -- settled by a person ------------------------------------------------------------------------

    async def settle_by_hand(
        self,
        uow: EventfulUnitOfWork,
        row: Payment,
        *,
        succeeded: bool,
        gateway_reference: str | None,
        note: str,
        actor: str,
    ) -> Settled | None:
        """Book what a person read in the gateway's dashboard about a pending card row, exactly as
        if the gateway had answered so, inside the caller's unit of work (the caller commits).

        A payment that succeeded pays the order; a refund that succeeded counts on the order (and
        the customer gets the e-mail); a failed one is marked failed (a refund frees its money on
        its payment). The audit entry says it was settled by hand, and why. None when the row is no
        longer pending: nothing was changed.
        """
        by_hand: AuditDetails = {"settled_by_hand": note}
        if row.kind == "payment" and succeeded:
            if gateway_reference is None:
                raise ValueError("a card payment settled as succeeded needs the gateway's id (pi_…)")
            return await self._books.charged(uow, row, gateway_reference, actor, by_hand)
        if succeeded:
            return await self._books.refunded(uow, row, gateway_reference, actor, by_hand)
        why = f"marked failed by hand: {note}"
        return await self._books.failed(uow, row, why, gateway_reference, actor, extra=by_hand)

    async def _unchanged(
        self, row: Payment, note: str, *, needs_person: bool = False, unanswered: bool = False
    ) -> Settled:
        async with self._uow(write=False) as uow:
            settled = await self._books.as_it_is(uow, row)
        if not settled.pending:
            return settled
        return replace(settled, note=note, needs_person=needs_person, unanswered=unanswered)


def _too_old_note(row: Payment) -> str:
    what = "payment" if row.kind == "payment" else "refund"
    look_for = f"metadata payment_id={row.id} or " if row.kind == "payment" else ""
    return (
        f"card {what} {row.id} has been pending since {row.created_at:%Y-%m-%d %H:%M} UTC, longer than the gateway "
        "remembers its idempotency key, so asking again could move the money twice; a person must look it up in "
        f"the gateway's dashboard ({look_for}idempotency key {gateway_key(row)})"
    )


def for_a_person(row: Payment) -> str:
    """Where a person looks a stuck row up; each door adds how it is then settled by hand (``needs_person``)."""
    what = "payment" if row.kind == "payment" else "refund"
    return f"a person must check card {what} {row.id} in the gateway's dashboard (idempotency key {gateway_key(row)})"


def _auth_note(refused: GatewayRejected) -> str:
    return (
        f"the payment gateway refused the shop's credentials ({refused.status}) when asked again, which says "
        "nothing about the first attempt; it stays pending until SHOPKEEPER_STRIPE_SECRET_KEY works again"
    )


def _stored_failure_note(row: Payment, outcome: GatewayUnavailable) -> str:
    what = "payment" if row.kind == "payment" else "refund"
    return (
        f"{outcome.reason}, so whether card {what} {row.id} went through is unknown and asking again will not tell; "
        + for_a_person(row)
    )
