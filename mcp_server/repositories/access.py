"""Access tokens: stored by name with a hash of their secret, found by that hash on every HTTP request."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mcp_server.models.access import SCOPES, AccessToken, scope_text
from mcp_server.models.entities.base import utc_from_db
from mcp_server.models.entities.requests import AccessTokenEntity
from mcp_server.models.errors import UniqueViolationError
from mcp_server.repositories.sql import fetch_all, fetch_one

_t = cast(Table, AccessTokenEntity.__table__)
_COLUMNS = [_t.c.id, _t.c.name, _t.c.token_hash, _t.c.scopes, _t.c.created_at, _t.c.revoked_at]
_BY_HASH = select(*_COLUMNS).where(_t.c.token_hash == bindparam("token_hash"))
_BY_NAME = select(*_COLUMNS).where(_t.c.name == bindparam("name"))
_ALL = select(*_COLUMNS).order_by(_t.c.created_at.desc(), _t.c.id.desc())


class SqlAccessTokenRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, token: AccessToken) -> None:
        statement = insert(_t).values(
            id=token.id,
            name=token.name,
            token_hash=token.token_hash,
            scopes=scope_text(token.scopes),
            created_at=token.created_at,
            revoked_at=token.revoked_at,
        )
        try:
            await self._connection.execute(statement)
        except IntegrityError as exc:
            # A taken name is a business outcome; a taken hash (or anything else) is a bug.
            if "access_tokens.name" in str(exc.orig) or "uq_access_tokens_name" in str(exc.orig):
                raise UniqueViolationError("token name") from exc
            raise

    async def by_hash(self, token_hash: str) -> AccessToken | None:
        """One index lookup, on every request through the HTTP door: the fast path."""
        row = await fetch_one(self._connection, _BY_HASH, {"token_hash": token_hash}, inline=True)
        return _token(row) if row is not None else None

    async def by_name(self, name: str) -> AccessToken | None:
        row = await fetch_one(self._connection, _BY_NAME, {"name": name}, inline=True)
        return _token(row) if row is not None else None

    async def all(self) -> list[AccessToken]:
        return [_token(row) for row in await fetch_all(self._connection, _ALL, {})]

    async def revoke(self, name: str, at: datetime) -> bool:
        result = await self._connection.execute(
            update(_t).where(_t.c.name == name, _t.c.revoked_at.is_(None)).values(revoked_at=at).returning(_t.c.id)
        )
        return result.first() is not None


def _token(row: Sequence[Any]) -> AccessToken:
    id_, name, token_hash, scopes, created_at, revoked_at = row
    return AccessToken(
        id=id_,
        name=name,
        token_hash=token_hash,
        # Stored by scope_text from the fixed list; a word this version does not know grants nothing.
        scopes=frozenset(word for word in str(scopes).split() if word in SCOPES),
        created_at=utc_from_db(created_at),
        revoked_at=utc_from_db(revoked_at) if revoked_at is not None else None,
    )
