"""What every payment use case works with; each use case is one module of this package."""

from __future__ import annotations

from datetime import tzinfo

from mcp_server.services.approvals import ApprovalDesk
from mcp_server.services.cards import CardDesk
from mcp_server.services.ports import Clock, IdFactory, UnitOfWorkFactory
from mcp_server.services.unit_of_work import with_events


class UseCase:
    """The unit of work, clock, ids, the approval desk, the shop's time zone and the process's one card desk."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdFactory,
        approvals: ApprovalDesk,
        timezone: tzinfo,
        cards: CardDesk,
    ) -> None:
        self._uow = with_events(uow, clock, ids)
        self._clock = clock
        self._ids = ids
        self._approvals = approvals
        self._timezone = timezone
        self._cards = cards
