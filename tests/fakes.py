"""In-memory stand-ins for the services' ports. Small on purpose: read them in one sitting.

FakeDatabase holds committed state. A FakeUnitOfWork works on a copy and publishes it
only on commit, so a use case that returns early (or fails) leaves nothing behind,
just like a rolled-back transaction.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
from collections import Counter, deque
from collections.abc import AsyncGenerator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

import anyio

from mcp_server.models.access import AccessToken
from mcp_server.models.approvals import ApprovalRequest, Approver, StoredStatus
from mcp_server.models.audit import AuditEntry
from mcp_server.models.catalog import Product
from mcp_server.models.customers import Customer
from mcp_server.models.errors import UniqueViolationError
from mcp_server.models.gateway_events import TakenEvent
from mcp_server.models.orders import Order
from mcp_server.models.outbox import OutboxMessage
from mcp_server.models.payments import Payment, PaymentStatus
from mcp_server.models.payments_gateway import (
    CardDeclined,
    GatewayPayment,
    GatewayRefund,
    GatewayRejected,
    GatewayUnavailable,
    PaymentOutcome,
    RefundOutcome,
    RetrieveOutcome,
)
from mcp_server.models.reports import DaySales, DayWindow, ProductSales
from mcp_server.models.requests import StoredRequest
from mcp_server.models.suggestions import Candidate

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


def _stored(record: R) -> R:
    """``record`` as a database hands it back: every moment in UTC (a naive one is refused, as there)."""
    moments: dict[str, datetime] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            moments[f.name] = value.astimezone(UTC)
    return replace(record, **moments)


@dataclass
class FakeDatabase:
    customers: dict[str, Customer] = field(default_factory=lambda: {})
    products: dict[str, Product] = field(default_factory=lambda: {})
    audit: list[AuditEntry] = field(default_factory=lambda: [])
    outbox: list[OutboxMessage] = field(default_factory=lambda: [])
    orders: dict[str, Order] = field(default_factory=lambda: {})
    payments: list[Payment] = field(default_factory=lambda: [])
    idempotency: dict[tuple[str, str], StoredRequest] = field(default_factory=lambda: {})
    approvers: dict[str, Approver] = field(default_factory=lambda: {})
    approvals: dict[str, ApprovalRequest] = field(default_factory=lambda: {})
    access_tokens: dict[str, AccessToken] = field(default_factory=lambda: {})
    webhook_events: dict[str, TakenEvent] = field(default_factory=lambda: {})
    commits: int = 0


class FakeCustomerRepository:
    def __init__(self, rows: dict[str, Customer]) -> None:
        self._rows = rows

    @property
    def rows(self) -> dict[str, Customer]:
        return self._rows

    async def get(self, customer_id: str) -> Customer | None:
        return self._rows.get(customer_id)

    async def find_by_email(self, email: str) -> Customer | None:
        return next((c for c in self._rows.values() if c.email == email.lower()), None)

    async def add(self, customer: Customer) -> None:
        self._check_unique(customer)
        self._rows[customer.id] = _stored(customer)

    async def update(self, customer: Customer) -> None:
        self._check_unique(customer)
        self._rows[customer.id] = _stored(customer)

    async def page_after(self, *, text: str | None, after_id: str | None, limit: int) -> list[Customer]:
        rows = sorted(self._rows.values(), key=lambda c: c.id)
        if after_id is not None:
            rows = [c for c in rows if c.id > after_id]
        if text:
            rows = [c for c in rows if text.lower() in c.name.lower() or text.lower() in c.email]
        return rows[:limit]

    async def names(self, ids: Collection[str]) -> dict[str, str]:
        return {id_: self._rows[id_].name for id_ in ids if id_ in self._rows}

    async def near(
        self, pieces: Sequence[str], *, names: bool, limit: int, first: str | None = None
    ) -> list[Candidate]:
        rows = [
            (c, [c.email, c.name.lower()] if names else [c.email])
            for c in self._rows.values()
            if first is None or c.email[:1] == first
        ]
        return _near([(Candidate(c.id, c.email, c.name), texts) for c, texts in rows], pieces, limit)

    def _check_unique(self, customer: Customer) -> None:
        if any(c.email == customer.email and c.id != customer.id for c in self._rows.values()):
            raise UniqueViolationError("customer e-mail")


class FakeProductRepository:
    def __init__(self, rows: dict[str, Product]) -> None:
        self._rows = rows

    async def get(self, product_id: str) -> Product | None:
        return self._rows.get(product_id)

    async def find_by_sku(self, sku: str) -> Product | None:
        return next((p for p in self._rows.values() if p.sku.lower() == sku.lower()), None)

    async def add(self, product: Product) -> None:
        if await self.find_by_sku(product.sku) is not None:
            raise UniqueViolationError("product sku")
        self._rows[product.id] = _stored(product)

    async def update(self, product: Product) -> None:
        self._rows[product.id] = _stored(replace(product, stock=self._rows[product.id].stock))

    async def adjust_stock(self, product_id: str, delta: int, at: datetime) -> int | None:
        current = self._rows.get(product_id)
        if current is None or current.stock + delta < 0:
            return None
        self._rows[product_id] = _stored(replace(current, stock=current.stock + delta, updated_at=at))
        return current.stock + delta

    async def page_after(
        self, *, text: str | None, active_only: bool, stock_below: int | None, after_id: str | None, limit: int
    ) -> list[Product]:
        rows = sorted(self._rows.values(), key=lambda p: p.id)
        rows = [
            p
            for p in rows
            if (after_id is None or p.id > after_id)
            and (not active_only or p.active)
            and (stock_below is None or p.stock < stock_below)
            and (not text or text.lower() in p.name.lower() or text.lower() in p.sku.lower())
        ]
        return rows[:limit]

    async def near(
        self, pieces: Sequence[str], *, names: bool, active_only: bool, limit: int, first: str | None = None
    ) -> list[Candidate]:
        rows = [
            (Candidate(p.id, p.sku, p.name), [p.sku.lower(), p.name.lower()] if names else [p.sku.lower()])
            for p in self._rows.values()
            if (p.active or not active_only) and (first is None or p.sku.lower()[:1] == first)
        ]
        return _near(rows, pieces, limit)


def _near(rows: list[tuple[Candidate, list[str]]], pieces: Sequence[str], limit: int) -> list[Candidate]:
    """What the repositories' ``near`` reads: most pieces held first, ties in id order."""
    scored = [(sum(any(piece in text for text in texts) for piece in pieces), c) for c, texts in rows]
    return [c for score, c in sorted(scored, key=lambda pair: (-pair[0], pair[1].id)) if score][:limit]


