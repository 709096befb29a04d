"""Builds the services on real adapters: one engine, one set of services per process."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from mcp_server.adapters.database import create_engine, ensure_schema, server_secret, writer
from mcp_server.adapters.migrations import HEAD_REVISION
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory
from mcp_server.services.audit import AuditService
from mcp_server.services.catalog import CatalogService
from mcp_server.services.customers import CustomerService
from mcp_server.services.orders import OrderService
from mcp_server.services.payments import PaymentService
from mcp_server.services.reports import ReportService
from mcp_server.services.requests import ConfirmationTokens
from mcp_server.utils.ids import IdGenerator
from mcp_server.utils.time import SystemClock

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Services:
    customers: CustomerService
    catalog: CatalogService
    audit: AuditService
    orders: OrderService
    payments: PaymentService
    reports: ReportService


class Backend:
    """The database-backed half of the application: engine plus the services built on it."""

    def __init__(self, engine: AsyncEngine, services: Services) -> None:
        self.engine = engine
        self.services = services

    @classmethod
    async def start(cls, database_url: str, *, timezone: str = "UTC", secret: bytes | None = None) -> Backend:
        """``secret`` signs confirmation tokens; by default the one kept in the database, so a token
        from one server process works in another (e.g. MCP Inspector's one process per call)."""
        engine = create_engine(database_url)
        try:
            if await ensure_schema(engine):
                logger.info("database at revision %s", HEAD_REVISION)
            uow = SqlUnitOfWorkFactory(engine, writer(engine))
            clock, ids, zone = SystemClock(), IdGenerator(), ZoneInfo(timezone)
            secret = secret or await server_secret(engine, "confirmation_tokens")
            tokens = ConfirmationTokens(secret, clock, ids)
            services = Services(
                customers=CustomerService(uow, clock, ids),
                catalog=CatalogService(uow, clock, ids),
                audit=AuditService(uow),
                orders=OrderService(uow, clock, ids, tokens, zone),
                payments=PaymentService(uow, clock, ids, tokens, zone),
                reports=ReportService(uow, zone),
            )
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, services)

    async def close(self) -> None:
        await self.engine.dispose()
