"""Access-token secrets: made from the operating system's randomness, kept only as a SHA-256 hash.

A plain (unsalted, fast) hash is enough here: the secret is 256 random bits, not a person's
passphrase, so nobody can guess it from the hash, and a fast hash lets every request be checked.
"""

from __future__ import annotations

import hashlib
import secrets

SECRET_BYTES = 32


class RandomSecrets:
    """The real ``SecretSource``: 32 random bytes, URL-safe base64 (43 characters)."""

    def new(self) -> str:
        return secrets.token_urlsafe(SECRET_BYTES)


def token_hash(secret: str) -> str:
    """The SHA-256 of ``secret`` (UTF-8), in hex: what the shop stores and looks tokens up by."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
