from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mcp_server.models.approvals import ApprovalRequest, Approver, StoredStatus
from mcp_server.models.entities.base import utc_from_db
from mcp_server.models.entities.requests import (
    ApprovalRequestEntity,
    ApproverEntity,
    IdempotencyKeyEntity,
)
from mcp_server.models.requests import StoredRequest
from mcp_server.repositories.sql import fetch_one

_keys = cast(Table, IdempotencyKeyEntity.__table__)
_FIND_COLUMNS = [_keys.c.request_hash, _keys.c.result_ids, _keys.c.created_at]
_FIND = select(*_FIND_COLUMNS).where(_keys.c.tool == bindparam("tool"), _keys.c.key == bindparam("key"))
_approvers = cast(Table, ApproverEntity.__table__)
_approvals = cast(Table, ApprovalRequestEntity.__table__)


# On a database server two writers with one key would both find nothing and both act; the loser's
# insert would then fail. So a writer first takes a transaction lock named after the key: the second
# waits until the first commits, then finds its record and answers as its replay (as under SQLite's
# BEGIN IMMEDIATE). A statement of its own: at READ COMMITTED the next statement sees the winner's row.
_LOCK_NAME = select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("name"), 0)))
_PENDING_APPROVALS = "approvals:pending"


class SqlRequestLog:
    def __init__(self, connection: AsyncConnection, *, lock: bool = False) -> None:
        self._connection = connection
        self._lock = lock

    async def _take_turns(self, name: str) -> None:
        if self._lock:
            await self._connection.execute(_LOCK_NAME, {"name": name})

    async def find(self, tool: str, key: str) -> StoredRequest | None:
        """The request stored under ``key``; a writer on a database server waits for one with that key."""
        await self._take_turns(f"key:{tool}:{key}")
        row = await fetch_one(self._connection, _FIND, {"tool": tool, "key": key}, inline=True)
        if row is None:
            return None
        request_hash, result_ids, created_at = row
        return StoredRequest(request_hash, tuple(str(result_ids).split()), utc_from_db(created_at))

    async def remember(self, tool: str, key: str, request: StoredRequest) -> None:
        await self._connection.execute(
            insert(_keys).values(
                tool=tool,
                key=key,
                request_hash=request.request_hash,
                result_ids=" ".join(request.result_ids),
                created_at=request.created_at,
            )
        )

    # -- approvers and approval requests (rare: the ordinary execute path) --------------------------

    async def add_approver(self, approver: Approver) -> bool:
        """File ``approver``; False if one with that name exists (callers hold the write lock)."""
        if await self.approver(approver.name) is not None:
            return False
        await self._connection.execute(
            insert(_approvers).values(
                name=approver.name, passphrase_hash=approver.passphrase_hash, created_at=approver.created_at
            )
        )
        return True

    async def approver(self, name: str) -> Approver | None:
        row = (await self._connection.execute(select(_approvers).where(_approvers.c.name == name))).first()
        return Approver(row.name, row.passphrase_hash, utc_from_db(row.created_at)) if row is not None else None

    async def approvers(self) -> list[Approver]:
        rows = await self._connection.execute(select(_approvers).order_by(_approvers.c.name))
        return [Approver(r.name, r.passphrase_hash, utc_from_db(r.created_at)) for r in rows]

    async def remove_approver(self, name: str) -> bool:
        result = await self._connection.execute(
            delete(_approvers).where(_approvers.c.name == name).returning(_approvers.c.name)
        )
        return result.first() is not None

    async def add_approval(self, request: ApprovalRequest) -> None:
        await self._connection.execute(insert(_approvals).values(**_approval_values(request)))

    async def approval(self, approval_id: str) -> ApprovalRequest | None:
        row = (await self._connection.execute(select(_approvals).where(_approvals.c.id == approval_id))).first()
        return _approval(row) if row is not None else None

    async def approvals(self, *, status: StoredStatus | None, limit: int) -> list[ApprovalRequest]:
        """The newest first; ``status`` as stored (expiry is read from ``expires_at``). A writer on a
        database server reading pending requests waits for another doing so: identical asks share one."""
        if status == "pending":
            await self._take_turns(_PENDING_APPROVALS)
        statement = select(_approvals).order_by(_approvals.c.created_at.desc(), _approvals.c.id.desc()).limit(limit)
        if status is not None:
            statement = statement.where(_approvals.c.status == status)
        return [_approval(row) for row in await self._connection.execute(statement)]

    async def move_approval(self, request: ApprovalRequest, was: StoredStatus) -> bool:
        """Store ``request``'s decision or use if it still has status ``was``; False if another call moved it."""
        values = _approval_values(request)
        result = await self._connection.execute(
            update(_approvals)
            .where(_approvals.c.id == request.id, _approvals.c.status == was)
            .values(
                status=values["status"],
                decided_by=values["decided_by"],
                decided_at=values["decided_at"],
                used_at=values["used_at"],
            )
            .returning(_approvals.c.id)
        )
        return result.first() is not None


def _approval_values(request: ApprovalRequest) -> dict[str, object]:
    return {
        "id": request.id,
        "use_case": request.use_case,
        "arguments_digest": request.arguments_digest,
        "state_digest": request.state_digest,
        "summary": request.summary,
        "subject_id": request.subject_id,
        "actor": request.actor,
        "created_at": request.created_at,
        "expires_at": request.expires_at,
        "status": request.status,
        "decided_by": request.decided_by,
        "decided_at": request.decided_at,
        "used_at": request.used_at,
    }


def _approval(row: Row[Any]) -> ApprovalRequest:
    return ApprovalRequest(
        id=row.id,
        use_case=row.use_case,
        arguments_digest=row.arguments_digest,
        state_digest=row.state_digest,
        summary=row.summary,
        subject_id=row.subject_id,
        actor=row.actor,
        created_at=utc_from_db(row.created_at),
        expires_at=utc_from_db(row.expires_at),
        status=cast(StoredStatus, row.status),
        decided_by=row.decided_by,
        decided_at=utc_from_db(row.decided_at) if row.decided_at is not None else None,
        used_at=utc_from_db(row.used_at) if row.used_at is not None else None,
    )
