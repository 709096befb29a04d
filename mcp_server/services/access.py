"""Access tokens for the HTTP door: issue one (its secret shown once), list, revoke, and tell who a
presented secret belongs to. The shop keeps only a SHA-256 hash of each secret."""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from mcp_server.models.access import (
    ACCESS_TOKEN_ID_PREFIX,
    ACCESS_TOKEN_PREFIX,
    AccessToken,
    Caller,
    parse_scopes,
)
from mcp_server.models.errors import UniqueViolationError
from mcp_server.models.events import TokenCreated, TokenRevoked
from mcp_server.services.ports import Clock, IdFactory, SecretSource, UnitOfWorkFactory
from mcp_server.services.results import Conflict, NotFound, Rejected, Success, unavailable_when_busy
from mcp_server.services.unit_of_work import EventfulUnitOfWorkFactory, with_events
from mcp_server.utils.time import isoformat_utc
from mcp_server.utils.tokens import token_hash

TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
MAX_SECRET_CHARS = 512
"""Longer than any token the shop makes; a longer presented secret is refused before it is hashed."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just made, with its secret: shown to the person once, then forgotten."""

    token: AccessToken
    secret: str = field(repr=False)  # never in a log line or a traceback's locals


def token_name(name: str) -> str | None:
    """``name`` as filed (spaces around it dropped), or None when it is not a valid token name."""
    stripped = name.strip()
    return stripped if TOKEN_NAME.match(stripped) else None


class AccessService:
    def __init__(
        self, uow: UnitOfWorkFactory | EventfulUnitOfWorkFactory, clock: Clock, ids: IdFactory, secrets: SecretSource
    ) -> None:
        self._uow = with_events(uow, clock, ids)
        self._clock = clock
        self._ids = ids
        self._secrets = secrets

    @unavailable_when_busy
    async def create(
        self, name: str, scopes: Iterable[str], *, actor: str
    ) -> Success[IssuedToken] | Conflict | Rejected:
        """A new token named ``name`` with ``scopes``; its secret is in the result and nowhere else."""
        filed = token_name(name)
        if filed is None:
            return Rejected(
                "a token's name is 1 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit",
                field="name",
            )
        try:
            granted = parse_scopes(" ".join(scopes))
        except ValueError as exc:
            return Rejected(str(exc), field="scopes")
        secret = ACCESS_TOKEN_PREFIX + self._secrets.new()
        try:
            async with self._uow(write=True) as uow:
                if await uow.tokens.by_name(filed) is not None:
                    return _name_taken(filed)
                token = AccessToken(
                    id=self._ids.new(ACCESS_TOKEN_ID_PREFIX),
                    name=filed,
                    token_hash=token_hash(secret),
                    scopes=granted,
                    created_at=self._clock.now(),
                )
                await uow.tokens.add(token)
                uow.raise_event(TokenCreated(actor, token))
                await uow.commit()
        except UniqueViolationError:  # another writer took the name between our check and our write
            return _name_taken(filed)
        return Success(IssuedToken(token, secret))

    @unavailable_when_busy
    async def list(self) -> Success[list[AccessToken]]:
        """Every token, revoked ones included, newest first."""
        async with self._uow(write=False) as uow:
            return Success(await uow.tokens.all())

    @unavailable_when_busy
    async def revoke(self, name: str, *, actor: str) -> Success[AccessToken] | NotFound | Conflict:
        """Revoke the token ``name``: from now on it opens nothing. It stays listed."""
        filed = token_name(name) or name.strip()
        async with self._uow(write=True) as uow:
            token = await uow.tokens.by_name(filed)
            if token is None:
                return NotFound("access token", f"name {filed[:60]!r}")
            now = self._clock.now()
            if token.revoked_at is not None or not await uow.tokens.revoke(filed, now):
                return _already_revoked(await uow.tokens.by_name(filed) or token)
            revoked = replace(token, revoked_at=now)
            uow.raise_event(TokenRevoked(actor, revoked))
            await uow.commit()
        return Success(revoked)

    @unavailable_when_busy
    async def authenticate(self, secret: str) -> Caller | None:
        """Who presents ``secret``, or None for an unknown, revoked or malformed one.

        The same work for every input (one hash, one lookup by it), so the time taken tells nothing;
        the secret is never logged or kept. Unavailable (not None) when the database cannot answer, so a
        door can say "try again" instead of "bad token".
        """
        presented = token_hash(secret[: MAX_SECRET_CHARS + 1])
        async with self._uow(write=False) as uow:
            token = await uow.tokens.by_hash(presented)
        if token is None or not hmac.compare_digest(token.token_hash, presented):
            return None
        if not token.active or len(secret) > MAX_SECRET_CHARS or not secret.startswith(ACCESS_TOKEN_PREFIX):
            return None
        return Caller(actor=token.actor, scopes=token.scopes)


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"there is already an access token named {name!r} (revoked ones keep their names): choose another name",
        entity="access token",
        existing_id=name,
    )


def _already_revoked(token: AccessToken) -> Conflict:
    when = f" at {isoformat_utc(token.revoked_at)}" if token.revoked_at is not None else ""
    return Conflict(
        f"access token {token.name!r} was already revoked{when}; nothing was changed",
        entity="access token",
        existing_id=token.name,
    )
