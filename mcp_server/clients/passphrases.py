"""Approvers' passphrases as slow, salted scrypt hashes (OpenSSL's, through Python's hashlib).

Stored as ``scrypt$N$r$p$salt$hash`` (base64), so the cost can be raised later without losing
the approvers already set up. Hashing takes tens of milliseconds on purpose: it runs on a
worker thread, never on the event loop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

import anyio

N, R, P = 2**15, 8, 1
_MAXMEM = 128 * 1024 * 1024
_DUMMY_SALT = b"\0" * 16


class ScryptPassphrases:
    def __init__(self, *, n: int = N) -> None:
        self._n = n

    async def hash(self, passphrase: str) -> str:
        salt = os.urandom(16)
        digest = await anyio.to_thread.run_sync(_scrypt, passphrase, salt, self._n, R, P)
        return f"scrypt${self._n}${R}${P}${_b64(salt)}${_b64(digest)}"

    async def verify(self, passphrase: str, stored: str) -> bool:
        parts = stored.split("$")
        if len(parts) != 6 or parts[0] != "scrypt" or not all(p.isdigit() for p in parts[1:4]):
            # No such approver: do the same work, so the answer's timing does not tell.
            await anyio.to_thread.run_sync(_scrypt, passphrase, _DUMMY_SALT, self._n, R, P)
            return False
        n, r, p = (int(x) for x in parts[1:4])
        try:
            salt, expected = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
            digest = await anyio.to_thread.run_sync(_scrypt, passphrase, salt, n, r, p)
        except (ValueError, binascii.Error):  # a corrupt or tampered hash: it matches nothing
            return False
        return hmac.compare_digest(digest, expected)


def _scrypt(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        passphrase.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