class FakeAuditRepository:
    def __init__(self, rows: list[AuditEntry]) -> None:
        self._rows = rows

    async def add(self, entry: AuditEntry) -> None:
        self._rows.append(_stored(replace(entry, sequence=len(self._rows) + 1)))

    async def page_before(
        self,
        *,
        entity_type: str | None,
        entity_id: str | None,
        action: str | None,
        before_sequence: int | None,
        limit: int,
    ) -> list[AuditEntry]:
        rows = [
            e
            for e in reversed(self._rows)
            if (entity_type is None or e.entity_type == entity_type)
            and (entity_id is None or e.entity_id == entity_id)
            and (action is None or e.action == action)
            and (before_sequence is None or e.sequence < before_sequence)
        ]
        return rows[:limit]


class FakeOutboxRepository:
    def __init__(self, rows: list[OutboxMessage]) -> None:
        self._rows = rows

    async def add(self, message: OutboxMessage) -> None:
        self._rows.append(_stored(message))

    async def get(self, message_id: str) -> OutboxMessage | None:
        return next((m for m in self._rows if m.id == message_id), None)

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int, *, claim: str) -> list[OutboxMessage]:
        due = sorted(
            (m for m in self._rows if m.status in ("pending", "sending") and m.next_attempt_at <= now),
            key=lambda m: (m.next_attempt_at, m.id),
        )[:limit]
        claimed = [_stored(replace(m, status="sending", next_attempt_at=lease_until, claimed_by=claim)) for m in due]
        for message in claimed:
            self._put(message)
        return claimed

    async def renew(self, message_id: str, claim: str, lease_until: datetime) -> bool:
        held = await self._held(message_id, claim)
        if held is None:
            return False
        self._put(_stored(replace(held, next_attempt_at=lease_until)))
        return True

    async def finish(self, message: OutboxMessage, claim: str) -> bool:
        held = await self._held(message.id, claim)
        if held is None:
            return False
        self._put(replace(_outcome(held, message), claimed_by=None))
        return True

    async def _held(self, message_id: str, claim: str) -> OutboxMessage | None:
        message = await self.get(message_id)
        return message if message is not None and message.status == "sending" and message.claimed_by == claim else None

    async def update(self, message: OutboxMessage) -> None:
        held = await self.get(message.id)
        if held is not None:
            self._put(_outcome(held, message))

    def _put(self, message: OutboxMessage) -> None:
        for n, existing in enumerate(self._rows):
            if existing.id == message.id:
                self._rows[n] = message

    async def page_after(self, *, status: str | None, after_id: str | None, limit: int) -> list[OutboxMessage]:
        rows = sorted(self._rows, key=lambda m: m.id)
        rows = [m for m in rows if (status is None or m.status == status) and (after_id is None or m.id > after_id)]
        return rows[:limit]


