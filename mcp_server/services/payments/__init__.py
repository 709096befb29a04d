"""Payment use cases, one module each: recording (and charging a card), refunds, settling pending
card rows in the background, or when the gateway's webhook says something happened, settling them
by hand, and listing the ledger.

``PaymentService`` is the door's one handle on them: it builds each use case on the same adapters
and the process's one card desk (``services.cards``), and passes each call on unchanged.
"""

from __future__ import annotations

from datetime import timedelta, tzinfo

from mcp_server.models.common import Page
from mcp_server.models.gateway_events import GatewayEvent
from mcp_server.models.payments import Payment, PaymentCreate, PaymentQuery, PaymentSettle, RefundCreate
from mcp_server.services.approvals import Approval, ApprovalDesk, NeedsApproval
from mcp_server.services.cards import CardDesk
from mcp_server.services.payments.by_hand import ByHand
from mcp_server.services.payments.gateway_events import EventTaken, GatewayEvents
from mcp_server.services.payments.listing import Listing
from mcp_server.services.payments.outcomes import CardNotCharged, HandSettlement, Recorded, RefundPlan, SettleRound
from mcp_server.services.payments.recording import Recording, RecordResult
from mcp_server.services.payments.refunds import RefundResult, Refunds
from mcp_server.services.payments.settling import SETTLE_AFTER, SETTLE_BATCH, Settling
from mcp_server.services.ports import Clock, IdFactory, PaymentGateway, UnitOfWorkFactory
from mcp_server.services.results import IllegalTransition, NotFound, Rejected, Success, Unavailable

__all__ = [
    "CardNotCharged",
    "EventTaken",
    "HandSettlement",
    "PaymentService",
    "Recorded",
    "RefundPlan",
    "SettleRound",
]


class PaymentService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdFactory,
        approvals: ApprovalDesk,
        timezone: tzinfo,
        gateway: PaymentGateway | None = None,
        *,
        cards: CardDesk | None = None,
    ) -> None:
        """``cards``: the process's one card desk (the entrypoint's); without it one is made on ``gateway``."""
        desk = cards or CardDesk(uow, clock, ids, gateway)
        parts = (uow, clock, ids, approvals, timezone, desk)
        self._cards = desk
        self._recording = Recording(*parts)
        self._refunds = Refunds(*parts)
        self._settling = Settling(*parts)
        self._events = GatewayEvents(*parts)
        self._by_hand = ByHand(*parts)
        self._listing = Listing(*parts)

    @property
    def cards_available(self) -> bool:
        return self._cards.available

    async def record(
        self, request: PaymentCreate, *, actor: str, idempotency_key: str | None = None
    ) -> RecordResult | Unavailable:
        """See ``Recording.record``."""
        return await self._recording.record(request, actor=actor, idempotency_key=idempotency_key)

    async def list(self, query: PaymentQuery) -> Success[Page[Payment]] | Rejected | Unavailable:
        """See ``Listing.list``."""
        return await self._listing.list(query)

    async def was_refunded_with(self, request: RefundCreate, idempotency_key: str) -> bool | Unavailable:
        """See ``Refunds.was_refunded_with``."""
        return await self._refunds.was_refunded_with(request, idempotency_key)

    async def preview_refund(
        self, request: RefundCreate
    ) -> Success[RefundPlan] | NotFound | Rejected | IllegalTransition | Unavailable:
        """See ``Refunds.preview_refund``."""
        return await self._refunds.preview_refund(request)

    async def refund(
        self, request: RefundCreate, *, actor: str, approval: Approval, idempotency_key: str | None = None
    ) -> RefundResult | Unavailable:
        """See ``Refunds.refund``."""
        return await self._refunds.refund(request, actor=actor, approval=approval, idempotency_key=idempotency_key)

    async def settle_pending(
        self, *, actor: str, min_age: timedelta = SETTLE_AFTER, limit: int = SETTLE_BATCH
    ) -> SettleRound | Unavailable:
        """See ``Settling.settle_pending``."""
        return await self._settling.settle_pending(actor=actor, min_age=min_age, limit=limit)

    async def take_gateway_event(self, event: GatewayEvent, *, actor: str) -> EventTaken | Unavailable:
        """See ``GatewayEvents.take_event``."""
        return await self._events.take_event(event, actor=actor)

    async def settle_by_hand(
        self, request: PaymentSettle, *, actor: str, approval: Approval
    ) -> Success[HandSettlement] | NeedsApproval[HandSettlement] | NotFound | Rejected | Unavailable:
        """See ``ByHand.settle_by_hand``."""
        return await self._by_hand.settle_by_hand(request, actor=actor, approval=approval)
