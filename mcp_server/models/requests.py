"""Bookkeeping about calls rather than the shop: what an idempotency key was first used for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """What an earlier call with the same idempotency key asked for, and what it made."""

    request_hash: str
    result_ids: tuple[str, ...]
    created_at: datetime
