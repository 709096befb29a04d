"""The outbox repository's claims on each engine: a lease is renewed, and an outcome recorded, only by
the worker round whose claim token the row still carries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mcp_server.models.outbox import OutboxMessage
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
A, B = "clm_" + "A" * 26, "clm_" + "B" * 26
NTF = "ntf_" + "1" * 26


def queued(at: datetime) -> OutboxMessage:
    return OutboxMessage(
        id=NTF,
        kind="welcome",
        recipient="ada@example.com",
        subject_id="cus_" + "1" * 26,
        payload={"name": "Ada"},
        status="pending",
        attempts=0,
        created_at=at,
        next_attempt_at=at,
    )


async def stored(uow: SqlUnitOfWorkFactory) -> OutboxMessage:
    async with uow(write=False) as work:
        message = await work.outbox.get(NTF)
    assert message is not None
    return message


async def claim(uow: SqlUnitOfWorkFactory, now: datetime, token: str) -> list[OutboxMessage]:
    async with uow(write=True) as work:
        claimed = await work.outbox.claim_due(now, now + LEASE, 20, claim=token)
        await work.commit()
    return claimed


async def renew(uow: SqlUnitOfWorkFactory, token: str, until: datetime) -> bool:
    async with uow(write=True) as work:
        renewed = await work.outbox.renew(NTF, token, until)
        await work.commit()
    return renewed


async def finish(uow: SqlUnitOfWorkFactory, message: OutboxMessage, token: str) -> bool:
    async with uow(write=True) as work:
        recorded = await work.outbox.finish(message, token)
        await work.commit()
    return recorded


async def test_only_the_current_claim_renews_the_lease_and_records_the_outcome(uow: SqlUnitOfWorkFactory):
    async with uow(write=True) as work:
        await work.outbox.add(queued(T0))
        await work.commit()

    (claimed,) = await claim(uow, T0, A)
    assert (claimed.status, claimed.claimed_by, claimed.next_attempt_at) == ("sending", A, T0 + LEASE)
    assert await stored(uow) == claimed
    assert await claim(uow, T0 + LEASE - timedelta(seconds=1), B) == []  # still leased to A

    assert await renew(uow, A, T0 + timedelta(seconds=90) + LEASE)
    assert (await stored(uow)).next_attempt_at == T0 + timedelta(seconds=90) + LEASE
    assert not await renew(uow, B, T0 + timedelta(days=1))  # B holds no claim on it
    assert not await finish(uow, replace(claimed, status="sent", attempts=1, sent_at=T0), B)
    assert (await stored(uow)).next_attempt_at == T0 + timedelta(seconds=90) + LEASE

    # A's renewed lease runs out; B claims the message, and from then on A can neither renew nor record
    later = T0 + timedelta(seconds=90) + LEASE
    (taken,) = await claim(uow, later, B)
    assert (taken.claimed_by, taken.attempts) == (B, 0)
    assert not await renew(uow, A, later + LEASE)
    failed_by_a = replace(claimed, status="pending", attempts=1, last_error="answered 503", next_attempt_at=later)
    assert not await finish(uow, failed_by_a, A)
    assert await stored(uow) == taken

    sent_by_b = replace(taken, status="sent", attempts=1, sent_at=later)
    assert await finish(uow, sent_by_b, B)
    done = await stored(uow)
    assert done == replace(sent_by_b, claimed_by=None)
    assert not await finish(uow, replace(sent_by_b, attempts=2), B)  # recorded once: no longer sending
    assert not await renew(uow, B, later + LEASE)
    assert await stored(uow) == done
    assert await claim(uow, later + timedelta(days=1), A) == []  # sent: never claimed again
