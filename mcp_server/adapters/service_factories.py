"""Builds the services on real adapters: one engine, one set of services per process."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from mcp_server.adapters.database import (
    Creation,
    PoolOptions,
    create_engine,
    current_revision,
    provide_database_file,
    sqlite_file,
    unit_of_work_factory,
    upgrade,
)
from mcp_server.adapters.migrations import HEAD_REVISION
from mcp_server.clients.mail_files import FileEmailSender
from mcp_server.clients.passphrases import ScryptPassphrases
from mcp_server.services.access import AccessService
from mcp_server.services.approvals import APPROVAL_TTL, ApprovalDesk, ApprovalService
from mcp_server.services.audit import AuditService
from mcp_server.services.cards import CardDesk
from mcp_server.services.catalog import CatalogService
from mcp_server.services.customers import CustomerService
from mcp_server.services.notifications import NotificationService
from mcp_server.services.orders import OrderService
from mcp_server.services.payments import PaymentService
from mcp_server.services.ports import EmailSender, PaymentGateway
from mcp_server.services.reports import ReportService
from mcp_server.services.unit_of_work import with_events
from mcp_server.utils.ids import IdGenerator
from mcp_server.utils.time import SystemClock
from mcp_server.utils.tokens import RandomSecrets

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MailOptions:
    """How e-mails leave: a provider when there is a token, files in ``directory`` otherwise."""

    directory: Path
    sender: str = "shop@localhost"
    api_base: str = "https://api.postmarkapp.com"
    token: str | None = None


@dataclass(frozen=True, slots=True)
class CardOptions:
    """The card-payment gateway (a Stripe-compatible API). Without a key, card payments are off."""

    secret_key: str
    api_base: str = "https://api.stripe.com"

    def __repr__(self) -> str:  # never print the key
        return f"CardOptions(api_base={self.api_base!r})"


# One HTTP client for every outside service, with explicit limits: a charge waits at most
# 5 s to connect and 30 s for an answer before the gateway client retries (with the same key).
HTTP_TIMEOUT_S = {"connect": 5.0, "read": 30.0, "write": 10.0, "pool": 5.0}


@dataclass(frozen=True, slots=True)
class Services:
    customers: CustomerService
    catalog: CatalogService
    audit: AuditService
    orders: OrderService
    payments: PaymentService
    reports: ReportService
    notifications: NotificationService
    approvals: ApprovalService
    access: AccessService


class Backend:
    """The database-backed half of the application: engine plus the services built on it."""

    def __init__(self, engine: AsyncEngine, services: Services, closers: list[Callable[[], Awaitable[None]]]) -> None:
        self.engine = engine
        self.services = services
        self._closers = closers
        self.is_new = False
        """True when this start made the shop: the file was created, or had no schema yet."""

    @classmethod
    async def start(
        cls,
        database_url: str,
        *,
        timezone: str = "UTC",
        mail: MailOptions | None = None,
        cards: CardOptions | None = None,
        create: Creation = "never",
        approval_ttl: timedelta = APPROVAL_TTL,
        approvals_required: bool = True,
        pool: PoolOptions | None = None,
    ) -> Backend:
        """The services on ``database_url``; a missing database file is created only as ``create``
        allows (DatabaseMissingError otherwise). ``approvals_required=False`` lets money go back with
        no person (SHOPKEEPER_APPROVALS=none, for unattended automation only)."""
        path = sqlite_file(database_url)
        created = path is not None and provide_database_file(path, create)
        engine = create_engine(database_url, pool=pool)
        closers: list[Callable[[], Awaitable[None]]] = []
        try:
            before = await current_revision(engine)  # what ensure_schema() would read first
            is_new = created or before is None
            if before != HEAD_REVISION and await upgrade(engine):
                logger.info("database at revision %s", HEAD_REVISION)
            uow = unit_of_work_factory(engine)
            clock, ids, zone = SystemClock(), IdGenerator(), ZoneInfo(timezone)
            outside = _Outside(closers, _secrets(mail, cards))
            sender = _sender(mail or MailOptions(directory=_beside(database_url)), outside)
            gateway = _gateway(cards, outside)
            approvals = ApprovalDesk(clock, ids, ttl=approval_ttl, required=approvals_required)
            desk = CardDesk(uow, clock, ids, gateway)  # the one place that talks to the gateway, for both services
            services = Services(
                customers=CustomerService(uow, clock, ids),
                catalog=CatalogService(uow, clock, ids),
                audit=AuditService(uow),
                orders=OrderService(uow, clock, ids, approvals, zone, cards=desk),
                payments=PaymentService(uow, clock, ids, approvals, zone, cards=desk),
                reports=ReportService(uow, zone),
                notifications=NotificationService(uow, clock, ids, sender),
                approvals=ApprovalService(with_events(uow, clock, ids), clock, ScryptPassphrases()),
                access=AccessService(uow, clock, ids, RandomSecrets()),
            )
        except BaseException:
            for close in closers:
                await close()
            await engine.dispose()
            raise
        backend = cls(engine, services, closers)
        backend.is_new = is_new
        return backend

    async def close(self) -> None:
        for close in self._closers:
            await close()
        await self.engine.dispose()


def _beside(database_url: str) -> Path:
    """The mail folder beside a SQLite file; a database server has no folder, so its caller names one."""
    path = sqlite_file(database_url)
    if path is None:
        raise ValueError("a database server's shop needs MailOptions with a directory (SHOPKEEPER_MAIL_DIR)")
    return path.parent / "mail"


class _Outside:
    """The one ``httpx.AsyncClient`` the outside-service clients share, made on first need
    (httpx is not imported when no outside service is configured)."""

    def __init__(self, closers: list[Callable[[], Awaitable[None]]], secrets: dict[str, str]) -> None:
        self._closers = closers
        self.secrets = secrets
        """Each configured secret and what replaces it in text from outside: each client hides them all."""
        self._http: httpx.AsyncClient | None = None

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(timeout=httpx.Timeout(**HTTP_TIMEOUT_S), follow_redirects=False)
            self._closers.append(self._http.aclose)
            self._scrub_http_logs()
        return self._http

    def _scrub_http_logs(self) -> None:
        """httpx logs each answer's status line, httpcore (at DEBUG) its headers: a provider may echo a
        secret there, so their records are scrubbed while this client lives."""
        from mcp_server.utils.secrets import Scrubber, ScrubbingLogFilter

        scrubbing = ScrubbingLogFilter(Scrubber(self.secrets))
        loggers = [logging.getLogger(name) for name in _HTTP_LOGGERS]
        for each in loggers:
            each.addFilter(scrubbing)

        async def remove() -> None:
            for each in loggers:
                each.removeFilter(scrubbing)

        self._closers.append(remove)


_HTTP_LOGGERS = ("httpx", *(f"httpcore.{part}" for part in ("connection", "http11", "http2", "proxy", "socks")))


def _secrets(mail: MailOptions | None, cards: CardOptions | None) -> dict[str, str]:
    found = {mail.token: "[server token]"} if mail is not None and mail.token else {}
    return found | ({cards.secret_key: "[secret key]"} if cards is not None else {})


def _sender(mail: MailOptions, outside: _Outside) -> EmailSender:
    if not mail.token:
        return FileEmailSender(mail.directory, sender=mail.sender)
    from mcp_server.clients.email_provider import SEND_TIMEOUT, PostmarkEmailSender

    return PostmarkEmailSender(
        outside.http(),
        base_url=mail.api_base,
        token=mail.token,
        sender=mail.sender,
        timeout=SEND_TIMEOUT,
        also_hide=outside.secrets,
    )


def _gateway(cards: CardOptions | None, outside: _Outside) -> PaymentGateway | None:
    if cards is None:
        return None
    from mcp_server.clients.payment_gateway import StripePaymentGateway

    return StripePaymentGateway(
        outside.http(), secret_key=cards.secret_key, base_url=cards.api_base, also_hide=outside.secrets
    )
