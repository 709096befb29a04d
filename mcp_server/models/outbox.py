"""Outgoing notifications, queued in the same transaction as the change that causes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

OUTBOX_ID_PREFIX = "ntf"

NotificationKind = Literal["welcome", "order_placed", "order_shipped", "order_refunded", "order_cancelled"]
NotificationStatus = Literal["pending", "sent", "failed"]


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """An e-mail waiting to be delivered by the worker."""

    id: str
    kind: NotificationKind
    recipient: str
    subject_id: str
    payload: dict[str, str]
    status: NotificationStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