def _outcome(held: OutboxMessage, message: OutboxMessage) -> OutboxMessage:
    """``held`` with the fields update and finish write: status, attempts, last_error, next_attempt_at, sent_at."""
    return _stored(
        replace(
            held,
            status=message.status,
            attempts=message.attempts,
            last_error=message.last_error,
            next_attempt_at=message.next_attempt_at,
            sent_at=message.sent_at,
        )
    )


class FakeOrderRepository:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self._rows = db.orders

    async def get(self, order_id: str) -> Order | None:
        return self._rows.get(order_id)

    async def detail(self, order_id: str) -> tuple[Order, Customer | None, list[Payment]] | None:
        order = self._rows.get(order_id)
        if order is None:
            return None
        return (
            order,
            self._db.customers.get(order.customer_id),
            [p for p in self._db.payments if p.order_id == order_id],
        )

    async def add(self, order: Order) -> None:
        assert order.id not in self._rows
        self._rows[order.id] = _stored(order)

    async def update(self, order: Order) -> None:
        """Only what the SQL repository writes: status, amounts, shipment, updated_at, restocked counts."""
        stored = self._rows[order.id]
        restocked = {line.line_no: line.restocked for line in order.lines}
        self._rows[order.id] = _stored(
            replace(
                stored,
                status=order.status,
                paid_minor=order.paid_minor,
                refunded_minor=order.refunded_minor,
                carrier=order.carrier,
                tracking_number=order.tracking_number,
                updated_at=order.updated_at,
                lines=tuple(
                    replace(line, restocked=restocked.get(line.line_no, line.restocked)) for line in stored.lines
                ),
            )
        )

    async def page_before(
        self,
        *,
        status: str | None,
        customer_id: str | None,
        placed_from: datetime | None,
        placed_to: datetime | None,
        before_id: str | None,
        limit: int,
    ) -> list[Order]:
        # As the SQL repository: newest first by id; with a date, by placed_at then id, after the cursor's order.
        dated = placed_from is not None or placed_to is not None

        def key(o: Order) -> tuple[datetime | str, ...]:
            return (o.placed_at, o.id) if dated else (o.id,)

        def after_cursor(o: Order) -> bool:
            if before_id is None:
                return True
            last = self._rows.get(before_id)
            return key(o) < key(last) if dated and last is not None else not dated and o.id < before_id

        rows = sorted(self._rows.values(), key=key, reverse=True)
        rows = [
            replace(o, lines=(), line_count=len(o.lines))
            for o in rows
            if after_cursor(o)
            and (status is None or o.status == status)
            and (customer_id is None or o.customer_id == customer_id)
            and (placed_from is None or o.placed_at >= placed_from)
            and (placed_to is None or o.placed_at < placed_to)
        ]
        return rows[:limit]


