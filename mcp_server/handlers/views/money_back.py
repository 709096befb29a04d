"""Money going back (a refund or a cancel): the structured outcome both doors return, and the card
refunds the gateway has not made yet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mcp_server.handlers.views.cancellation import cancel_view
from mcp_server.models.orders import Order
from mcp_server.models.payments import MoneyBackRead, Payment, PaymentRead, unfinished_refunds
from mcp_server.utils.money import format_money

if TYPE_CHECKING:
    from mcp_server.services.cancellation import Cancellation
    from mcp_server.services.payments import RefundPlan


def money_back_read(
    *,
    done: bool,
    replayed: bool,
    order: Order,
    amount_minor: int,
    restocked_units: int,
    refunds: Sequence[Payment],
    preview: str,
) -> MoneyBackRead:
    """A refund or cancel as the tools' structuredContent and the CLI's --json show it (no token)."""
    return MoneyBackRead(
        outcome=unfinished_refunds(refunds) or ("replayed" if replayed else ("done" if done else "approval_required")),
        order_id=order.id,
        order_status=order.status,
        amount_minor=amount_minor,
        currency=order.currency,
        restocked_units=restocked_units,
        refunds=[PaymentRead.from_record(r) for r in refunds],
        preview=preview,
    )


def cancelled_read(cancellation: Cancellation, *, done: bool) -> MoneyBackRead:
    """A cancel, previewed or done, as both doors return it."""
    view = cancel_view(cancellation)
    return money_back_read(
        done=done,
        replayed=False,
        order=cancellation.order,
        amount_minor=view.refund_minor,
        restocked_units=view.restocked_units,
        refunds=view.refunds,
        preview=view.describe(),
    )


def refund_read(plan: RefundPlan, *, done: bool) -> MoneyBackRead:
    """A refund, previewed or done, as both doors return it."""
    return money_back_read(
        done=done,
        replayed=plan.replayed,
        order=plan.order,
        amount_minor=plan.amount_minor,
        restocked_units=plan.restock_units,
        refunds=plan.refunds,
        preview=plan.describe(),
    )


@dataclass(frozen=True, slots=True)
class NotRefunded:
    money: str
    id: str
    reason: str | None  # the gateway's refusal, when it gave one


@dataclass(frozen=True, slots=True)
class RefundsLeft:
    """Card refunds the gateway has not made: pending (money reserved, asked again) and refused ones."""

    pending: str | None  # their money together, None when none is pending
    pending_ids: tuple[str, ...]
    refused: tuple[NotRefunded, ...]

    def __bool__(self) -> bool:
        return self.pending is not None or bool(self.refused)


def refunds_left(refunds: Sequence[Payment]) -> RefundsLeft:
    pending = [r for r in refunds if r.status == "pending"]
    return RefundsLeft(
        format_money(sum(r.amount_minor for r in pending), pending[0].currency) if pending else None,
        tuple(r.id for r in pending),
        tuple(
            NotRefunded(format_money(r.amount_minor, r.currency), r.id, r.reason)
            for r in refunds
            if r.status == "failed"
        ),
    )


@dataclass(frozen=True, slots=True)
class RefundDone:
    """A refund carried out: ``unfinished`` (a card refund pending or refused: read the notes),
    ``replayed`` (an earlier call's, with this idempotency key) or ``done``; and the order's totals."""

    state: Literal["unfinished", "replayed", "done"]
    amount: str
    order_id: str
    order_status: str
    refunded: str  # in total, on the order
    paid: str
    restocked_units: int


def refund_done(plan: RefundPlan) -> RefundDone:
    order = plan.order
    return RefundDone(
        "unfinished" if unfinished_refunds(plan.refunds) else ("replayed" if plan.replayed else "done"),
        format_money(plan.amount_minor, order.currency),
        order.id,
        order.status,
        format_money(order.refunded_minor, order.currency),
        format_money(order.paid_minor, order.currency),
        plan.restock_units,
    )
