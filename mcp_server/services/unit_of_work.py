"""The unit of work every use case writes through: a storage transaction (the ``UnitOfWork`` port)
plus the domain events raised in it, whose audit entries and e-mails are written at commit."""

from __future__ import annotations

from types import TracebackType

from mcp_server.models.events import Event
from mcp_server.services.event_handlers import Stamp, effects_of
from mcp_server.services.ports import (
    AccessTokenRepository,
    AuditRepository,
    Clock,
    CustomerRepository,
    IdFactory,
    OrderRepository,
    OutboxRepository,
    PaymentRepository,
    ProductRepository,
    ReportRepository,
    RequestLog,
    UnitOfWork,
    UnitOfWorkFactory,
    WebhookEventRepository,
)


class EventfulUnitOfWork:
    """Use cases raise an event for each change (``raise_event``); ``commit`` hands every event to
    ``services.event_handlers`` and adds the audit entry and e-mail it makes, then commits them
    with the change. Leaving without ``commit`` drops the events with the change."""

    customers: CustomerRepository
    products: ProductRepository
    audit: AuditRepository
    outbox: OutboxRepository
    orders: OrderRepository
    payments: PaymentRepository
    requests: RequestLog
    reports: ReportRepository
    webhooks: WebhookEventRepository
    tokens: AccessTokenRepository

    def __init__(self, storage: UnitOfWork, clock: Clock, ids: IdFactory) -> None:
        self._storage = storage
        self._clock = clock
        self._ids = ids
        self._events: list[Event] = []

    async def __aenter__(self) -> EventfulUnitOfWork:
        s = await self._storage.__aenter__()
        self._storage = s
        self.customers, self.products, self.audit, self.outbox = s.customers, s.products, s.audit, s.outbox
        self.orders, self.payments, self.requests, self.reports = s.orders, s.payments, s.requests, s.reports
        self.webhooks = s.webhooks
        self.tokens = s.tokens
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._events.clear()
        await self._storage.__aexit__(exc_type, exc, tb)

    def raise_event(self, event: Event) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        stamp = Stamp(self._ids, self._clock.now())
        events, self._events = self._events, []
        for event in events:
            entry, mail = effects_of(event, stamp)
            await self._storage.audit.add(entry)
            if mail is not None:
                await self._storage.outbox.add(mail)
        await self._storage.commit()


class EventfulUnitOfWorkFactory:
    def __init__(self, storage: UnitOfWorkFactory, clock: Clock, ids: IdFactory) -> None:
        self.storage = storage
        self._clock = clock
        self._ids = ids

    def __call__(self, *, write: bool) -> EventfulUnitOfWork:
        return EventfulUnitOfWork(self.storage(write=write), self._clock, self._ids)


def with_events(
    uow: UnitOfWorkFactory | EventfulUnitOfWorkFactory, clock: Clock, ids: IdFactory
) -> EventfulUnitOfWorkFactory:
    """``uow``'s units of work with domain events (a factory that already has them is returned as it is)."""
    if isinstance(uow, EventfulUnitOfWorkFactory):
        return uow
    return EventfulUnitOfWorkFactory(uow, clock, ids)
