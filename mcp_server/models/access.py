"""Who may do what: scopes, and the access tokens that carry them on the HTTP door.

A scope names a group of tools; scopes add up, and a write scope does not imply ``read``. The
stdio door takes its scopes from settings (all by default), the HTTP door from the caller's token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

Scope = Literal["read", "customers", "catalog", "orders", "payments", "refunds", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
READ_ONLY: frozenset[Scope] = frozenset({"read"})
EVERY_SCOPE: frozenset[Scope] = frozenset(SCOPES)

SCOPE_MEANINGS: dict[Scope, str] = {
    "read": "every read-only tool, the resources and the prompts",
    "customers": "register and update customers",
    "catalog": "create and update products, adjust stock",
    "orders": "place, ship and deliver orders; cancel one with nothing to give back",
    "payments": "record payments",
    "refunds": "refund, and cancel an order when money goes back",
    "admin": "retry failed e-mails",
}

ACCESS_TOKEN_ID_PREFIX = "tok"  # noqa: S105 - an id prefix, not a secret
ACCESS_TOKEN_PREFIX = "shk_"  # noqa: S105 - the visible start of every token, not a secret
"""What every access token starts with, so a leaked one is recognisable (and scanners can find it)."""


def parse_scopes(text: str) -> frozenset[Scope]:
    """Scopes from ``"read,orders"`` (commas or spaces); ValueError naming the unknown ones."""
    words = {word for word in text.replace(",", " ").split() if word}
    unknown = sorted(words - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; choose from {', '.join(SCOPES)}")
    if not words:
        raise ValueError(f"give at least one scope: {', '.join(SCOPES)}")
    return frozenset(word for word in SCOPES if word in words)


def scope_text(scopes: frozenset[Scope]) -> str:
    """Scopes in their fixed order, space-separated (as OAuth writes them)."""
    return " ".join(scope for scope in SCOPES if scope in scopes)


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A token the shop issued: its name (the audit actor ``token:NAME``), its scopes, and only a hash of
    its secret; revoked ones stay listed."""

    id: str
    name: str
    token_hash: str
    scopes: frozenset[Scope]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def actor(self) -> str:
        return f"token:{self.name}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling through a door, and what they may do."""

    actor: str | None
    scopes: frozenset[Scope]

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes
