"""OutboxRepository: due messages are claimed under a lease, a claimed one is not claimed again until
its lease has passed, and only the round that holds the claim renews it or records the outcome."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from mcp_server.models.outbox import OutboxMessage
from mcp_server.services.ports import UnitOfWorkFactory
from tests.contract.records import T0, at, message, read, save, written

pytestmark = pytest.mark.anyio

LEASE = timedelta(minutes=2)
A, B = "clm_" + "A" * 26, "clm_" + "B" * 26


async def claim(uow: UnitOfWorkFactory, now: datetime, token: str, limit: int = 20) -> list[OutboxMessage]:
    return await written(uow, lambda w: w.outbox.claim_due(now, now + LEASE, limit, claim=token))


async def stored(uow: UnitOfWorkFactory, n: int) -> OutboxMessage:
    found = await read(uow, lambda w: w.outbox.get(message(n).id))
    assert found is not None
    return found


async def test_a_message_comes_back_as_queued(uow_factory: UnitOfWorkFactory) -> None:
    queued = message(1)
    await save(uow_factory, queued)
    assert await stored(uow_factory, 1) == queued
    assert await read(uow_factory, lambda w: w.outbox.get("ntf_missing")) is None


async def test_due_messages_are_claimed_oldest_due_first_up_to_the_limit(uow_factory: UnitOfWorkFactory) -> None:
    await save(
        uow_factory,
        message(1, due=at(30)),
        message(2, due=at(10)),
        message(3, due=at(10)),
        message(4, due=at(61)),  # not due yet
        message(5, due=at(0), status="sent"),
        message(6, due=at(0), status="failed"),
    )
    now = at(60)
    claimed = await claim(uow_factory, now, A, limit=2)
    assert [m.id for m in claimed] == [message(2).id, message(3).id], "by due time, then id"
    assert claimed[0] == replace(message(2, due=at(10)), status="sending", next_attempt_at=now + LEASE, claimed_by=A)
    assert [await stored(uow_factory, n) for n in (2, 3)] == claimed
    rest = await claim(uow_factory, now, B)
    assert [m.id for m in rest] == [message(1).id], "sent, failed, not-yet-due and leased ones stay"
    assert (await stored(uow_factory, 4)).status == "pending"
    assert (await stored(uow_factory, 5)).status == "sent"


async def test_a_claimed_message_is_claimed_again_only_once_its_lease_has_passed(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await save(uow_factory, message(1))
    (first,) = await claim(uow_factory, T0, A)
    assert await claim(uow_factory, T0 + LEASE - timedelta(microseconds=1), B) == []
    assert await stored(uow_factory, 1) == first
    (second,) = await claim(uow_factory, T0 + LEASE, B)  # due again the moment the lease ends
    assert (second.claimed_by, second.next_attempt_at, second.status) == (B, T0 + 2 * LEASE, "sending")
    assert await stored(uow_factory, 1) == second


async def test_only_the_holder_renews_the_lease(uow_factory: UnitOfWorkFactory) -> None:
    await save(uow_factory, message(1))
    (claimed,) = await claim(uow_factory, T0, A)
    later = T0 + timedelta(seconds=90) + LEASE
    assert await written(uow_factory, lambda w: w.outbox.renew(claimed.id, A, later)) is True
    assert await stored(uow_factory, 1) == replace(claimed, next_attempt_at=later)
    assert await written(uow_factory, lambda w: w.outbox.renew(claimed.id, B, at(days=1))) is False
    assert (await stored(uow_factory, 1)).next_attempt_at == later
    assert await written(uow_factory, lambda w: w.outbox.renew("ntf_missing", A, later)) is False


async def test_finish_records_the_outcome_only_under_the_current_claim(uow_factory: UnitOfWorkFactory) -> None:
    await save(uow_factory, message(1))
    (claimed,) = await claim(uow_factory, T0, A)
    sent = replace(claimed, status="sent", attempts=1, sent_at=at(5), last_error=None)
    assert await written(uow_factory, lambda w: w.outbox.finish(sent, B)) is False
    assert await stored(uow_factory, 1) == claimed, "a wrong claim changes nothing"
    assert await written(uow_factory, lambda w: w.outbox.finish(sent, A)) is True
    assert await stored(uow_factory, 1) == replace(sent, claimed_by=None)
    assert await written(uow_factory, lambda w: w.outbox.finish(sent, A)) is False, "no longer sending"
    assert await written(uow_factory, lambda w: w.outbox.renew(claimed.id, A, at(days=1))) is False


async def test_finish_stores_the_outcome_fields_only(uow_factory: UnitOfWorkFactory) -> None:
    await save(uow_factory, message(1))
    (claimed,) = await claim(uow_factory, T0, A)
    retry = replace(
        claimed, status="pending", attempts=1, last_error="timeout", next_attempt_at=at(300),
        recipient="someone.else@example.com", payload={"other": "payload"},
    )  # fmt: skip
    assert await written(uow_factory, lambda w: w.outbox.finish(retry, A)) is True
    assert await stored(uow_factory, 1) == replace(
        message(1), status="pending", attempts=1, last_error="timeout", next_attempt_at=at(300)
    )


async def test_a_lost_claim_cannot_finish_after_another_round_claims(uow_factory: UnitOfWorkFactory) -> None:
    await save(uow_factory, message(1))
    (mine,) = await claim(uow_factory, T0, A)
    (theirs,) = await claim(uow_factory, T0 + LEASE, B)
    assert (
        await written(uow_factory, lambda w: w.outbox.finish(replace(mine, status="sent", sent_at=at(1)), A)) is False
    )
    assert await written(uow_factory, lambda w: w.outbox.renew(mine.id, A, at(days=1))) is False
    assert await stored(uow_factory, 1) == theirs


async def test_update_overwrites_the_delivery_fields_whoever_holds_it(uow_factory: UnitOfWorkFactory) -> None:
    await save(uow_factory, message(1))
    (claimed,) = await claim(uow_factory, T0, A)
    parked = replace(
        claimed, status="failed", attempts=5, last_error="mailbox full", claimed_by=None, kind="order_placed"
    )
    await written(uow_factory, lambda w: w.outbox.update(parked))
    assert await stored(uow_factory, 1) == replace(claimed, status="failed", attempts=5, last_error="mailbox full"), (
        "status, attempts, last_error, next_attempt_at and sent_at only"
    )
    requeued = replace(parked, status="pending", attempts=0, next_attempt_at=at(600), sent_at=at(7))
    await written(uow_factory, lambda w: w.outbox.update(requeued))
    assert await stored(uow_factory, 1) == replace(
        claimed, status="pending", attempts=0, last_error="mailbox full", next_attempt_at=at(600), sent_at=at(7)
    )


async def test_pages_in_id_order_by_status(uow_factory: UnitOfWorkFactory) -> None:
    await save(
        uow_factory,
        message(3),
        message(1, status="failed"),
        message(4, status="sent"),
        message(2),
        message(5, status="failed"),
    )

    async def page(status: str | None, after: str | None = None, limit: int = 50) -> list[str]:
        rows = await read(uow_factory, lambda w: w.outbox.page_after(status=status, after_id=after, limit=limit))
        return [m.id for m in rows]

    assert await page(None) == [message(n).id for n in (1, 2, 3, 4, 5)]
    assert await page("failed") == [message(1).id, message(5).id]
    assert await page("pending", after=message(2).id) == [message(3).id]
    assert await page(None, after=message(1).id, limit=2) == [message(2).id, message(3).id]
    assert await page("sending") == []
