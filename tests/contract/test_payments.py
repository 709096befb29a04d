"""PaymentRepository: the ledger in the order money moved, and the conditional writes that let a
pending card row be held, settled and rested by one request at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from mcp_server.models.payments import Payment
from mcp_server.services.ports import UnitOfWorkFactory
from tests.contract.records import T0, at, customer, order, payment, product, read, save, written

pytestmark = pytest.mark.anyio

ADA = customer(1)
MUG = product(1, "MUG-01", price_minor=1000)
FIRST, SECOND = order(1, ADA, [(MUG, 3)]), order(2, ADA, [(MUG, 1)], when=at(5))
LEASE = timedelta(seconds=30)
A, B = "clm_" + "A" * 26, "clm_" + "B" * 26


def without_sequence(rows: list[Payment]) -> list[Payment]:
    return [replace(p, sequence=0) for p in rows]


async def get(uow: UnitOfWorkFactory, payment_id: str) -> Payment:
    found = await read(uow, lambda w: w.payments.get(payment_id))
    assert found is not None
    return found


async def shop(uow: UnitOfWorkFactory, *payments: Payment) -> None:
    await save(uow, ADA, MUG, FIRST, SECOND, *payments)


async def test_a_payment_comes_back_as_recorded_with_a_rising_sequence(uow_factory: UnitOfWorkFactory) -> None:
    paid = replace(payment(1, FIRST, 3000), reference="till 4", gateway_reference="pi_1")
    refund = replace(payment(2, FIRST, 700, kind="refund", refund_of=paid, when=at(1)), restock=True)
    card = replace(
        payment(3, SECOND, 1000, status="pending", when=at(2)),
        lease_until=at(32), claimed_by=A, attempts=2, next_attempt_at=at(90),
    )  # fmt: skip
    await shop(uow_factory, paid, refund)
    await save(uow_factory, card)
    got = [await get(uow_factory, p.id) for p in (paid, refund, card)]
    assert without_sequence(got) == [paid, refund, card]
    assert 0 < got[0].sequence < got[1].sequence < got[2].sequence
    assert await read(uow_factory, lambda w: w.payments.get("pay_missing")) is None


async def test_an_orders_payments_oldest_first_and_by_ids(uow_factory: UnitOfWorkFactory) -> None:
    p1, p2 = payment(1, FIRST, 1000), payment(2, SECOND, 1000, when=at(1))
    p3 = payment(3, FIRST, 2000, when=at(2))
    r4 = payment(4, FIRST, 500, kind="refund", refund_of=p1, when=at(3))
    await shop(uow_factory, p1, p2, p3, r4)
    rows = await read(uow_factory, lambda w: w.payments.for_order(FIRST.id))
    assert [p.id for p in rows] == [p1.id, p3.id, r4.id]
    assert await read(uow_factory, lambda w: w.payments.for_order("ord_missing")) == []
    picked = await read(uow_factory, lambda w: w.payments.by_ids([r4.id, p1.id, "pay_missing"]))
    assert [p.id for p in picked] == [p1.id, r4.id], "in the order recorded; unknown ids left out"
    assert await read(uow_factory, lambda w: w.payments.by_ids([])) == []


async def test_set_refunded(uow_factory: UnitOfWorkFactory) -> None:
    paid = payment(1, FIRST, 3000)
    await shop(uow_factory, paid)
    await written(uow_factory, lambda w: w.payments.set_refunded(paid.id, 1200))
    assert (await get(uow_factory, paid.id)).refunded_minor == 1200
    await written(uow_factory, lambda w: w.payments.set_refunded(paid.id, 3000))
    assert without_sequence([await get(uow_factory, paid.id)]) == [replace(paid, refunded_minor=3000)]


async def test_settle_moves_a_pending_row_once_and_drops_its_lease(uow_factory: UnitOfWorkFactory) -> None:
    card = replace(payment(1, FIRST, 3000, status="pending"), lease_until=at(30), claimed_by=A)
    await shop(uow_factory, card)
    settled = await written(
        uow_factory, lambda w: w.payments.settle(card.id, status="succeeded", gateway_reference="pi_9", reason=None)
    )
    assert settled is True
    done = replace(card, status="succeeded", gateway_reference="pi_9", lease_until=None, claimed_by=None)
    assert without_sequence([await get(uow_factory, card.id)]) == [done]
    again = await written(
        uow_factory, lambda w: w.payments.settle(card.id, status="failed", gateway_reference=None, reason="declined")
    )
    assert again is False
    assert without_sequence([await get(uow_factory, card.id)]) == [done], "no longer pending: unchanged"
    missing = await written(
        uow_factory, lambda w: w.payments.settle("pay_missing", status="failed", gateway_reference=None, reason="x")
    )
    assert missing is False


async def test_settle_records_a_failure_with_its_reason(uow_factory: UnitOfWorkFactory) -> None:
    card = payment(1, FIRST, 3000, status="pending")
    await shop(uow_factory, card)
    assert await written(
        uow_factory, lambda w: w.payments.settle(card.id, status="failed", gateway_reference="pi_2", reason="declined")
    )
    got = await get(uow_factory, card.id)
    assert (got.status, got.gateway_reference, got.reason) == ("failed", "pi_2", "declined")


async def test_claim_holds_a_pending_row_until_its_lease_runs_out(uow_factory: UnitOfWorkFactory) -> None:
    card = payment(1, FIRST, 3000, status="pending")
    done = payment(2, SECOND, 1000)
    await shop(uow_factory, card, done)

    async def claim(token: str, now: datetime) -> bool:
        return await written(
            uow_factory, lambda w: w.payments.claim(card.id, claim=token, now=now, lease_until=now + LEASE)
        )

    assert await claim(A, T0) is True
    held = await get(uow_factory, card.id)
    assert (held.claimed_by, held.lease_until) == (A, T0 + LEASE)
    assert await claim(B, T0 + LEASE - timedelta(microseconds=1)) is False
    assert await claim(B, T0 + LEASE) is False, "a lease runs out after its last moment, not at it"
    assert await get(uow_factory, card.id) == held
    assert await claim(B, T0 + LEASE + timedelta(microseconds=1)) is True
    taken = await get(uow_factory, card.id)
    assert (taken.claimed_by, taken.lease_until) == (B, T0 + 2 * LEASE + timedelta(microseconds=1))
    assert await written(
        uow_factory, lambda w: w.payments.claim(done.id, claim=A, now=T0, lease_until=T0 + LEASE)
    ) is False, "only a pending row can be held"  # fmt: skip


async def test_release_drops_only_the_callers_own_hold(uow_factory: UnitOfWorkFactory) -> None:
    card = payment(1, FIRST, 3000, status="pending")
    await shop(uow_factory, card)
    await written(uow_factory, lambda w: w.payments.claim(card.id, claim=A, now=T0, lease_until=T0 + LEASE))
    held = await get(uow_factory, card.id)
    await written(uow_factory, lambda w: w.payments.release(card.id, B))
    assert await get(uow_factory, card.id) == held
    await written(uow_factory, lambda w: w.payments.release(card.id, A))
    assert await get(uow_factory, card.id) == replace(held, claimed_by=None, lease_until=None)
    assert await written(uow_factory, lambda w: w.payments.claim(card.id, claim=B, now=T0, lease_until=at(1)))


async def test_rest_changes_a_pending_row_only(uow_factory: UnitOfWorkFactory) -> None:
    card = payment(1, FIRST, 3000, status="pending")
    await shop(uow_factory, card)
    await written(uow_factory, lambda w: w.payments.rest(card.id, attempts=1, next_attempt_at=at(60)))
    rested = await get(uow_factory, card.id)
    assert (rested.attempts, rested.next_attempt_at, rested.status) == (1, at(60), "pending")
    await written(
        uow_factory, lambda w: w.payments.settle(card.id, status="succeeded", gateway_reference=None, reason=None)
    )
    await written(uow_factory, lambda w: w.payments.rest(card.id, attempts=2, next_attempt_at=at(120)))
    settled = await get(uow_factory, card.id)
    assert (settled.attempts, settled.next_attempt_at, settled.status) == (1, at(60), "succeeded")


async def test_pending_between_since_inclusive_before_exclusive_oldest_first(uow_factory: UnitOfWorkFactory) -> None:
    rows = [
        payment(1, FIRST, 100, status="pending", when=at(-1)),
        payment(2, FIRST, 100, status="pending", when=at(30)),
        payment(3, FIRST, 100, status="pending", when=at(0)),
        payment(4, FIRST, 100, when=at(10)),  # settled: never pending
        payment(5, FIRST, 100, status="pending", when=at(20)),
        payment(6, FIRST, 100, status="pending", when=at(60)),
    ]
    await shop(uow_factory, *rows)
    found = await read(uow_factory, lambda w: w.payments.pending_between(T0, at(60), 10))
    assert [p.id for p in found] == [rows[n].id for n in (2, 4, 1)]
    assert [p.id for p in await read(uow_factory, lambda w: w.payments.pending_between(T0, at(60), 2))] == [
        rows[2].id,
        rows[4].id,
    ]
    assert await read(uow_factory, lambda w: w.payments.pending_between(at(61), at(90), 10)) == []


async def test_pages_in_the_order_recorded_with_filters(uow_factory: UnitOfWorkFactory) -> None:
    rows = [
        payment(1, FIRST, 100, when=at(0)),
        payment(2, SECOND, 100, when=at(days=1)),
        payment(3, FIRST, 100, when=at(-1, days=1)),
        payment(4, FIRST, 50, kind="refund", when=at(days=2)),
    ]
    await shop(uow_factory, *rows)

    async def page(
        *,
        order_id: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> list[Payment]:
        return await read(
            uow_factory,
            lambda w: w.payments.page_after(
                order_id=order_id, created_from=created_from, created_to=created_to, after_sequence=after, limit=limit
            ),
        )

    everything = await page()
    assert [p.id for p in everything] == [p.id for p in rows], "recorded order, not creation time"
    assert [p.id for p in await page(limit=2, after=everything[1].sequence)] == [rows[2].id, rows[3].id]
    assert [p.id for p in await page(order_id=FIRST.id)] == [rows[0].id, rows[2].id, rows[3].id]
    window = await page(created_from=T0, created_to=at(days=1))
    assert [p.id for p in window] == [rows[0].id, rows[2].id], "from inclusive, to exclusive"
    assert [p.id for p in await page(order_id=SECOND.id, created_from=at(days=1))] == [rows[1].id]