class FakePaymentRepository:
    def __init__(self, rows: list[Payment]) -> None:
        self._rows = rows

    async def get(self, payment_id: str) -> Payment | None:
        return next((p for p in self._rows if p.id == payment_id), None)

    async def for_order(self, order_id: str) -> list[Payment]:
        return [p for p in self._rows if p.order_id == order_id]

    async def by_ids(self, ids: Sequence[str]) -> list[Payment]:
        return [p for p in self._rows if p.id in ids]

    async def add(self, payment: Payment) -> None:
        self._rows.append(_stored(replace(payment, sequence=len(self._rows) + 1)))

    async def set_refunded(self, payment_id: str, refunded_minor: int) -> None:
        for n, p in enumerate(self._rows):
            if p.id == payment_id:
                assert 0 <= refunded_minor <= p.amount_minor
                self._rows[n] = replace(p, refunded_minor=refunded_minor)

    async def pending_between(self, since: datetime, before: datetime, limit: int) -> list[Payment]:
        rows = [p for p in self._rows if p.status == "pending" and since <= p.created_at < before]
        return sorted(rows, key=lambda p: p.created_at)[:limit]

    async def by_gateway_reference(self, gateway_reference: str) -> list[Payment]:
        return [p for p in self._rows if p.gateway_reference == gateway_reference]

    async def settle(
        self, payment_id: str, *, status: PaymentStatus, gateway_reference: str | None, reason: str | None
    ) -> bool:
        for n, p in enumerate(self._rows):
            if p.id == payment_id and p.status == "pending":
                self._rows[n] = replace(
                    p,
                    status=status,
                    gateway_reference=gateway_reference,
                    reason=reason,
                    lease_until=None,
                    claimed_by=None,
                )
                return True
        return False

    async def claim(self, payment_id: str, *, claim: str, now: datetime, lease_until: datetime) -> bool:
        for n, p in enumerate(self._rows):
            if p.id == payment_id and p.status == "pending" and (p.lease_until is None or p.lease_until < now):
                self._rows[n] = _stored(replace(p, lease_until=lease_until, claimed_by=claim))
                return True
        return False

    async def release(self, payment_id: str, claim: str) -> None:
        for n, p in enumerate(self._rows):
            if p.id == payment_id and p.claimed_by == claim:
                self._rows[n] = replace(p, lease_until=None, claimed_by=None)

    async def rest(self, payment_id: str, *, attempts: int, next_attempt_at: datetime) -> None:
        for n, p in enumerate(self._rows):
            if p.id == payment_id and p.status == "pending":
                self._rows[n] = _stored(replace(p, attempts=attempts, next_attempt_at=next_attempt_at))

    async def page_after(
        self,
        *,
        order_id: str | None,
        created_from: datetime | None,
        created_to: datetime | None,
        after_sequence: int | None,
        limit: int,
    ) -> list[Payment]:
        rows = [
            p
            for p in self._rows
            if (after_sequence is None or p.sequence > after_sequence)
            and (order_id is None or p.order_id == order_id)
            and (created_from is None or p.created_at >= created_from)
            and (created_to is None or p.created_at < created_to)
        ]
        return rows[:limit]


