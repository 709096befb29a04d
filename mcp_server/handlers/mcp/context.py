"""What the lifespan hands to tools: service accessors, typed by the services' own classes.

Handlers never import adapters; the entrypoint builds an ``AppContext`` and the server's
lifespan yields it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mcp_server.models.access import EVERY_SCOPE, Caller

if TYPE_CHECKING:  # the services load with the database, in the background, after the server answers initialize
    from mcp_server.services.access import AccessService
    from mcp_server.services.approvals import ApprovalService
    from mcp_server.services.audit import AuditService
    from mcp_server.services.catalog import CatalogService
    from mcp_server.services.customers import CustomerService
    from mcp_server.services.notifications import NotificationService
    from mcp_server.services.orders import OrderService
    from mcp_server.services.payments import PaymentService
    from mcp_server.services.reports import ReportService


class ServiceRegistry(Protocol):
    @property
    def customers(self) -> CustomerService: ...

    @property
    def catalog(self) -> CatalogService: ...

    @property
    def audit(self) -> AuditService: ...

    @property
    def orders(self) -> OrderService: ...

    @property
    def payments(self) -> PaymentService: ...

    @property
    def reports(self) -> ReportService: ...

    @property
    def notifications(self) -> NotificationService: ...

    @property
    def approvals(self) -> ApprovalService: ...

    @property
    def access(self) -> AccessService: ...


class BackendUnavailableError(Exception):
    """The database could not be opened or migrated; ``public_message`` is safe to show an agent."""

    def __init__(self, public_message: str) -> None:
        super().__init__(public_message)
        self.public_message = public_message


def _not_new() -> bool:
    return False


def _everyone() -> Caller:
    return Caller(actor=None, scopes=EVERY_SCOPE)


@dataclass(frozen=True, slots=True)
class AppContext:
    """``services()`` waits for start-up work (imports, migrations) to finish, then returns the services.

    ``new_shop()`` is True once, for the first answer after the server created the shop's database.
    """

    services: Callable[[], Awaitable[ServiceRegistry]]
    actor: str | None = None
    new_shop: Callable[[], bool] = _not_new
    approval_link: Callable[[str], Awaitable[str | None]] | None = None
    """The approval page's link for a request (the page starts on first need); None: no page."""
    caller: Callable[[], Caller] = _everyone
    """Who is calling this request and with which scopes: the settings' on stdio, the token's on HTTP."""
