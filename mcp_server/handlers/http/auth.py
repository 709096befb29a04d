"""Bearer tokens on the HTTP door: the SDK's token-verification hook, answered by the shop's own tokens.

The SDK's bearer middleware asks ``verify_token`` for every request to ``/mcp`` (401 with
``WWW-Authenticate`` when it answers None) and keeps the answer for the request; ``http_caller`` turns
it into the ``Caller`` the scope gate and the audit log use (``token:NAME``). A deployment behind an
identity provider can chain a JWT verifier in front (``FirstOf``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, TokenVerifier

from mcp_server.handlers.mcp.context import BackendUnavailableError, ServiceRegistry
from mcp_server.models.access import SCOPES, Caller, Scope

logger = logging.getLogger("mcp_server.http")
NOBODY = Caller(actor=None, scopes=frozenset())


class ShopTokenVerifier:
    """Tokens made with ``shopkeeper tokens create``: only their hash is stored; a revoked one is refused."""

    def __init__(self, services: Callable[[], Awaitable[ServiceRegistry]]) -> None:
        self._services = services

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            registry = await self._services()
        except BackendUnavailableError:
            logger.warning("a bearer token could not be checked: the shop's database is not available")
            return None
        caller = await registry.access.authenticate(token)
        if not isinstance(caller, Caller) or caller.actor is None:  # unknown, revoked, or the database busy
            return None
        return AccessToken(token=token, client_id=caller.actor, scopes=[s for s in SCOPES if s in caller.scopes])


class FirstOf:
    """Several verifiers in turn (an identity provider's JWTs, then the shop's own tokens): the first yes wins."""

    def __init__(self, verifiers: Sequence[TokenVerifier]) -> None:
        self._verifiers = tuple(verifiers)

    async def verify_token(self, token: str) -> AccessToken | None:
        for verifier in self._verifiers:
            verified = await verifier.verify_token(token)
            if verified is not None:
                return verified
        return None


def http_caller() -> Caller:
    """The caller of the HTTP request being served, from its verified token (nobody without one)."""
    token = get_access_token()
    if token is None:
        return NOBODY
    scopes: frozenset[Scope] = frozenset(scope for scope in SCOPES if scope in token.scopes)
    # The shop's tokens name themselves token:NAME, an identity provider's jwt:SUBJECT; anything else is a token.
    actor = token.client_id if token.client_id.startswith(("token:", "jwt:")) else f"token:{token.client_id}"
    return Caller(actor=actor[:200], scopes=scopes)