class FakeRequestLog:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    async def find(self, tool: str, key: str) -> StoredRequest | None:
        return self._db.idempotency.get((tool, key))

    async def remember(self, tool: str, key: str, request: StoredRequest) -> None:
        assert (tool, key) not in self._db.idempotency
        self._db.idempotency[(tool, key)] = _stored(request)

    async def add_approver(self, approver: Approver) -> bool:
        if approver.name in self._db.approvers:
            return False
        self._db.approvers[approver.name] = _stored(approver)
        return True

    async def approver(self, name: str) -> Approver | None:
        return self._db.approvers.get(name)

    async def approvers(self) -> list[Approver]:
        return sorted(self._db.approvers.values(), key=lambda a: a.name)

    async def remove_approver(self, name: str) -> bool:
        return self._db.approvers.pop(name, None) is not None

    async def add_approval(self, request: ApprovalRequest) -> None:
        assert request.id not in self._db.approvals
        self._db.approvals[request.id] = _stored(request)

    async def approval(self, approval_id: str) -> ApprovalRequest | None:
        return self._db.approvals.get(approval_id)

    async def approvals(self, *, status: StoredStatus | None, limit: int) -> list[ApprovalRequest]:
        rows = [r for r in self._db.approvals.values() if status is None or r.status == status]
        return sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)[:limit]

    async def move_approval(self, request: ApprovalRequest, was: StoredStatus) -> bool:
        stored = self._db.approvals.get(request.id)
        if stored is None or stored.status != was:
            return False
        self._db.approvals[request.id] = _stored(
            replace(
                stored,
                status=request.status,
                decided_by=request.decided_by,
                decided_at=request.decided_at,
                used_at=request.used_at,
            )
        )
        return True


class FakeAccessTokenRepository:
    def __init__(self, rows: dict[str, AccessToken]) -> None:
        self._rows = rows

    @property
    def rows(self) -> dict[str, AccessToken]:
        return self._rows

    async def add(self, token: AccessToken) -> None:
        if any(t.name == token.name for t in self._rows.values()):
            raise UniqueViolationError("token name")
        assert token.id not in self._rows
        assert all(t.token_hash != token.token_hash for t in self._rows.values()), "a second token with one hash"
        self._rows[token.id] = _stored(token)

    async def by_hash(self, token_hash: str) -> AccessToken | None:
        return next((t for t in self._rows.values() if t.token_hash == token_hash), None)

    async def by_name(self, name: str) -> AccessToken | None:
        return next((t for t in self._rows.values() if t.name == name), None)

    async def all(self) -> list[AccessToken]:
        return sorted(self._rows.values(), key=lambda t: (t.created_at, t.id), reverse=True)

    async def revoke(self, name: str, at: datetime) -> bool:
        token = await self.by_name(name)
        if token is None or token.revoked_at is not None:
            return False
        self._rows[token.id] = _stored(replace(token, revoked_at=at))
        return True


class FakeWebhookEventRepository:
    def __init__(self, rows: dict[str, TakenEvent]) -> None:
        self._rows = rows

    async def get(self, event_id: str) -> TakenEvent | None:
        return self._rows.get(event_id)

    async def add(self, event: TakenEvent) -> bool:
        if event.event_id in self._rows:
            return False
        self._rows[event.event_id] = _stored(replace(event, outcome=event.outcome[:200]))
        return True


class FakeReportRepository:
    """The same figures as the SQL aggregation, computed the slow, obvious way."""

    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    async def sales_by_day(self, days: Sequence[DayWindow]) -> list[DaySales]:
        out: list[DaySales] = []
        for window in days:
            currencies = {o.currency for o in self._db.orders.values()} | {p.currency for p in self._db.payments}
            for currency in sorted(currencies):
                placed = [
                    o
                    for o in self._db.orders.values()
                    if o.currency == currency and window.start <= o.placed_at < window.end
                ]
                live = [o for o in placed if o.status != "cancelled"]
                # money returned in the day (succeeded refunds) on orders that are not cancelled
                refunds = sum(
                    p.amount_minor
                    for p in self._db.payments
                    if p.kind == "refund"
                    and p.status == "succeeded"
                    and self._db.orders[p.order_id].status != "cancelled"
                    and p.currency == currency
                    and window.start <= p.created_at < window.end
                )
                if placed or refunds:
                    out.append(
                        DaySales(
                            window.day,
                            currency,
                            len(live),
                            sum(o.units for o in live),
                            sum(o.total_minor for o in live),
                            refunds,
                            len(placed) - len(live),
                        )
                    )
        return out

    async def sales_by_product(self, start: datetime, end: datetime, limit: int) -> list[ProductSales]:
        totals: dict[tuple[str, str], list[int]] = {}
        orders: dict[tuple[str, str], set[str]] = {}
        for o in self._db.orders.values():
            if o.status == "cancelled" or not start <= o.placed_at < end:
                continue
            for line in o.lines:
                key = (line.product_id, o.currency)
                figures = totals.setdefault(key, [0, 0])
                figures[0] += line.quantity
                figures[1] += line.total_minor
                orders.setdefault(key, set()).add(o.id)
        rows = [
            ProductSales(
                pid, self._db.products[pid].sku, self._db.products[pid].name, cur, len(orders[(pid, cur)]), u, r
            )
            for (pid, cur), (u, r) in totals.items()
        ]
        return sorted(rows, key=lambda p: (-p.revenue_minor, p.product_id))[:limit]


