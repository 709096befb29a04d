"""What a tool's use case is handed in unit tests: every service over one in-memory shop."""

from __future__ import annotations

from dataclasses import dataclass

from mcp_types import CallToolResult, TextContent

from mcp_server.models.outbox import Delivered, Email, SendOutcome
from mcp_server.services.access import AccessService
from mcp_server.services.approvals import ApprovalService
from mcp_server.services.audit import AuditService
from mcp_server.services.catalog import CatalogService
from mcp_server.services.customers import CustomerService
from mcp_server.services.notifications import NotificationService
from mcp_server.services.orders import OrderService
from mcp_server.services.payments import PaymentService
from mcp_server.services.reports import ReportService
from tests.fakes import FakeSecrets, FakeUnitOfWorkFactory
from tests.unit.commerce import Shop


class ScriptedSender:
    """Answers each send with the next scripted outcome, then Delivered."""

    def __init__(self) -> None:
        self.outcomes: list[SendOutcome] = []

    async def send(self, email: Email, *, message_id: str) -> SendOutcome:
        del email
        return self.outcomes.pop(0) if self.outcomes else Delivered(f"provider-{message_id}")


@dataclass(frozen=True)
class Services:
    """The service registry a tool is handed: every service, over one in-memory shop."""

    shop: Shop
    audit: AuditService
    notifications: NotificationService

    @property
    def customers(self) -> CustomerService:
        return self.shop.customers

    @property
    def catalog(self) -> CatalogService:
        return self.shop.catalog

    @property
    def orders(self) -> OrderService:
        return self.shop.orders

    @property
    def payments(self) -> PaymentService:
        return self.shop.payments

    @property
    def reports(self) -> ReportService:
        return self.shop.reports

    @property
    def approvals(self) -> ApprovalService:
        return self.shop.approvals

    @property
    def access(self) -> AccessService:
        return AccessService(FakeUnitOfWorkFactory(self.shop.db), self.shop.clock, self.shop.ids, FakeSecrets())


def services_of(shop: Shop, sender: ScriptedSender | None = None) -> Services:
    uow = FakeUnitOfWorkFactory(shop.db)
    outbox = NotificationService(uow, shop.clock, shop.ids, sender or ScriptedSender())
    return Services(shop, AuditService(uow), outbox)


def text(result: CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, TextContent))
