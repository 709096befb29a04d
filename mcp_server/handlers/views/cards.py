"""Card payments the gateway did not complete, and card rows only a person can settle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mcp_server.models.payments import Payment
from mcp_server.utils.money import format_money

if TYPE_CHECKING:
    from mcp_server.services.cancellation import PaymentStillPending
    from mcp_server.services.card_booking import Settled
    from mcp_server.services.payments import CardNotCharged, Recorded


def settle_by_hand(row: Payment) -> str:
    """The command a person runs once the gateway's dashboard has shown what happened to a pending row.

    No tool settles by hand (a person decides), so every door names this one command."""
    reference = "pi_…" if row.kind == "payment" else "re_…"
    return f'shopkeeper payments settle {row.id} --note "…" --succeeded --gateway-reference {reference} | --failed'


def with_remedy(note: str, row: Payment, *, needs_person: bool) -> str:
    """A service's note on a pending row, plus how a person settles it when asking again cannot."""
    return f"{note}, then run `{settle_by_hand(row)}`" if needs_person else note


def stuck(settled: Settled) -> str:
    """Why a row is left for a person, and the command that settles it (for the worker's log)."""
    return with_remedy(settled.note or "", settled.row, needs_person=settled.needs_person)


def still_pending(result: PaymentStillPending) -> str:
    """An order not cancelled because a card payment of it is pending: what, why, and what to do."""
    waiting = result.waiting
    if waiting is None:  # pragma: no cover - the service always says which payment
        return result.message
    row = waiting.row
    note = with_remedy(waiting.note, row, needs_person=waiting.needs_person) if waiting.note else "no answer yet"
    later = (
        f"a person must settle it first (shopkeeper payments settle {row.id})"
        if waiting.needs_person
        else "try again in a minute"
    )
    return (
        f"card payment {row.id} of order {waiting.order.id} is still pending at the payment gateway ({note}), so "
        f"the order cannot be cancelled yet; nothing was changed: {later}"
    )


@dataclass(frozen=True, slots=True)
class NotCharged:
    """A card payment not completed: ``needs_person`` (only a person can settle it), ``pending``, or ``failed``."""

    state: Literal["needs_person", "pending", "failed"]
    payment_id: str
    order_id: str
    money: str
    owed: str
    reason: str  # with the person's command when ``needs_person``
    resumed: bool  # it was an earlier call's payment; this call charged nothing else
    settle: str | None  # the command that settles it by hand


def not_charged(result: CardNotCharged) -> NotCharged:
    payment, order = result.payment, result.order
    person = result.pending and result.needs_person
    return NotCharged(
        state="needs_person" if person else ("pending" if result.pending else "failed"),
        payment_id=payment.id,
        order_id=order.id,
        money=format_money(payment.amount_minor, payment.currency),
        owed=format_money(order.outstanding_minor, order.currency),
        reason=with_remedy(result.reason, payment, needs_person=person),
        resumed=result.resumed,
        settle=settle_by_hand(payment) if person else None,
    )


@dataclass(frozen=True, slots=True)
class Charged:
    """A payment recorded: ``replayed`` (an earlier call's), ``resumed`` (a pending card payment completed),
    ``card`` (charged now) or ``manual`` (money received)."""

    state: Literal["replayed", "resumed", "card", "manual"]
    payment_id: str
    order_id: str
    money: str
    method: str
    card: str  # the saved card charged ('' for manual payments)


def charged(recorded: Recorded) -> Charged:
    payment = recorded.payment
    state: Literal["replayed", "resumed", "card", "manual"] = (
        "replayed"
        if recorded.replayed
        else "resumed"
        if recorded.resumed
        else "card"
        if payment.method == "card"
        else "manual"
    )
    return Charged(
        state,
        payment.id,
        recorded.order.id,
        format_money(payment.amount_minor, payment.currency),
        payment.method,
        payment.reference or "",
    )
