"""Safe retries and human confirmation for calls that move money or stock.

Idempotency keys: the first call with a key stores a hash of its arguments and the ids of
what it made, in the same transaction as the change. A retry with the same key and
arguments gets those things back and changes nothing; the same key with other arguments is
a conflict. Failed calls store nothing, so they can be retried with the same key.

Confirmation tokens: a preview hands out a token bound (by HMAC) to the exact request and
the state it was previewed against, valid for a limited time. Redeeming it records its
nonce in the same transaction as the change, so it works once, in any process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from mcp_server.models.requests import StoredRequest
from mcp_server.services.ports import Clock, IdFactory, UnitOfWork
from mcp_server.services.results import Conflict, Rejected

T = TypeVar("T")

CONFIRMATION_TTL = timedelta(minutes=10)
_TOKEN_PREFIX = "cfm_"  # noqa: S105 - a prefix, not a secret


def request_hash(arguments: Mapping[str, object]) -> str:
    """A stable fingerprint of a call's (validated, normalised) arguments."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def replay(uow: UnitOfWork, tool: str, key: str | None, digest: str) -> tuple[str, ...] | Conflict | None:
    """The ids an earlier call with ``key`` made, a Conflict if it had other arguments, or None."""
    if key is None:
        return None
    stored = await uow.requests.find(tool, key)
    if stored is None:
        return None
    if stored.request_hash != digest:
        return Conflict(
            f"the idempotency_key '{key[:60]}' was already used at {stored.created_at:%Y-%m-%d %H:%M:%S} UTC "
            "with different arguments",
            entity="idempotency_key",
            existing_id=stored.result_ids[0] if stored.result_ids else None,
        )
    return stored.result_ids


async def remember(
    uow: UnitOfWork, tool: str, key: str | None, digest: str, result_ids: tuple[str, ...], at: datetime
) -> None:
    if key is not None:
        await uow.requests.remember(tool, key, StoredRequest(digest, result_ids, at))


@dataclass(frozen=True, slots=True)
class PersonConfirmed:
    """A person said yes (e.g. through MCP elicitation) just now."""


@dataclass(frozen=True, slots=True)
class TokenConfirmation:
    """The caller repeats a previewed request with the token the preview gave."""

    token: str


Approval = PersonConfirmed | TokenConfirmation | None


@dataclass(frozen=True, slots=True)
class NeedsConfirmation(Generic[T]):
    """Nothing was done: show ``preview`` to a person, then repeat the call with ``token``."""

    preview: T
    token: str
    expires_at: datetime


class ConfirmationTokens:
    def __init__(self, secret: bytes, clock: Clock, ids: IdFactory, ttl: timedelta = CONFIRMATION_TTL) -> None:
        if len(secret) < 16:
            raise ValueError("the confirmation secret needs at least 16 bytes")
        self._secret = secret
        self._clock = clock
        self._ids = ids
        self._ttl = ttl

    def issue(self, purpose: str, digest: str) -> tuple[str, datetime]:
        nonce = self._ids.new("cfm").split("_", 1)[1]
        expires_at = self._clock.now() + self._ttl
        expiry = int(expires_at.timestamp())
        return f"{_TOKEN_PREFIX}{nonce}.{expiry}.{self._mac(purpose, nonce, expiry, digest)}", expires_at

    def verify(self, token: str, purpose: str, digest: str) -> str | Rejected:
        """The token's nonce if it was issued for exactly this request and has not expired."""
        parts = token.strip().removeprefix(_TOKEN_PREFIX).split(".")
        if not token.strip().startswith(_TOKEN_PREFIX) or len(parts) != 3 or not parts[1].isdigit():
            return Rejected("this confirmation_token is not one this server issued", field="confirmation_token")
        nonce, expiry_text, mac = parts
        expiry = int(expiry_text)
        if not hmac.compare_digest(mac, self._mac(purpose, nonce, expiry, digest)):
            return Rejected(
                "this confirmation_token does not match these arguments: it was issued for a different request, "
                "or the order changed since the preview, or the token was altered",
                field="confirmation_token",
            )
        if self._clock.now() >= datetime.fromtimestamp(expiry, UTC):
            return Rejected(
                f"this confirmation_token has expired (tokens are valid for "
                f"{int(self._ttl.total_seconds() // 60)} minutes)",
                field="confirmation_token",
            )
        return nonce

    @staticmethod
    def nonce_of(token: str) -> str | None:
        parts = token.strip().removeprefix(_TOKEN_PREFIX).split(".")
        return parts[0] if len(parts) == 3 and parts[0] else None

    def now(self) -> datetime:
        return self._clock.now()

    def _mac(self, purpose: str, nonce: str, expiry: int, digest: str) -> str:
        message = f"{purpose}|{nonce}|{expiry}|{digest}".encode()
        raw = hmac.new(self._secret, message, hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(raw).decode()


async def redeem(
    uow: UnitOfWork, tokens: ConfirmationTokens, approval: Approval, purpose: str, digest: str
) -> Rejected | None:
    """Check an approval inside the unit of work that makes the change; None means go ahead."""
    match approval:
        case PersonConfirmed():
            return None
        case TokenConfirmation(token=token):
            nonce = tokens.verify(token, purpose, digest)
            if isinstance(nonce, Rejected):
                seen = tokens.nonce_of(token)
                if seen is not None and await uow.requests.confirmation_used(seen):
                    return _used()
                return nonce
            if not await uow.requests.claim_confirmation(nonce, tokens.now()):
                return _used()
            return None
        case None:
            raise ValueError("redeem() needs an approval; issue a token first")


def _used() -> Rejected:
    return Rejected("this confirmation_token was already used: each token works once", field="confirmation_token")
