"""Outgoing notifications, queued in the same transaction as the change that causes them.

A worker claims due messages (status ``sending`` with a lease and its claim token), renders and
sends each one, and marks it ``sent``; a failure is retried with exponential backoff and, after
the last attempt, parked as ``failed`` with the reason, where ``notifications_retry`` can re-queue it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mcp_server.models.common import DEFAULT_LIMIT, Cursor, Limit

OUTBOX_ID_PREFIX = "ntf"
CLAIM_ID_PREFIX = "clm"

NotificationKind = Literal["welcome", "order_placed", "order_shipped", "order_refunded", "order_cancelled"]
NotificationStatus = Literal["pending", "sending", "sent", "failed"]
NOTIFICATION_STATUSES: tuple[NotificationStatus, ...] = ("pending", "sending", "sent", "failed")


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
    last_error: str | None = None
    sent_at: datetime | None = None
    claimed_by: str | None = None
    """While ``sending``: the token of the worker round that holds the lease (clm_…); None otherwise."""


@dataclass(frozen=True, slots=True)
class Email:
    """A rendered message, ready for a sender."""

    to: str
    subject: str
    text: str


@dataclass(frozen=True, slots=True)
class Delivered:
    reference: str  # the provider's message id, or the file it was written to


@dataclass(frozen=True, slots=True)
class TemporaryFailure:
    """Worth trying again later (a timeout, 429, 5xx)."""

    reason: str


@dataclass(frozen=True, slots=True)
class PermanentFailure:
    """Trying again will not help (an invalid address, a rejected token)."""

    reason: str


SendOutcome = Delivered | TemporaryFailure | PermanentFailure


class NotificationQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: NotificationStatus | None = None
    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None


NotificationId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class NotificationRead(BaseModel):
    id: str
    kind: NotificationKind
    recipient: str
    subject_id: str = Field(description="cus_… or ord_…")
    status: NotificationStatus
    attempts: int
    last_error: str | None = None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None = None

    @classmethod
    def from_record(cls, m: OutboxMessage) -> NotificationRead:
        return cls(
            id=m.id,
            kind=m.kind,
            recipient=m.recipient,
            subject_id=m.subject_id,
            status=m.status,
            attempts=m.attempts,
            last_error=m.last_error,
            created_at=m.created_at,
            next_attempt_at=m.next_attempt_at,
            sent_at=m.sent_at,
        )


class NotificationPageRead(BaseModel):
    notifications: list[NotificationRead]
    next_cursor: str | None
