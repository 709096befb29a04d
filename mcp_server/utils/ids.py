"""Opaque, sortable identifiers with a type prefix (``cus_…``, ``aud_…``).

The body is a 26-character ULID-style string in Crockford base32: 48 bits of
milliseconds followed by 80 random bits. Within one process the generator is
monotonic, so identifiers sort in creation order.
"""

from __future__ import annotations

import os
import re
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BODY_LENGTH = 26
_ID_PATTERN = re.compile(r"^(?P<prefix>[a-z]{3})_(?P<body>[0-9A-HJKMNP-TV-Z]{26})$")


def _encode(value: int, length: int) -> str:
    chars: list[str] = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


class IdGenerator:
    """Makes prefixed identifiers; monotonic within one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new(self, prefix: str) -> str:
        with self._lock:
            now_ms = time.time_ns() // 1_000_000
            if now_ms <= self._last_ms:
                now_ms = self._last_ms
                self._last_random += 1
            else:
                self._last_ms = now_ms
                self._last_random = int.from_bytes(os.urandom(10), "big") >> 1
            value = (now_ms << 80) | (self._last_random & ((1 << 80) - 1))
        return f"{prefix}_{_encode(value, _BODY_LENGTH)}"


def has_prefix(identifier: str, prefix: str) -> bool:
    """True when ``identifier`` is well formed and carries ``prefix``."""
    match = _ID_PATTERN.match(identifier)
    return match is not None and match.group("prefix") == prefix


_CROCKFORD_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})


def canonical_id(identifier: str, prefix: str) -> str | None:
    """The id as this server writes it, or None if it cannot be one with ``prefix``.

    Crockford base32 reads the same in any letter case (and I/L as 1, O as 0), so an id an
    agent re-typed in lower case still finds its record.
    """
    head, sep, body = identifier.strip().partition("_")
    if not sep or head.lower() != prefix:
        return None
    candidate = f"{prefix}_{body.upper().translate(_CROCKFORD_ALIASES)}"
    return candidate if has_prefix(candidate, prefix) else None
