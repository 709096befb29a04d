"""Builds the services on real adapters: one engine, one set of services per process."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from mcp_server.adapters.database import create_engine, ensure_schema, server_secret, writer
from mcp_server.adapters.migrations import HEAD_REVISION
from mcp_server.clients.mail_files import FileEmailSender
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory
from mcp_server.services.audit import AuditService
from mcp_server.services.catalog import CatalogService
from mcp_server.services.customers import CustomerService
from mcp_server.services.notifications import NotificationService
from mcp_server.services.orders import OrderService
from mcp_server.services.payments import PaymentService
from mcp_server.services.ports import EmailSender
from mcp_server.services.reports import ReportService
from mcp_server.services.requests import ConfirmationTokens
from mcp_server.utils.ids import IdGenerator
from mcp_server.utils.time import SystemClock

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MailOptions:
    """How e-mails leave: a provider when there is a token, files in ``directory`` otherwise."""

    directory: Path
    sender: str = "shop@localhost"
    api_base: str = "https://api.postmarkapp.com"
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Services:
    customers: CustomerService
    catalog: CatalogService
    audit: AuditService
    orders: OrderService
    payments: PaymentService
    reports: ReportService
    notifications: NotificationService


class Backend:
    """The database-backed half of the application: engine plus the services built on it."""

    def __init__(self, engine: AsyncEngine, services: Services, closers: list[Callable[[], Awaitable[None]]]) -> None:
        self.engine = engine
        self.services = services
        self._closers = closers

    @classmethod
    async def start(
        cls, database_url: str, *, timezone: str = "UTC", secret: bytes | None = None, mail: MailOptions | None = None
    ) -> Backend:
        """``secret`` signs confirmation tokens; by default the one kept in the database, so a token
        from one server process works in another (e.g. MCP Inspector's one process per call)."""
        engine = create_engine(database_url)
        closers: list[Callable[[], Awaitable[None]]] = []
        try:
            if await ensure_schema(engine):
                logger.info("database at revision %s", HEAD_REVISION)
            uow = SqlUnitOfWorkFactory(engine, writer(engine))
            clock, ids, zone = SystemClock(), IdGenerator(), ZoneInfo(timezone)
            sender = _sender(mail or MailOptions(directory=_beside(database_url)), closers)
            secret = secret or await server_secret(engine, "confirmation_tokens")
            tokens = ConfirmationTokens(secret, clock, ids)
            services = Services(
                customers=CustomerService(uow, clock, ids),
                catalog=CatalogService(uow, clock, ids),
                audit=AuditService(uow),
                orders=OrderService(uow, clock, ids, tokens, zone),
                payments=PaymentService(uow, clock, ids, tokens, zone),
                reports=ReportService(uow, zone),
                notifications=NotificationService(uow, clock, ids, sender),
            )
        except BaseException:
            for close in closers:
                await close()
            await engine.dispose()
            raise
        return cls(engine, services, closers)

    async def close(self) -> None:
        for close in self._closers:
            await close()
        await self.engine.dispose()


def _beside(database_url: str) -> Path:
    return Path(database_url.split(":///", 1)[1].split("?", 1)[0]).parent / "mail"


def _sender(mail: MailOptions, closers: list[Callable[[], Awaitable[None]]]) -> EmailSender:
    if not mail.token:
        return FileEmailSender(mail.directory, sender=mail.sender)
    import httpx  # only when a provider is configured: it is not needed to start otherwise

    from mcp_server.clients.email_provider import PostmarkEmailSender

    http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0), follow_redirects=False)
    closers.append(http.aclose)
    return PostmarkEmailSender(http, base_url=mail.api_base, token=mail.token, sender=mail.sender)
