"""Stripe's webhook signature: ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]``.

Each ``v1`` is HMAC-SHA256, keyed with the endpoint's signing secret (``whsec_…``, the whole
string), over ``f"{t}.".encode() + raw body``. Several ``v1`` values arrive while a secret is being
rolled; one matching is enough. ``t`` must be within ``TOLERANCE`` of now, so a captured request
cannot be replayed later. Pure: the caller hands in the clock's reading.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

TOLERANCE_S = 300
MAX_HEADER_CHARS = 4096
MAX_SIGNATURES = 16

Refusal = Literal["missing", "malformed", "no_v1", "mismatch", "too_old"]
"""Why a signature was refused: for the log, never for the caller."""


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``v1`` signature Stripe would send for ``payload`` at ``timestamp``."""
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify(
    payload: bytes, header: str | None, secret: str, *, now: float, tolerance_s: int = TOLERANCE_S
) -> Refusal | None:
    """None when ``header`` signs ``payload`` with ``secret`` within ``tolerance_s`` seconds of ``now``
    (Unix seconds); otherwise why not. Every ``v1`` is compared in constant time."""
    if not header:
        return "missing"
    if len(header) > MAX_HEADER_CHARS:
        return "malformed"
    timestamp: int | None = None
    signatures: list[bytes] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return "malformed"
        if key == "t":
            # A second t, or one that is not plain digits, is not Stripe's.
            if timestamp is not None or not (value.isascii() and value.isdigit()) or len(value) > 12:
                return "malformed"
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value.encode("utf-8", "replace"))
        # v0 (test-mode scheme) and unknown schemes are ignored, as Stripe's own libraries do.
    if timestamp is None:
        return "malformed"
    if not signatures:
        return "no_v1"
    if len(signatures) > MAX_SIGNATURES:
        return "malformed"
    expected = sign(payload, secret, timestamp).encode("ascii")
    matched = False
    for candidate in signatures:  # no early exit: each comparison takes the same time
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        return "mismatch"
    if abs(now - timestamp) > tolerance_s:
        return "too_old"
    return None