class FakeUnitOfWork:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self._work = copy.deepcopy(db)
        self.customers: FakeCustomerRepository = FakeCustomerRepository(self._work.customers)
        self.products = FakeProductRepository(self._work.products)
        self.audit = FakeAuditRepository(self._work.audit)
        self.outbox = FakeOutboxRepository(self._work.outbox)
        self.orders = FakeOrderRepository(self._work)
        self.payments = FakePaymentRepository(self._work.payments)
        self.requests = FakeRequestLog(self._work)
        self.reports = FakeReportRepository(self._work)
        self.webhooks = FakeWebhookEventRepository(self._work.webhook_events)
        self.tokens = FakeAccessTokenRepository(self._work.access_tokens)

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def commit(self) -> None:
        self._db.customers = copy.deepcopy(self._work.customers)
        self._db.products = copy.deepcopy(self._work.products)
        self._db.audit = copy.deepcopy(self._work.audit)
        self._db.outbox = copy.deepcopy(self._work.outbox)
        self._db.orders = copy.deepcopy(self._work.orders)
        self._db.payments = copy.deepcopy(self._work.payments)
        self._db.idempotency = copy.deepcopy(self._work.idempotency)
        self._db.approvers = copy.deepcopy(self._work.approvers)
        self._db.approvals = copy.deepcopy(self._work.approvals)
        self._db.webhook_events = copy.deepcopy(self._work.webhook_events)
        self._db.access_tokens = copy.deepcopy(self._work.access_tokens)
        self._db.commits += 1


class FakeUnitOfWorkFactory:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db

    def __call__(self, *, write: bool) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.db)


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class SequentialIds:
    """Readable, ordered ids: cus_0000…0001, aud_0000…0002 (same shape as real ones)."""

    def __init__(self) -> None:
        self._n = 0

    def new(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n:026d}"


