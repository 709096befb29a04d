"""Card refunds of one order racing from several processes on one database (on each engine): each
refund row is sent to the gateway by one request at a time (its lease), counted where the requests arrive.

Four real processes (``tests/integration/card_racer.py``), each with its own engine and gateway
client, make five confirmed refunds of the same order at once. The fault proxy holds every answer
for a moment (well inside the client's read timeout), so requests overlap in flight. Without the
lease every refund call resent every pending refund row of the order, each with the row's key:
a storm of requests the gateway only survived by replaying. With it, each key is POSTed once.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from mcp_server.clients.payment_gateway import RetryPolicy, StripePaymentGateway
from mcp_server.models.catalog import ProductCreate
from mcp_server.models.customers import CustomerCreate
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory
from mcp_server.services.approvals import ApprovalDesk
from mcp_server.services.cards import LEASE
from mcp_server.services.catalog import CatalogService
from mcp_server.services.customers import CustomerService
from mcp_server.services.orders import OrderService
from mcp_server.services.payments import CardNotCharged, PaymentService
from mcp_server.services.results import Success
from mcp_server.utils.ids import IdGenerator
from mcp_server.utils.time import SystemClock
from tests.integration import racers
from tests.integration.card_racer import AMOUNT
from tests.integration.stripe_standin import BASE_DELAY_S, SECRET, FaultProxy, LocalStripe, Sleeps
from tests.integration.test_card_payments import ACTOR, ATTEMPTS, PRICE, Shop

pytestmark = pytest.mark.anyio

PROCESSES = 4
CALLS_EACH = 5
HOLD_S = 0.3  # every answer waits this long at the proxy: the client reads for up to 10 s


@pytest.fixture
async def shop(
    uow: SqlUnitOfWorkFactory, localstripe: LocalStripe, proxy: FaultProxy, gateway_http: httpx.AsyncClient
) -> Shop:
    """A shop in this process (set-up and checks), charging through the proxy like the racers."""
    clock, ids = SystemClock(), IdGenerator()
    desk = ApprovalDesk(clock, ids)
    retry = RetryPolicy(attempts=ATTEMPTS, base_delay_s=BASE_DELAY_S)
    gateway = StripePaymentGateway(gateway_http, secret_key=SECRET, base_url=proxy.url, retry=retry, sleep=Sleeps())
    zone = ZoneInfo("UTC")
    customer = await CustomerService(uow, clock, ids).register(
        CustomerCreate(name="Ada", email="ada@example.com"), actor=ACTOR
    )
    assert isinstance(customer, Success)
    product = ProductCreate(sku="MUG-01", name="Mug", price_minor=PRICE, currency="EUR", stock=50)
    assert isinstance(await CatalogService(uow, clock, ids).create_product(product, actor=ACTOR), Success)
    return Shop(
        orders=OrderService(uow, clock, ids, desk, zone, gateway),
        payments=PaymentService(uow, clock, ids, desk, zone, gateway),
        uow=uow,
        localstripe=localstripe,
        proxy=proxy,
        customer=customer.value.id,
    )


async def race(database_url: str, gateway_url: str, order_id: str) -> list[list[object]]:
    """Start the processes, wait until each is ready, start them together; what each reported."""
    command = [sys.executable, "-m", "tests.integration.card_racer", database_url, gateway_url, order_id]
    return await racers.race([[*command, str(CALLS_EACH)]] * PROCESSES)


async def test_refunds_racing_from_four_processes_post_each_refund_key_once(
    shop: Shop, database_url: str, localstripe: LocalStripe, proxy: FaultProxy
) -> None:
    order_id = await shop.place(quantity=4)
    assert isinstance(await shop.charge(order_id), Success)
    proxy.seen.clear()
    proxy.hold_s = HOLD_S
    proxy.inject(*("timeout",) * 500)  # "timeout": run upstream, then hold the answer HOLD_S

    reports = await race(database_url, proxy.url, order_id)

    proxy.heal()
    posts = Counter(s.idempotency_key for s in proxy.seen if s.method == "POST" and s.path == "/v1/refunds")
    rows = [r for r in await shop.rows(order_id) if r.kind == "refund"]
    keys = {f"shopkeeper-{r.id}" for r in rows}
    storm = f"{len(rows)} refund rows, {sum(posts.values())} refund POSTs, at most {max(posts.values())} for one key"
    assert len(rows) == PROCESSES * CALLS_EACH
    assert set(posts) <= keys
    assert set(posts.values()) == {1}, storm  # every key went to the gateway once: no storm
    assert sum(posts.values()) <= len(rows)
    # Every call got its refund plan; no row was left pending, and the books agree with the gateway.
    assert all(isinstance(outcome, list) for report in reports for outcome in report), reports
    assert not [r for r in rows if r.status == "pending"]
    booked = sum(r.amount_minor for r in rows if r.status == "succeeded")
    assert shop.refunded(order_id) == booked == (await shop.order(order_id)).refunded_minor
    assert booked == PROCESSES * CALLS_EACH * AMOUNT <= 4 * PRICE


async def test_a_lease_holds_until_it_runs_out_and_a_settle_drops_it(shop: Shop) -> None:
    order_id = await shop.place()
    shop.proxy.inject(*("503",) * ATTEMPTS)
    left = await shop.charge(order_id)
    assert isinstance(left, CardNotCharged)
    row_id = left.payment.id
    now = datetime.now(UTC)

    async def claim(token: str, at: datetime) -> bool:
        async with shop.uow(write=True) as uow:
            held = await uow.payments.claim(row_id, claim=token, now=at, lease_until=at + LEASE)
            await uow.commit()
        return held

    assert await claim("lse_a", now)
    assert not await claim("lse_b", now + LEASE - timedelta(seconds=1))  # still held
    assert await claim("lse_b", now + LEASE + timedelta(seconds=1))  # ran out: b takes over
    async with shop.uow(write=True) as uow:
        await uow.payments.release(row_id, "lse_a")  # a's release no longer touches b's lease
        await uow.commit()
    assert not await claim("lse_c", now + LEASE + timedelta(seconds=2))
    async with shop.uow(write=True) as uow:
        assert await uow.payments.settle(row_id, status="failed", gateway_reference=None, reason="test")
        await uow.commit()
        stored = await uow.payments.get(row_id)
    assert stored is not None
    assert (stored.status, stored.lease_until, stored.claimed_by) == ("failed", None, None)
    assert not await claim("lse_d", now + 2 * LEASE)  # only pending rows are claimed
