"""The collaborators services need, as Protocols. Adapters implement them; tests fake them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol

from mcp_server.models.access import AccessToken
from mcp_server.models.approvals import ApprovalRequest, Approver, StoredStatus
from mcp_server.models.audit import AuditEntry
from mcp_server.models.catalog import Product
from mcp_server.models.customers import Customer
from mcp_server.models.gateway_events import TakenEvent
from mcp_server.models.orders import Order
from mcp_server.models.outbox import Email, OutboxMessage, SendOutcome
from mcp_server.models.payments import Payment, PaymentStatus
from mcp_server.models.payments_gateway import PaymentOutcome, RefundOutcome, RetrieveOutcome
from mcp_server.models.reports import DaySales, DayWindow, ProductSales
from mcp_server.models.requests import StoredRequest
from mcp_server.models.suggestions import Candidate


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdFactory(Protocol):
    def new(self, prefix: str) -> str: ...


class CustomerRepository(Protocol):
    async def get(self, customer_id: str) -> Customer | None: ...

    async def find_by_email(self, email: str) -> Customer | None: ...

    async def add(self, customer: Customer) -> None:
        """Store a new customer; raises models.errors.UniqueViolationError on a taken e-mail."""
        ...

    async def update(self, customer: Customer) -> None:
        """Overwrite a stored customer; raises models.errors.UniqueViolationError on a taken e-mail."""
        ...

    async def page_after(self, *, text: str | None, after_id: str | None, limit: int) -> list[Customer]:
        """Customers in id order (registration order) after ``after_id``, optionally filtered."""
        ...

    async def names(self, ids: Collection[str]) -> dict[str, str]:
        """The names of the customers ``ids`` names, by id (an id no customer has is left out)."""
        ...

    async def near(
        self, pieces: Sequence[str], *, names: bool, limit: int, first: str | None = None
    ) -> list[Candidate]:
        """Up to ``limit`` customers whose e-mail or (with ``names``) lower-case name holds the most of the
        lower-case ``pieces`` (at least one; each counts once), most first, ties in id order; with ``first``,
        only those whose e-mail starts with that character."""
        ...


class ProductRepository(Protocol):
    async def get(self, product_id: str) -> Product | None: ...

    async def find_by_sku(self, sku: str) -> Product | None:
        """In any letter case."""
        ...

    async def add(self, product: Product) -> None:
        """Store a new product; raises models.errors.UniqueViolationError on a taken SKU."""
        ...

    async def update(self, product: Product) -> None:
        """Overwrite everything but the stock level, which only adjust_stock changes."""
        ...

    async def adjust_stock(self, product_id: str, delta: int, at: datetime) -> int | None:
        """Atomically add ``delta`` unless stock would go below zero; the new level, or None if refused."""
        ...

    async def page_after(
        self, *, text: str | None, active_only: bool, stock_below: int | None, after_id: str | None, limit: int
    ) -> list[Product]: ...

    async def near(
        self, pieces: Sequence[str], *, names: bool, active_only: bool, limit: int, first: str | None = None
    ) -> list[Candidate]:
        """Up to ``limit`` products whose lower-case SKU or (with ``names``) name holds the most of the
        lower-case ``pieces`` (at least one; each counts once), most first, ties in id order; with ``first``,
        only those whose lower-case SKU starts with that character."""
        ...


class AuditRepository(Protocol):
    async def add(self, entry: AuditEntry) -> None: ...

    async def page_before(
        self,
        *,
        entity_type: str | None,
        entity_id: str | None,
        action: str | None,
        before_sequence: int | None,
        limit: int,
    ) -> list[AuditEntry]:
        """Entries newest first, strictly older than ``before_sequence`` when given."""
        ...


class OutboxRepository(Protocol):
    async def add(self, message: OutboxMessage) -> None: ...

    async def get(self, message_id: str) -> OutboxMessage | None: ...

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int, *, claim: str) -> list[OutboxMessage]:
        """Mark up to ``limit`` due messages ``sending``, held by ``claim`` until ``lease_until``, and return them.

        Due: pending with ``next_attempt_at <= now``, or sending with an expired lease (a worker
        that died mid-send, or one that is too slow). Callers hold the write lock, so two workers
        never claim one message at the same time; a later claim replaces the earlier one's token.
        """
        ...

    async def renew(self, message_id: str, claim: str, lease_until: datetime) -> bool:
        """Extend the lease to ``lease_until`` if the message is still ``sending`` under ``claim``.

        False, and nothing changes, when another worker has claimed it since or it is no longer sending.
        """
        ...

    async def finish(self, message: OutboxMessage, claim: str) -> bool:
        """Record an outcome (status, attempts, last_error, next_attempt_at, sent_at) and release the claim,
        only if the message is still ``sending`` under ``claim``; False, and nothing changes, otherwise."""
        ...

    async def update(self, message: OutboxMessage) -> None:
        """Overwrite status, attempts, last_error, next_attempt_at and sent_at (whoever holds it)."""
        ...

    async def page_after(self, *, status: str | None, after_id: str | None, limit: int) -> list[OutboxMessage]: ...


class EmailSender(Protocol):
    async def send(self, email: Email, *, message_id: str) -> SendOutcome:
        """Deliver ``email``; ``message_id`` lets a provider drop a duplicate. Never raises for a
        failed delivery: the outcome says whether trying again can help."""
        ...


class OrderRepository(Protocol):
    async def get(self, order_id: str) -> Order | None:
        """The order with its lines."""
        ...

    async def detail(self, order_id: str) -> tuple[Order, Customer | None, list[Payment]] | None:
        """The order with its lines, its customer, and its payments and refunds (oldest first)."""
        ...

    async def add(self, order: Order) -> None:
        """Store a new order and its lines."""
        ...

    async def update(self, order: Order) -> None:
        """Overwrite the order's status, amounts, shipment and timestamps, and each line's restocked count."""
        ...

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
        """Orders newest first (without their lines), strictly older than ``before_id`` when given;
        ``placed_from`` inclusive, ``placed_to`` exclusive."""
        ...


class PaymentRepository(Protocol):
    async def get(self, payment_id: str) -> Payment | None: ...

    async def for_order(self, order_id: str) -> list[Payment]:
        """The order's payments and refunds, oldest first."""
        ...

    async def by_ids(self, ids: Sequence[str]) -> list[Payment]: ...

    async def add(self, payment: Payment) -> None: ...

    async def set_refunded(self, payment_id: str, refunded_minor: int) -> None: ...

    async def settle(
        self, payment_id: str, *, status: PaymentStatus, gateway_reference: str | None, reason: str | None
    ) -> bool:
        """Move a ``pending`` row to ``status`` and drop its lease; False (and no change) when it is no
        longer pending."""
        ...

    async def claim(self, payment_id: str, *, claim: str, now: datetime, lease_until: datetime) -> bool:
        """Hold a pending row for ``claim`` until ``lease_until``, unless another holds it past ``now``.

        False, and nothing changes, when the row is not pending or its lease has not run out; callers
        hold the write lock, so two requests never hold one row at the same time.
        """
        ...

    async def release(self, payment_id: str, claim: str) -> None:
        """Drop the row's lease if ``claim`` still holds it (a later claim or a settle may have replaced it)."""
        ...

    async def rest(self, payment_id: str, *, attempts: int, next_attempt_at: datetime) -> None:
        """Store that asking about a pending row left it pending ``attempts`` times, and when to ask
        again (no change when it is no longer pending)."""
        ...

    async def pending_between(self, since: datetime, before: datetime, limit: int) -> list[Payment]:
        """Pending rows created from ``since`` up to (not including) ``before``, oldest first."""
        ...

    async def by_gateway_reference(self, gateway_reference: str) -> list[Payment]:
        """The rows carrying the gateway's id ``gateway_reference`` (pi_…, re_…), oldest first."""
        ...

    async def page_after(
        self,
        *,
        order_id: str | None,
        created_from: datetime | None,
        created_to: datetime | None,
        after_sequence: int | None,
        limit: int,
    ) -> list[Payment]:
        """Payments and refunds in the order they were recorded."""
        ...


