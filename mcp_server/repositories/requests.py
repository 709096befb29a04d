from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mcp_server.models.entities.base import utc_from_db
from mcp_server.models.entities.requests import IdempotencyKeyEntity, UsedConfirmationEntity
from mcp_server.models.requests import StoredRequest
from mcp_server.repositories.sql import fetch_one

_keys = cast(Table, IdempotencyKeyEntity.__table__)
_used = cast(Table, UsedConfirmationEntity.__table__)
_FIND_COLUMNS = [_keys.c.request_hash, _keys.c.result_ids, _keys.c.created_at]
_FIND = select(*_FIND_COLUMNS).where(_keys.c.tool == bindparam("tool"), _keys.c.key == bindparam("key"))
_USED = select(_used.c.nonce).where(_used.c.nonce == bindparam("nonce"))


class SqlRequestLog:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def find(self, tool: str, key: str) -> StoredRequest | None:
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

    async def confirmation_used(self, nonce: str) -> bool:
        return await fetch_one(self._connection, _USED, {"nonce": nonce}, inline=True) is not None

    async def claim_confirmation(self, nonce: str, at: datetime) -> bool:
        # Callers hold the write lock (BEGIN IMMEDIATE), so the check and the insert agree.
        if await self.confirmation_used(nonce):
            return False
        await self._connection.execute(insert(_used).values(nonce=nonce, used_at=at))
        return True
