"""JWTs from an identity provider, for a deployment that signs its people in elsewhere.

Plugged into the SDK's token-verification hook beside the shop's own tokens: the signature (with the
provider's public key, or a shared secret for HS256), the issuer, the audience and the expiry are all
checked; the scopes come from the token's ``scope`` (space-separated) or ``scp`` (a list) claim, and
the audit actor is ``jwt:<sub>``. Anything that does not verify is simply not this kind of token.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import jwt
from mcp.server.auth.provider import AccessToken

from mcp_server.models.access import SCOPES

logger = logging.getLogger("mcp_server.http")


class JwtVerifier:
    """Verifies JWTs signed by one issuer for one audience; ``key`` is a PEM public key or an HS secret."""

    def __init__(self, *, key: str, issuer: str, audience: str, algorithms: Sequence[str]) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._algorithms = list(algorithms)

    async def verify_token(self, token: str) -> AccessToken | None:
        if token.count(".") != 2:  # not a JWT (a shop token, say): someone else's to check
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            logger.info("a JWT was refused: %s", type(exc).__name__)  # the reason's class, never the token
            return None
        subject = str(claims["sub"])[:150]
        return AccessToken(
            token=token,
            client_id=f"jwt:{subject}",
            scopes=[scope for scope in SCOPES if scope in _scopes(claims)],
            expires_at=int(claims["exp"]),
            subject=subject,
        )


def _scopes(claims: dict[str, Any]) -> set[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return set(scope.split())
    listed = claims.get("scp")
    if isinstance(listed, list):
        return {str(item) for item in listed}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return set()