class WebhookEventRepository(Protocol):
    """The payment gateway's events the webhook door has taken, each id once."""

    async def get(self, event_id: str) -> TakenEvent | None: ...

    async def add(self, event: TakenEvent) -> bool:
        """File ``event`` unless one with its id is filed; False (and no change) if one is."""
        ...


class PaymentGateway(Protocol):
    """A card-payment gateway. Every answer, failures included, comes back as an outcome value;
    a repeated call with the same ``idempotency_key`` returns what the gateway did the first time."""

    async def create_and_confirm_payment(
        self,
        amount_minor: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> PaymentOutcome: ...

    async def retrieve_payment(self, intent_id: str) -> RetrieveOutcome:
        """The payment as the gateway holds it now (a GET: safe to repeat)."""
        ...

    async def refund(
        self,
        payment_ref: str,
        amount_minor: int,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> RefundOutcome: ...


class RequestLog(Protocol):
    """Idempotency keys, approvers, and approval requests."""

    async def find(self, tool: str, key: str) -> StoredRequest | None: ...

    async def remember(self, tool: str, key: str, request: StoredRequest) -> None: ...

    async def add_approver(self, approver: Approver) -> bool:
        """File ``approver``; False if one with that name exists."""
        ...

    async def approver(self, name: str) -> Approver | None: ...

    async def approvers(self) -> list[Approver]: ...

    async def remove_approver(self, name: str) -> bool: ...

    async def add_approval(self, request: ApprovalRequest) -> None: ...

    async def approval(self, approval_id: str) -> ApprovalRequest | None: ...

    async def approvals(self, *, status: StoredStatus | None, limit: int) -> list[ApprovalRequest]:
        """The newest first, with ``status`` as stored (None: every one)."""
        ...

    async def move_approval(self, request: ApprovalRequest, was: StoredStatus) -> bool:
        """Store ``request``'s decision or use if it still has status ``was``; False if another call moved it."""
        ...


class Passphrases(Protocol):
    """Slow, salted hashes of approvers' passphrases (they never leave the person's terminal or page)."""

    async def hash(self, passphrase: str) -> str: ...

    async def verify(self, passphrase: str, stored: str) -> bool:
        """True if ``passphrase`` is the one ``stored`` was made from (in constant time)."""
        ...


class AccessTokenRepository(Protocol):
    """Access tokens for the HTTP door, found by the hash of their secret (the secret is never stored)."""

    async def add(self, token: AccessToken) -> None:
        """Store a new token; raises models.errors.UniqueViolationError("token name") on a taken name."""
        ...

    async def by_hash(self, token_hash: str) -> AccessToken | None: ...

    async def by_name(self, name: str) -> AccessToken | None: ...

    async def all(self) -> list[AccessToken]:
        """Every token, revoked ones included, newest first."""
        ...

    async def revoke(self, name: str, at: datetime) -> bool:
        """Mark the token ``name`` revoked at ``at`` if it is active; False (and no change) otherwise."""
        ...


class SecretSource(Protocol):
    def new(self) -> str:
        """A fresh, unguessable URL-safe secret (at least 256 random bits)."""
        ...


class ReportRepository(Protocol):
    async def sales_by_day(self, days: Sequence[DayWindow]) -> list[DaySales]:
        """Orders placed, units and revenue (cancelled orders excluded), and succeeded refunds made in the day
        on orders that are not cancelled, per day and currency; ``cancelled`` counts the orders left out."""
        ...

    async def sales_by_product(self, start: datetime, end: datetime, limit: int) -> list[ProductSales]:
        """Products by revenue over ``[start, end)``, best first."""
        ...


class UnitOfWork(Protocol):
    """One transaction: everything done through it is committed together, or not at all.

    Leaving the ``async with`` block without ``commit()`` discards every change.
    """

    @property
    def customers(self) -> CustomerRepository: ...

    @property
    def products(self) -> ProductRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def payments(self) -> PaymentRepository: ...

    @property
    def requests(self) -> RequestLog: ...

    @property
    def reports(self) -> ReportRepository: ...

    @property
    def webhooks(self) -> WebhookEventRepository: ...

    @property
    def tokens(self) -> AccessTokenRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write: bool) -> UnitOfWork:
        """A new unit of work; ``write=True`` takes the write lock up front so checks and writes agree."""
        ...
