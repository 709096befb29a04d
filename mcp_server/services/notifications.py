"""Delivering the outbox: claim what is due, render it, send it, record what happened.

Claiming happens in one short write transaction (the database's write lock makes it exclusive
across processes) and stamps each message with the round's claim token and a lease. Sending
happens outside any transaction, one message at a time, and each step is conditional on that
token: right before a message is sent its lease is renewed (``LEASE`` from now) only if the row
still carries this round's token, else another worker has claimed it since and it is skipped;
a send is given up after ``SEND_TIMEOUT``, well inside the lease, so no send outlives the lease it
was made under; and the outcome is recorded only if the row still carries the token, so a worker
that lost its claim cannot overwrite the result of the worker that took over.

A worker that dies between sending and recording leaves the message ``sending`` until its
lease runs out; it is then sent again — at least once, never by two workers at the same time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import anyio

from mcp_server.models.common import Page
from mcp_server.models.events import NotificationRequeued
from mcp_server.models.outbox import (
    CLAIM_ID_PREFIX,
    OUTBOX_ID_PREFIX,
    Delivered,
    Email,
    NotificationQuery,
    OutboxMessage,
    PermanentFailure,
    SendOutcome,
    TemporaryFailure,
)
from mcp_server.services.pagination import page_of, resume_after
from mcp_server.services.ports import Clock, EmailSender, IdFactory, UnitOfWorkFactory
from mcp_server.services.results import Malformed, NotFound, Rejected, Success, unavailable_when_busy
from mcp_server.services.unit_of_work import with_events
from mcp_server.utils.ids import canonical_id
from mcp_server.utils.schedule import next_attempt

_CURSOR_KIND = "notifications"
LEASE = timedelta(minutes=2)
"""How long a claim holds a message; renewed right before each send."""
SEND_TIMEOUT = timedelta(seconds=30)
"""A send still running after this is given up (a temporary failure). Three times the HTTP client's
10 s read timeout, and a quarter of the lease, so one send never outlives the lease it was made under."""
FIRST_RETRY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=6)
MAX_REASON_LENGTH = 300


@dataclass(frozen=True, slots=True)
class DeliveryRound:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    lost: int = 0
    """Claimed in this round but taken over by another worker once the lease ran out: skipped before
    sending, or sent with the outcome left to the worker that holds the claim now. Not in ``handled``."""

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed


def render(message: OutboxMessage, shop_name: str = "the shop") -> Email:
    """The e-mail for one outbox message; one template per kind."""
    p = message.payload
    name = p.get("name", "there")
    order = p.get("order_id", "")
    match message.kind:
        case "welcome":
            subject = f"Welcome to {shop_name}"
            body = f"Hello {name},\n\nthank you for registering with {shop_name}."
        case "order_placed":
            subject = f"Your order {order}"
            body = f"Hello {name},\n\nwe received your order {order} of {p.get('total', '')}."
        case "order_shipped":
            subject = f"Your order {order} is on its way"
            body = (
                f"Hello {name},\n\nyour order {order} has shipped with {p.get('carrier', 'our carrier')}; "
                f"the tracking number is {p.get('tracking_number', '-')}."
            )
        case "order_refunded":
            subject = f"A refund for your order {order}"
            body = f"Hello {name},\n\nwe refunded {p.get('refund', '')} for your order {order}."
        case "order_cancelled":
            refund = f" and refunded {p['refund']}" if p.get("refund") else ""
            subject = f"Your order {order} was cancelled"
            body = f"Hello {name},\n\nwe cancelled your order {order}{refund}."
    return Email(to=message.recipient, subject=subject, text=body + f"\n\nKind regards,\n{shop_name}\n")


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min … after the 1st, 2nd, 3rd … failed attempt, at most 6 hours."""
    return next_attempt(attempts, first=FIRST_RETRY, cap=MAX_DELAY)


def bounded_reason(reason: str) -> str:
    """A failure reason as it is stored and shown: one line, at most ``MAX_REASON_LENGTH`` characters."""
    line = " ".join(reason.split())
    return line if len(line) <= MAX_REASON_LENGTH else line[: MAX_REASON_LENGTH - 1] + "…"


class NotificationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdFactory,
        sender: EmailSender,
        *,
        max_attempts: int = 5,
        shop_name: str = "the shop",
        send_timeout: timedelta = SEND_TIMEOUT,
    ) -> None:
        if not timedelta(0) < send_timeout <= LEASE / 2:
            raise ValueError(f"send_timeout must be positive and at most half the lease ({LEASE / 2})")
        self._uow = with_events(uow, clock, ids)
        self._clock = clock
        self._ids = ids
        self._sender = sender
        self._max_attempts = max_attempts
        self._shop_name = shop_name
        self._send_timeout = send_timeout

    @unavailable_when_busy
    async def deliver_due(self, limit: int = 20) -> DeliveryRound:
        """Send what is due now; how many were sent, will be retried, were parked as failed, or were lost
        to another worker because this round's lease on them ran out."""
        now = self._clock.now()
        claim = self._ids.new(CLAIM_ID_PREFIX)
        async with self._uow(write=True) as uow:
            claimed = await uow.outbox.claim_due(now, now + LEASE, limit, claim=claim)
            await uow.commit()
        sent = retrying = failed = lost = 0
        for message in claimed:
            if not await self._renew(message, claim):
                lost += 1  # another worker claimed it once our lease ran out: it is theirs to send
                continue
            outcome = await self._send(message)
            at = self._clock.now()
            attempts = message.attempts + 1
            match outcome:
                case Delivered():
                    done = replace(message, status="sent", attempts=attempts, sent_at=at, last_error=None)
                case TemporaryFailure(reason=reason) if attempts < self._max_attempts:
                    done = replace(
                        message,
                        status="pending",
                        attempts=attempts,
                        last_error=bounded_reason(reason),
                        next_attempt_at=at + backoff(attempts),
                    )
                case TemporaryFailure(reason=reason) | PermanentFailure(reason=reason):
                    done = replace(
                        message,
                        status="failed",
                        attempts=attempts,
                        last_error=bounded_reason(reason),
                        next_attempt_at=at,
                    )
            async with self._uow(write=True) as uow:
                recorded = await uow.outbox.finish(done, claim)
                await uow.commit()
            if not recorded:
                lost += 1  # the worker that claimed it since records its own outcome; ours must not overwrite it
            elif done.status == "sent":
                sent += 1
            elif done.status == "pending":
                retrying += 1
            else:
                failed += 1
        return DeliveryRound(sent, retrying, failed, lost)

    async def _renew(self, message: OutboxMessage, claim: str) -> bool:
        """Extend the lease on ``message`` right before sending it, if this round still holds it."""
        lease_until = self._clock.now() + LEASE
        async with self._uow(write=True) as uow:
            renewed = await uow.outbox.renew(message.id, claim, lease_until)
            if renewed:
                await uow.commit()
        return renewed

    async def _send(self, message: OutboxMessage) -> SendOutcome:
        """Send one message, giving up after ``send_timeout`` so the send cannot outlive the lease."""
        with anyio.move_on_after(self._send_timeout.total_seconds()):
            return await self._sender.send(render(message, self._shop_name), message_id=message.id)
        return TemporaryFailure(f"sending took longer than {self._send_timeout.total_seconds():g} s and was given up")

    @unavailable_when_busy
    async def list(self, query: NotificationQuery) -> Success[Page[OutboxMessage]] | Rejected:
        filters = {"status": query.status}
        after = resume_after(query.cursor, _CURSOR_KIND, filters, str)
        if isinstance(after, Rejected):
            return after
        async with self._uow(write=False) as uow:
            rows = await uow.outbox.page_after(status=query.status, after_id=after, limit=query.limit + 1)
        return Success(page_of(rows, query.limit, _CURSOR_KIND, filters, key=lambda m: m.id))

    @unavailable_when_busy
    async def retry(self, notification_id: str, *, actor: str) -> Success[OutboxMessage] | NotFound | Rejected:
        """Put a failed message back in the queue, due now, with a fresh set of attempts."""
        canonical = canonical_id(notification_id, OUTBOX_ID_PREFIX)
        if canonical is None:
            return Malformed(
                f"'{notification_id[:80]}' is not a notification id (ntf_ followed by 26 letters and digits)",
                field="notification_id",
            )
        async with self._uow(write=True) as uow:
            message = await uow.outbox.get(canonical)
            if message is None:
                return NotFound("notification", f"id {canonical}")
            if message.status != "failed":
                return Rejected(
                    f"notification {canonical} is {message.status}: only failed ones can be retried",
                    field="notification_id",
                )
            now = self._clock.now()
            queued = replace(message, status="pending", attempts=0, next_attempt_at=now)
            await uow.outbox.update(queued)
            uow.raise_event(NotificationRequeued(actor, message))
            await uow.commit()
        return Success(queued)
