"""The audit trail: reading it, and the one helper every mutating use case writes through."""

from __future__ import annotations

from collections.abc import Mapping

from mcp_server.models.audit import AUDIT_ID_PREFIX, AuditEntry, AuditQuery, JsonScalar
from mcp_server.models.common import Page
from mcp_server.services.ports import Clock, IdFactory, UnitOfWork, UnitOfWorkFactory
from mcp_server.services.results import Rejected, Success, unavailable_when_busy
from mcp_server.utils.cursors import CursorError, decode_cursor, encode_cursor
from mcp_server.utils.ids import canonical_id

_CURSOR_KIND = "audit"


class AuditRecorder:
    """Builds audit entries; used inside another use case's unit of work."""

    def __init__(self, clock: Clock, ids: IdFactory) -> None:
        self._clock = clock
        self._ids = ids

    async def record(
        self,
        uow: UnitOfWork,
        *,
        actor: str,
        action: str,
        entity_type: str,
        entity_id: str,
        before: Mapping[str, JsonScalar] | None,
        after: Mapping[str, JsonScalar] | None,
    ) -> AuditEntry:
        entry = AuditEntry(
            id=self._ids.new(AUDIT_ID_PREFIX),
            occurred_at=self._clock.now(),
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=dict(before) if before is not None else None,
            after=dict(after) if after is not None else None,
        )
        await uow.audit.add(entry)
        return entry


class AuditService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    @unavailable_when_busy
    async def list(self, query: AuditQuery) -> Success[Page[AuditEntry]] | Rejected:
        entity_id = query.entity_id
        if entity_id is not None and "_" in entity_id:
            # Ids are case-insensitive (see utils.ids); look them up the way they are stored.
            entity_id = canonical_id(entity_id, entity_id.split("_", 1)[0].lower()) or entity_id
        filters = {"entity_type": query.entity_type, "entity_id": entity_id, "action": query.action}
        before: int | None = None
        if query.cursor is not None:
            try:
                (key,) = decode_cursor(query.cursor, _CURSOR_KIND, filters, arity=1)
            except CursorError as exc:
                return Rejected(str(exc), field="cursor")
            if not isinstance(key, int):
                return Rejected("the cursor is not one this server issued", field="cursor")
            before = key
        async with self._uow(write=False) as uow:
            rows = await uow.audit.page_before(
                entity_type=query.entity_type,
                entity_id=entity_id,
                action=query.action,
                before_sequence=before,
                limit=query.limit + 1,
            )
        items = rows[: query.limit]
        next_cursor = (
            encode_cursor(_CURSOR_KIND, filters, [items[-1].sequence]) if len(rows) > query.limit and items else None
        )
        return Success(Page(items=items, next_cursor=next_cursor))