class FakeGateway:
    """A card-payment gateway in memory that keeps Stripe's promise: the first answer to an
    idempotency key is the answer to every later request with it. ``faults`` scripts the next
    calls: ``down`` answers unavailable without doing anything, ``lost`` does the work and then
    answers unavailable (the answer lost on the way back), ``refuse`` rejects the request.
    ``sent`` and ``most_at_once`` count requests per idempotency key; a ``gate`` holds every
    answer until it is set, so racing callers really overlap."""

    DECLINED = "pm_card_chargeDeclined"

    def __init__(self) -> None:
        self.faults: deque[str] = deque()
        self.calls = 0
        self.sent = Counter[str]()  # idempotency key -> requests sent with it
        self.most_at_once = Counter[str]()  # idempotency key -> most requests with it in flight together
        self.gate: anyio.Event | None = None  # when set, every request waits for it before it is answered
        self.charged: dict[str, int] = {}  # intent id -> amount charged
        self.refunded: dict[str, int] = {}  # intent id -> amount refunded
        self._answers: dict[str, tuple[tuple[object, ...], PaymentOutcome | RefundOutcome]] = {}
        self._in_flight = Counter[str]()

    def _fault(self) -> str | None:
        self.calls += 1
        return self.faults.popleft() if self.faults else None

    @asynccontextmanager
    async def _in_flight_with(self, key: str) -> AsyncGenerator[None]:
        """Count a request as sent and in flight until answered; held at ``gate`` when one is set."""
        self.sent[key] += 1
        self._in_flight[key] += 1
        self.most_at_once[key] = max(self.most_at_once[key], self._in_flight[key])
        try:
            if self.gate is not None:
                await self.gate.wait()
            yield
        finally:
            self._in_flight[key] -= 1

    def _remembered(self, key: str, params: tuple[object, ...]) -> PaymentOutcome | RefundOutcome | None:
        if key not in self._answers:
            return None
        first_params, answer = self._answers[key]
        if first_params != params:
            return GatewayRejected(400, "idempotency_error", "Keys can only be used with the same parameters")
        return answer

    async def create_and_confirm_payment(
        self,
        amount_minor: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> PaymentOutcome:
        async with self._in_flight_with(idempotency_key):
            return self._charge(amount_minor, currency, payment_method, idempotency_key)

    def _charge(self, amount_minor: int, currency: str, payment_method: str, idempotency_key: str) -> PaymentOutcome:
        fault = self._fault()
        if fault == "down":
            return GatewayUnavailable("the payment gateway did not answer in time")
        params = ("charge", amount_minor, currency, payment_method)
        answer = self._remembered(idempotency_key, params)
        if answer is None:
            intent = f"pi_{len(self._answers) + 1}"
            if fault == "refuse":
                answer = GatewayRejected(400, "parameter_invalid", "Invalid request")
            elif payment_method == self.DECLINED:
                answer = CardDeclined("card_declined", "Your card was declined.", "generic_decline", intent)
            else:
                answer = GatewayPayment(intent, "succeeded", amount_minor, currency.upper(), f"ch_{intent[3:]}")
                self.charged[intent] = amount_minor
            self._answers[idempotency_key] = (params, answer)
        assert not isinstance(answer, GatewayRefund)
        if fault == "lost":
            return GatewayUnavailable("could not reach the payment gateway (ReadError)")
        return answer

    async def retrieve_payment(self, intent_id: str) -> RetrieveOutcome:
        fault = self._fault()
        if fault == "down":
            return GatewayUnavailable("the payment gateway did not answer in time")
        for _, answer in self._answers.values():
            if isinstance(answer, GatewayPayment) and answer.id == intent_id:
                return answer
        return GatewayRejected(404, "resource_missing", f"No such payment_intent: '{intent_id}'")

    async def refund(
        self,
        payment_ref: str,
        amount_minor: int,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> RefundOutcome:
        async with self._in_flight_with(idempotency_key):
            return self._refund(payment_ref, amount_minor, idempotency_key)

    def _refund(self, payment_ref: str, amount_minor: int, idempotency_key: str) -> RefundOutcome:
        fault = self._fault()
        if fault == "down":
            return GatewayUnavailable("the payment gateway did not answer in time")
        params = ("refund", payment_ref, amount_minor)
        answer = self._remembered(idempotency_key, params)
        if answer is None:
            left = self.charged.get(payment_ref, 0) - self.refunded.get(payment_ref, 0)
            if fault == "refuse" or amount_minor > left:
                answer = GatewayRejected(400, "charge_already_refunded", "The charge has already been refunded")
            else:
                answer = GatewayRefund(f"re_{len(self._answers) + 1}", "succeeded", amount_minor, payment_ref)
                self.refunded[payment_ref] = self.refunded.get(payment_ref, 0) + amount_minor
            self._answers[idempotency_key] = (params, answer)
        assert not isinstance(answer, GatewayPayment)
        if fault == "lost":
            return GatewayUnavailable("could not reach the payment gateway (ReadError)")
        return answer


class FakePassphrases:
    """Passphrases "hashed" fast (a test needs no slow hash); ``verify`` compares like the real one."""

    async def hash(self, passphrase: str) -> str:
        return "fake$" + hashlib.sha256(passphrase.encode()).hexdigest()

    async def verify(self, passphrase: str, stored: str) -> bool:
        return hmac.compare_digest(stored, await self.hash(passphrase))


class FakeSecrets:
    """Secrets that are readable and distinct (``secret-0001`` …), so a test can look for them anywhere."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def new(self) -> str:
        self.made.append(f"secret-{len(self.made) + 1:04d}-" + "x" * 32)
        return self.made[-1]
