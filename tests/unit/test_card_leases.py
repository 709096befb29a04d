"""One request at a time asks the gateway about a pending card row (a lease on the row), on fakes.

Many callers may find the same pending card payment or refund at once: agents retrying, a second
agent, refunds of the same order, the background settler. Each would resend the row's request with
its one idempotency key; the gateway's replay keeps that safe, but it is a storm of requests. The
FakeGateway's ``gate`` holds every answer, so the callers truly overlap, and it counts requests per key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import anyio
import pytest

from mcp_server.models.payments import PaymentCreate, RefundCreate
from mcp_server.models.payments_gateway import PaymentOutcome
from mcp_server.services.approvals import PersonConfirmed
from mcp_server.services.cards import LEASE
from mcp_server.services.payments import CardNotCharged, SettleRound
from mcp_server.services.results import Success
from tests.fakes import FakeGateway, FakeUnitOfWorkFactory
from tests.unit.commerce import ACTOR, World, add_customer, add_product, card_world, make_shop, placed

pytestmark = pytest.mark.anyio

VISA = "pm_card_visa"
CALLERS = 6
T = TypeVar("T")
BUSY = "another request is asking the payment gateway about it right now"


@pytest.fixture
async def world() -> World:
    return await card_world(FakeGateway(), stock=50)


async def charge(world: World, order_id: str):
    request = PaymentCreate(order_id=order_id, method="card", payment_method=VISA)
    return await world.shop.payments.record(request, actor=ACTOR)


async def refund(world: World, order_id: str, amount: int):
    request = RefundCreate(order_id=order_id, amount=amount, reason="returned")
    return await world.shop.payments.refund(request, actor=ACTOR, approval=PersonConfirmed())


async def race(world: World, jobs: int, job: Callable[[], Awaitable[T]]) -> list[T]:
    """Start ``jobs`` calls of ``job`` together with the gateway's answers held until every caller
    has either sent its request or returned; then let the answers through."""
    results: list[T] = []
    world.gateway.gate = anyio.Event()

    async def one() -> None:
        results.append(await job())

    async with anyio.create_task_group() as tasks:
        for _ in range(jobs):
            tasks.start_soon(one)
        await anyio.wait_all_tasks_blocked()
        world.gateway.gate.set()
    world.gateway.gate = None
    return results


def card_rows(world: World, kind: str) -> list[str]:
    return [p.id for p in world.shop.db.payments if p.kind == kind and p.method == "card"]


async def test_concurrent_charges_of_one_order_send_one_request_and_the_others_answer_pending(world: World) -> None:
    order_id = await placed(world)
    world.gateway.faults.append("lost")
    first = await charge(world, order_id)  # left pending: everyone below finds it and resumes it
    assert isinstance(first, CardNotCharged)
    assert first.pending
    key = f"shopkeeper-{first.payment.id}"

    results = await race(world, CALLERS, lambda: charge(world, order_id))

    assert world.gateway.sent[key] == 2  # the first attempt, and one resend for all the callers
    assert world.gateway.most_at_once[key] == 1
    assert sum(world.gateway.charged.values()) == 3000
    done = [r for r in results if isinstance(r, Success)]
    waiting = [r for r in results if isinstance(r, CardNotCharged)]
    assert len(done) == 1
    assert len(waiting) == CALLERS - 1
    for answer in waiting:
        assert answer.pending
        assert not answer.needs_person
        assert answer.payment.id == first.payment.id
        assert BUSY in answer.reason
        assert "nothing was sent twice" in answer.reason
    assert world.shop.db.orders[order_id].status == "paid"
    assert card_rows(world, "payment") == [first.payment.id]


async def test_concurrent_refunds_of_one_order_send_each_refund_row_once(world: World) -> None:
    order_id = await placed(world, mugs=10)
    assert isinstance(await charge(world, order_id), Success)

    results = await race(world, CALLERS, lambda: refund(world, order_id, 500))

    refunds = card_rows(world, "refund")
    assert len(refunds) == CALLERS
    sent = {r: world.gateway.sent[f"shopkeeper-{r}"] for r in refunds}
    assert sent == dict.fromkeys(refunds, 1)  # before the lease: the first rows went out once per caller
    assert all(world.gateway.most_at_once[f"shopkeeper-{r}"] == 1 for r in refunds)
    assert world.gateway.refunded == {"pi_1": 500 * CALLERS}
    plans = [r.value for r in results if isinstance(r, Success)]
    assert len(plans) == CALLERS
    # Each caller held its own new row while others skipped it, so each one's refund is made.
    assert [r.status for plan in plans for r in plan.refunds] == ["succeeded"] * CALLERS
    # Each row was settled by whichever caller held it; the books agree with the gateway.
    assert world.shop.db.orders[order_id].refunded_minor == 500 * CALLERS
    assert not [p for p in world.shop.db.payments if p.status == "pending"]


async def test_a_lease_left_by_a_caller_that_died_expires_and_the_next_caller_resends_the_same_key(
    world: World,
) -> None:
    order_id = await placed(world)
    world.gateway.faults.append("lost")
    first = await charge(world, order_id)
    assert isinstance(first, CardNotCharged)
    key = f"shopkeeper-{first.payment.id}"
    # A process took the lease, was about to ask the gateway, and was killed.
    uow = FakeUnitOfWorkFactory(world.shop.db)
    now = world.shop.clock.now()
    async with uow(write=True) as held:
        assert await held.payments.claim(first.payment.id, claim="clm_dead", now=now, lease_until=now + LEASE)
        await held.commit()

    while_held = await charge(world, order_id)

    assert isinstance(while_held, CardNotCharged)
    assert BUSY in while_held.reason
    assert world.gateway.sent[key] == 1  # nothing sent while the lease holds

    world.shop.clock.advance(LEASE.total_seconds() + 1)
    after = await charge(world, order_id)

    assert isinstance(after, Success), after
    assert after.value.resumed
    assert after.value.payment.id == first.payment.id
    assert world.gateway.sent == {key: 2}  # the same key: the gateway replays the first charge
    assert sum(world.gateway.charged.values()) == 3000
    assert world.shop.db.orders[order_id].paid_minor == 3000


async def test_a_caller_whose_gateway_did_not_answer_lets_the_next_caller_ask_at_once(world: World) -> None:
    order_id = await placed(world)
    world.gateway.faults.extend(["down", "down"])
    first = await charge(world, order_id)
    second = await charge(world, order_id)  # no wait for the lease: the first caller released it

    assert isinstance(first, CardNotCharged)
    assert isinstance(second, CardNotCharged)
    assert BUSY not in second.reason
    third = await charge(world, order_id)
    assert isinstance(third, Success)
    assert world.gateway.sent == {f"shopkeeper-{first.payment.id}": 3}


class ExplodingGateway(FakeGateway):
    """Fails once with an error nobody expected (a bug, a dropped connection pool)."""

    async def create_and_confirm_payment(
        self,
        amount_minor: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> PaymentOutcome:
        if not self.calls:
            self.calls += 1
            raise RuntimeError("boom")
        return await super().create_and_confirm_payment(amount_minor, currency, payment_method, idempotency_key)


async def test_a_caller_that_fails_unexpectedly_drops_its_lease() -> None:
    gateway = ExplodingGateway()
    world = World(make_shop(gateway=gateway), gateway, "")
    world.customer = await add_customer(world.shop)
    await add_product(world.shop, "MUG-01", price_minor=1000)
    order_id = await placed(world)

    with pytest.raises(RuntimeError):
        await charge(world, order_id)
    (row,) = world.shop.db.payments
    assert (row.status, row.claimed_by) == ("pending", None)

    again = await charge(world, order_id)  # at once, not after the lease would have run out

    assert isinstance(again, Success), again
    assert again.value.resumed


async def test_the_background_settler_leaves_a_row_another_request_is_asking_about(world: World) -> None:
    order_id = await placed(world)
    world.gateway.faults.extend(["down", "down"])  # the first attempt, then the caller below
    left = await charge(world, order_id)
    assert isinstance(left, CardNotCharged)
    key = f"shopkeeper-{left.payment.id}"
    world.shop.clock.advance(61)
    results: list[object] = []
    rounds: list[object] = []
    world.gateway.gate = anyio.Event()

    async def caller() -> None:
        results.append(await charge(world, order_id))

    async def worker() -> None:
        rounds.append(await world.shop.payments.settle_pending(actor="worker"))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(caller)
        await anyio.wait_all_tasks_blocked()  # the caller is waiting for the gateway's answer
        tasks.start_soon(worker)
        await anyio.wait_all_tasks_blocked()
        world.gateway.gate.set()
    world.gateway.gate = None

    [background] = rounds
    assert isinstance(background, SettleRound)
    assert (background.succeeded, background.failed, background.pending, background.busy) == (0, 0, 0, 1)
    assert world.gateway.sent[key] == 2  # the first attempt and the caller's: the settler sent nothing
    assert len(results) == 1
    assert isinstance(results[0], CardNotCharged)
    assert results[0].pending
    # Skipping a row someone else held does not make it rest: the next round asks about it at once.
    again = await world.shop.payments.settle_pending(actor="worker")
    assert isinstance(again, SettleRound)
    assert (again.succeeded, again.busy) == (1, 0)
    assert world.shop.db.orders[order_id].status == "paid"
    assert world.gateway.sent[key] == 3
