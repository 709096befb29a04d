"""The one table that turns each domain event into its audit entry and, where the customer is told,
its e-mail. ``EventfulUnitOfWork.commit`` runs it inside the transaction, so every change writes
exactly one audit entry, and its e-mail, together with the change or not at all."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from mcp_server.models.access import AccessToken, scope_text
from mcp_server.models.approvals import ApprovalRequest
from mcp_server.models.audit import AUDIT_ID_PREFIX, AuditEntry, JsonScalar
from mcp_server.models.customers import Customer
from mcp_server.models.events import (
    ApprovalDecided,
    ApprovalRequested,
    ApproverAdded,
    ApproverRemoved,
    CardRefunded,
    CustomerRegistered,
    CustomerUpdated,
    Event,
    NotificationRequeued,
    OrderCancelled,
    OrderDelivered,
    OrderPlaced,
    OrderShipped,
    PaymentFailed,
    PaymentRecorded,
    PaymentRefunded,
    PaymentStarted,
    ProductCreated,
    ProductUpdated,
    RefundFailed,
    RefundStarted,
    StockAdjusted,
    TokenCreated,
    TokenRevoked,
)
from mcp_server.models.orders import Order
from mcp_server.models.outbox import OUTBOX_ID_PREFIX, NotificationKind, OutboxMessage
from mcp_server.models.payments import Payment
from mcp_server.services.ports import IdFactory
from mcp_server.utils.money import format_money

State = Mapping[str, JsonScalar]


@dataclass(frozen=True, slots=True)
class Stamp:
    """Where handlers take ids from, and the time of the commit."""

    ids: IdFactory
    at: datetime

    def entry(
        self, event: Event, action: str, entity_type: str, entity_id: str, before: State | None, after: State | None
    ) -> AuditEntry:
        return AuditEntry(
            id=self.ids.new(AUDIT_ID_PREFIX),
            occurred_at=self.at,
            actor=event.actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=dict(before) if before is not None else None,
            after=dict(after) if after is not None else None,
        )

    def order_entry(self, event: Event, action: str, order: Order, before: State | None, after: State) -> AuditEntry:
        """Every entry about an order is filed under its id, with the resulting status in ``after``."""
        return self.entry(event, action, "order", order.id, before, after)

    def mail(self, kind: NotificationKind, customer: Customer, order: Order, *, refund_minor: int = 0) -> OutboxMessage:
        payload = {
            "name": customer.name,
            "order_id": order.id,
            "total": format_money(order.total_minor, order.currency),
            "status": order.status,
        }
        if order.carrier and order.tracking_number:
            payload |= {"carrier": order.carrier, "tracking_number": order.tracking_number}
        if refund_minor:
            payload["refund"] = format_money(refund_minor, order.currency)
        return self.message(kind, customer.email, order.id, payload, self.at)

    def message(
        self, kind: NotificationKind, recipient: str, subject_id: str, payload: dict[str, str], at: datetime
    ) -> OutboxMessage:
        return OutboxMessage(
            id=self.ids.new(OUTBOX_ID_PREFIX),
            kind=kind,
            recipient=recipient,
            subject_id=subject_id,
            payload=payload,
            status="pending",
            attempts=0,
            created_at=at,
            next_attempt_at=at,
        )


Effects = tuple[AuditEntry, OutboxMessage | None]
E = TypeVar("E", bound=Event)
Handler = Callable[[Any, Stamp], Effects]

HANDLERS: dict[type[Event], Handler] = {}


def handles(kind: type[E]) -> Callable[[Callable[[E, Stamp], Effects]], Callable[[E, Stamp], Effects]]:
    """Register the handler of ``kind``; a second handler for one event type is a mistake caught at import."""

    def register(handler: Callable[[E, Stamp], Effects]) -> Callable[[E, Stamp], Effects]:
        if kind in HANDLERS:
            raise TypeError(f"{kind.__name__} already has a handler")
        HANDLERS[kind] = cast(Handler, handler)
        return handler

    return register


def effects_of(event: Event, stamp: Stamp) -> Effects:
    """The audit entry and the e-mail (if any) of ``event``."""
    return HANDLERS[type(event)](event, stamp)


def _changed(before: State, after: State, changed: tuple[str, ...]) -> tuple[State, State]:
    return {name: before[name] for name in changed}, {name: after[name] for name in changed}


def _returned(refunds: tuple[Payment, ...]) -> int:
    """Money these refunds gave back already (pending card refunds are not given back yet)."""
    return sum(r.amount_minor for r in refunds if r.status == "succeeded")


# -- customers, products, notifications ----------------------------------------------------------


@handles(CustomerRegistered)
def _registered(e: CustomerRegistered, s: Stamp) -> Effects:
    c = e.customer
    welcome = s.message("welcome", c.email, c.id, {"name": c.name}, c.created_at)
    return s.entry(e, "customer.registered", "customer", c.id, None, c.snapshot()), welcome


@handles(CustomerUpdated)
def _customer_updated(e: CustomerUpdated, s: Stamp) -> Effects:
    before, after = _changed(e.before.snapshot(), e.after.snapshot(), e.changed)
    return s.entry(e, "customer.updated", "customer", e.before.id, before, after), None


@handles(ProductCreated)
def _product_created(e: ProductCreated, s: Stamp) -> Effects:
    return s.entry(e, "product.created", "product", e.product.id, None, e.product.snapshot()), None


@handles(ProductUpdated)
def _product_updated(e: ProductUpdated, s: Stamp) -> Effects:
    before, after = _changed(e.before.snapshot(), e.after.snapshot(), e.changed)
    return s.entry(e, "product.updated", "product", e.before.id, before, after), None


@handles(StockAdjusted)
def _stock_adjusted(e: StockAdjusted, s: Stamp) -> Effects:
    after: dict[str, JsonScalar] = {"stock": e.after_stock, "reason": e.reason}
    if e.note:
        after["note"] = e.note
    return s.entry(e, "product.stock_adjusted", "product", e.product_id, {"stock": e.before_stock}, after), None


@handles(NotificationRequeued)
def _requeued(e: NotificationRequeued, s: Stamp) -> Effects:
    m = e.message
    before: State = {"status": "failed", "attempts": m.attempts, "last_error": m.last_error}
    return s.entry(e, "notification.requeued", "notification", m.id, before, {"status": "pending", "attempts": 0}), None


# -- orders ------------------------------------------------------------------------------------


@handles(OrderPlaced)
def _placed(e: OrderPlaced, s: Stamp) -> Effects:
    o = e.order
    after = o.audit_state() | {"customer_id": o.customer_id, "units": o.units, "lines": len(o.lines)}
    return s.order_entry(e, "order.placed", o, None, after), s.mail("order_placed", e.customer, o)


@handles(OrderShipped)
def _shipped(e: OrderShipped, s: Stamp) -> Effects:
    o = e.order
    after: State = {"status": o.status, "carrier": o.carrier, "tracking_number": o.tracking_number}
    entry = s.order_entry(e, "order.shipped", o, {"status": e.before.status}, after)
    return entry, s.mail("order_shipped", e.customer, o) if e.customer else None


@handles(OrderDelivered)
def _delivered(e: OrderDelivered, s: Stamp) -> Effects:
    return s.order_entry(e, "order.delivered", e.order, {"status": e.before.status}, {"status": e.order.status}), None


@handles(OrderCancelled)
def _cancelled(e: OrderCancelled, s: Stamp) -> Effects:
    after = (
        e.order.audit_state()
        | {"restocked_units": e.restocked_units, "refund_ids": " ".join(r.id for r in e.refunds) or None}
        | ({"reason": e.reason} if e.reason else {})
    )
    entry = s.order_entry(e, "order.cancelled", e.order, e.before.audit_state(), after)
    # Only money already returned: a card refund gets its own e-mail once the gateway makes it.
    returned = _returned(e.refunds)
    return entry, s.mail("order_cancelled", e.customer, e.order, refund_minor=returned) if e.customer else None


# -- money -------------------------------------------------------------------------------------


@handles(PaymentStarted)
def _payment_started(e: PaymentStarted, s: Stamp) -> Effects:
    p = e.payment
    after = e.order.audit_state() | {
        "payment_id": p.id,
        "amount_minor": p.amount_minor,
        "method": "card",
        "payment_method": p.reference,
    }
    return s.order_entry(e, "payment.started", e.order, e.order.audit_state(), after), None


@handles(PaymentRecorded)
def _payment_recorded(e: PaymentRecorded, s: Stamp) -> Effects:
    p = e.payment
    after = (
        e.order.audit_state()
        | {"payment_id": p.id, "amount_minor": p.amount_minor, "method": p.method}
        | dict(e.details)
    )
    return s.order_entry(e, "payment.recorded", e.order, e.before.audit_state(), after), None


def _refund(e: PaymentRefunded | RefundStarted, s: Stamp, action: str) -> Effects:
    given_back = _returned(e.refunds)
    after = e.order.audit_state() | {
        "refund_ids": " ".join(r.id for r in e.refunds),
        "amount_minor": e.amount_minor,
        "reason": e.reason,
        "restocked_units": e.restocked_units,
    }
    if isinstance(e, RefundStarted):
        after |= {"pending_minor": e.amount_minor - given_back}
    entry = s.order_entry(e, action, e.order, e.before.audit_state(), after)
    if e.customer is None or not given_back:
        return entry, None
    return entry, s.mail("order_refunded", e.customer, e.order, refund_minor=given_back)


@handles(PaymentRefunded)
def _refunded(e: PaymentRefunded, s: Stamp) -> Effects:
    return _refund(e, s, "payment.refunded")


@handles(RefundStarted)
def _refund_started(e: RefundStarted, s: Stamp) -> Effects:
    return _refund(e, s, "payment.refund_started")


@handles(CardRefunded)
def _card_refunded(e: CardRefunded, s: Stamp) -> Effects:
    r = e.refund
    after = (
        e.order.audit_state()
        | {"refund_ids": r.id, "amount_minor": r.amount_minor, "reason": r.reason, "method": "card"}
        | dict(e.details)
    )
    entry = s.order_entry(e, "payment.refunded", e.order, e.before.audit_state(), after)
    # A cancellation's e-mail named only what was returned at once: this one names the card refund.
    return entry, s.mail("order_refunded", e.customer, e.order, refund_minor=r.amount_minor) if e.customer else None


def _failed(e: PaymentFailed | RefundFailed, row: Payment, s: Stamp, action: str) -> Effects:
    after = (
        e.order.audit_state()
        | {"payment_id": row.id, "amount_minor": row.amount_minor, "method": "card", "reason": e.note}
        | dict(e.details)
    )
    return s.order_entry(e, action, e.order, e.order.audit_state(), after), None


@handles(PaymentFailed)
def _payment_failed(e: PaymentFailed, s: Stamp) -> Effects:
    return _failed(e, e.payment, s, "payment.failed")


@handles(RefundFailed)
def _refund_failed(e: RefundFailed, s: Stamp) -> Effects:
    return _failed(e, e.refund, s, "payment.refund_failed")


# -- approvals ---------------------------------------------------------------------------------


def _approval_state(r: ApprovalRequest) -> dict[str, JsonScalar]:
    state: dict[str, JsonScalar] = {
        "status": r.status,
        "use_case": r.use_case,
        "subject_id": r.subject_id,
        "asked_by": r.actor,
        "expires_at": r.expires_at.isoformat(),
    }
    if r.decided_by:
        state["decided_by"] = r.decided_by
    return state


@handles(ApproverAdded)
def _approver_added(e: ApproverAdded, s: Stamp) -> Effects:
    # Never the hash: the audit log is read by the assistant.
    return s.entry(e, "approver.added", "approver", e.approver.name, None, {"name": e.approver.name}), None


@handles(ApproverRemoved)
def _approver_removed(e: ApproverRemoved, s: Stamp) -> Effects:
    return s.entry(e, "approver.removed", "approver", e.name, {"name": e.name}, None), None


@handles(ApprovalRequested)
def _approval_requested(e: ApprovalRequested, s: Stamp) -> Effects:
    r = e.request
    return s.entry(e, "approval.requested", "approval", r.id, None, _approval_state(r) | {"summary": r.summary}), None


@handles(ApprovalDecided)
def _approval_decided(e: ApprovalDecided, s: Stamp) -> Effects:
    action = "approval.approved" if e.after.status == "approved" else "approval.denied"
    return s.entry(e, action, "approval", e.after.id, _approval_state(e.before), _approval_state(e.after)), None


# -- access tokens -----------------------------------------------------------------------------


def _token_state(t: AccessToken) -> dict[str, JsonScalar]:
    # Never the secret nor its hash: the audit log is read by the assistant.
    return {"name": t.name, "scopes": scope_text(t.scopes), "active": t.active}


@handles(TokenCreated)
def _token_created(e: TokenCreated, s: Stamp) -> Effects:
    return s.entry(e, "token.created", "token", e.token.id, None, _token_state(e.token)), None


@handles(TokenRevoked)
def _token_revoked(e: TokenRevoked, s: Stamp) -> Effects:
    before = _token_state(e.token) | {"active": True}
    return s.entry(e, "token.revoked", "token", e.token.id, before, _token_state(e.token)), None
