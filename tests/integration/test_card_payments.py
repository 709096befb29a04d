"""Card payments end to end below the handlers: services on each engine, the real gateway client,
the fault-injecting proxy, and localstripe keeping the books of what was really charged.

Every test counts charges and refunds where they happen (localstripe's payment intents and
refunds for the order), not in the shop's own tables: a card must be charged exactly once per
payment, and refunded never more than it was charged, whatever the network does.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest

from mcp_server.clients.payment_gateway import RetryPolicy, StripePaymentGateway
from mcp_server.handlers.views import cards
from mcp_server.models.catalog import ProductCreate
from mcp_server.models.customers import CustomerCreate
from mcp_server.models.orders import OrderCreate, OrderLineRequest, Shipment
from mcp_server.models.payments import Payment, PaymentCreate, RefundCreate
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory
from mcp_server.services.approvals import ApprovalDesk, PersonConfirmed
from mcp_server.services.cards import BUSY
from mcp_server.services.catalog import CatalogService
from mcp_server.services.customers import CustomerService
from mcp_server.services.orders import OrderService
from mcp_server.services.payments import CardNotCharged, PaymentService
from mcp_server.services.results import IllegalTransition, Rejected, Success
from mcp_server.utils.ids import IdGenerator
from mcp_server.utils.time import SystemClock
from tests.integration.stripe_standin import BASE_DELAY_S, SECRET, Fault, FaultProxy, LocalStripe, Sleeps

pytestmark = pytest.mark.anyio

ACTOR = "test"
ATTEMPTS = 2  # the client's tries per call; inject this many faults to make a call run out
PRICE = 1250
DECLINING_CARD = "pm_card_chargeCustomerFail"


@dataclass
class Shop:
    orders: OrderService
    payments: PaymentService
    uow: SqlUnitOfWorkFactory
    localstripe: LocalStripe
    proxy: FaultProxy
    customer: str

    async def place(self, quantity: int = 2) -> str:
        request = OrderCreate(customer_id=self.customer, lines=[OrderLineRequest(sku="MUG-01", quantity=quantity)])
        result = await self.orders.place(request, actor=ACTOR)
        assert isinstance(result, Success), result
        return result.value.order.id

    async def charge(self, order_id: str, *, key: str | None = None, card: str = "pm_card_visa"):
        request = PaymentCreate(order_id=order_id, method="card", payment_method=card)
        return await self.payments.record(request, actor=ACTOR, idempotency_key=key)

    async def refund(self, order_id: str, amount: int, *, key: str | None = None, restock: bool = False):
        request = RefundCreate(order_id=order_id, amount=amount, reason="returned", restock=restock)
        return await self.payments.refund(request, actor=ACTOR, approval=PersonConfirmed(), idempotency_key=key)

    async def rows(self, order_id: str) -> list[Payment]:
        async with self.uow(write=False) as uow:
            return await uow.payments.for_order(order_id)

    async def order(self, order_id: str):
        async with self.uow(write=False) as uow:
            order = await uow.orders.get(order_id)
        assert order is not None
        return order

    # -- what the gateway really did ---------------------------------------------------------------

    def charged(self, order_id: str) -> list[int]:
        """Amounts of the succeeded payment intents made for this order."""
        return [
            int(str(pi["amount"]))
            for pi in self.localstripe.list("payment_intents")
            if isinstance(pi["metadata"], dict)
            and pi["metadata"].get("order_id") == order_id  # pyright: ignore[reportUnknownMemberType]
            and pi["status"] == "succeeded"
        ]

    def intents(self, order_id: str) -> list[str]:
        return [
            str(pi["id"])
            for pi in self.localstripe.list("payment_intents")
            if isinstance(pi["metadata"], dict) and pi["metadata"].get("order_id") == order_id  # pyright: ignore[reportUnknownMemberType]
        ]

    def refunded(self, order_id: str) -> int:
        intents = set(self.intents(order_id))
        charges = {str(ch["id"]) for ch in self.localstripe.list("charges") if str(ch.get("payment_intent")) in intents}
        return sum(
            int(str(r["amount"]))
            for r in self.localstripe.list("refunds")
            if str(r.get("charge")) in charges or str(r.get("payment_intent")) in intents
        )


@pytest.fixture
async def shop(
    uow: SqlUnitOfWorkFactory, localstripe: LocalStripe, proxy: FaultProxy, gateway_http: httpx.AsyncClient
) -> Shop:
    clock, ids = SystemClock(), IdGenerator()
    desk = ApprovalDesk(clock, ids)
    gateway = StripePaymentGateway(
        gateway_http,
        secret_key=SECRET,
        base_url=proxy.url,
        retry=RetryPolicy(attempts=ATTEMPTS, base_delay_s=BASE_DELAY_S, max_delay_s=2.0),
        sleep=Sleeps(),
    )
    zone = ZoneInfo("UTC")
    customers, catalog = CustomerService(uow, clock, ids), CatalogService(uow, clock, ids)
    customer = await customers.register(CustomerCreate(name="Ada", email="ada@example.com"), actor=ACTOR)
    assert isinstance(customer, Success)
    product = ProductCreate(sku="MUG-01", name="Mug", price_minor=PRICE, currency="EUR", stock=50)
    assert isinstance(await catalog.create_product(product, actor=ACTOR), Success)
    return Shop(
        orders=OrderService(uow, clock, ids, desk, zone, gateway),
        payments=PaymentService(uow, clock, ids, desk, zone, gateway),
        uow=uow,
        localstripe=localstripe,
        proxy=proxy,
        customer=customer.value.id,
    )


async def test_a_card_payment_charges_the_order_total_once(shop: Shop) -> None:
    order_id = await shop.place()

    result = await shop.charge(order_id)

    assert isinstance(result, Success), result
    assert shop.charged(order_id) == [2 * PRICE]
    assert result.value.payment.gateway_reference == shop.intents(order_id)[0]
    assert (await shop.order(order_id)).status == "paid"
    [seen] = shop.proxy.seen
    assert seen.idempotency_key == f"shopkeeper-{result.value.payment.id}"
    assert b"reason" not in seen.body


@pytest.mark.parametrize("fault", ["reset", "timeout", "429", "500", "503", "lost"])
async def test_when_the_gateway_fails_the_payment_stays_pending_and_the_next_record_charges_once(
    shop: Shop, fault: Fault
) -> None:
    order_id = await shop.place()
    shop.proxy.inject(*(fault,) * ATTEMPTS)

    first = await shop.charge(order_id)

    assert isinstance(first, CardNotCharged), first
    assert first.pending
    assert (await shop.order(order_id)).paid_minor == 0
    # "timeout" and "lost" reach localstripe: the card is charged though nobody heard the answer.
    assert shop.charged(order_id) == ([2 * PRICE] if fault in ("timeout", "lost") else [])

    second = await shop.charge(order_id)  # a new call, even without the first one's key

    assert isinstance(second, Success), second
    assert second.value.resumed
    assert second.value.payment.id == first.payment.id
    assert shop.charged(order_id) == [2 * PRICE]  # exactly one charge
    assert len(shop.intents(order_id)) == 1
    assert (await shop.order(order_id)).status == "paid"
    assert set(shop.proxy.upstream_posts.values()) == {1}


async def test_a_declined_card_charges_nothing_and_another_card_then_pays(shop: Shop) -> None:
    order_id = await shop.place()

    declined = await shop.charge(order_id, card=DECLINING_CARD)

    assert isinstance(declined, CardNotCharged)
    assert not declined.pending
    assert declined.reason == "card declined: card_declined"
    assert shop.charged(order_id) == []
    paid = await shop.charge(order_id)
    assert isinstance(paid, Success)
    assert shop.charged(order_id) == [2 * PRICE]
    assert [r.status for r in await shop.rows(order_id)] == ["failed", "succeeded"]


async def test_two_calls_racing_to_pay_one_order_charge_it_once(shop: Shop) -> None:
    order_id = await shop.place()
    results: list[object] = []

    async def pay() -> None:
        results.append(await shop.charge(order_id))

    async with anyio.create_task_group() as tasks:
        for _ in range(3):
            tasks.start_soon(pay)

    assert shop.charged(order_id) == [2 * PRICE]
    # Each caller completed the one payment, or arriving once the order was paid was told so, or
    # arriving while another call was asking the gateway about it was told it is pending (and sent nothing).
    assert any(isinstance(r, Success) for r in results), results
    assert all(
        isinstance(r, Success)
        or (isinstance(r, IllegalTransition) and r.status == "paid")
        or (isinstance(r, CardNotCharged) and r.pending and r.reason.startswith(BUSY))
        for r in results
    ), results
    assert (await shop.order(order_id)).paid_minor == 2 * PRICE
    assert len(await shop.rows(order_id)) == 1
    assert [s.method for s in shop.proxy.seen] == ["POST"]  # one request: the others did not resend it


@pytest.mark.parametrize("fault", ["reset", "timeout", "503", "lost"])
async def test_a_refund_the_gateway_did_not_answer_is_completed_once_by_a_retry(shop: Shop, fault: Fault) -> None:
    order_id = await shop.place()
    assert isinstance(await shop.charge(order_id), Success)
    shop.proxy.inject(*(fault,) * ATTEMPTS)

    first = await shop.refund(order_id, PRICE, key="refund-1")

    assert isinstance(first, Success)
    assert [r.status for r in first.value.refunds] == ["pending"]
    assert (await shop.order(order_id)).refunded_minor == 0
    more = await shop.refund(order_id, PRICE + 1)  # the pending refund holds its share
    assert isinstance(more, Rejected)

    again = await shop.refund(order_id, PRICE, key="refund-1")

    assert isinstance(again, Success)
    assert [r.status for r in again.value.refunds] == ["succeeded"]
    assert shop.refunded(order_id) == PRICE
    assert (await shop.order(order_id)).refunded_minor == PRICE


async def test_refunds_never_exceed_the_charge_through_a_storm_of_faults(shop: Shop) -> None:
    order_id = await shop.place(quantity=4)
    assert isinstance(await shop.charge(order_id), Success)
    faults: list[Fault] = ["lost", "reset", "503", "timeout", "lost", "lost", "500", "reset"]
    for n, fault in enumerate(faults):
        shop.proxy.inject(fault, fault)
        await shop.refund(order_id, 1500, key=f"storm-{n % 3}")
        assert shop.refunded(order_id) <= 4 * PRICE
    # The network heals: the next refund settles everything left pending.
    shop.proxy.heal()
    await shop.refund(order_id, 1)
    rows = await shop.rows(order_id)
    assert not [r for r in rows if r.status == "pending"]
    booked = sum(r.amount_minor for r in rows if r.kind == "refund" and r.status == "succeeded")
    assert shop.refunded(order_id) == booked == (await shop.order(order_id)).refunded_minor
    assert booked <= 4 * PRICE


async def test_cancelling_a_card_paid_order_refunds_the_card_at_the_gateway(shop: Shop) -> None:
    order_id = await shop.place()
    assert isinstance(await shop.charge(order_id), Success)

    done = await shop.orders.cancel(order_id, reason="changed mind", actor=ACTOR, approval=PersonConfirmed())

    assert isinstance(done, Success), done
    assert done.value.order.status == "cancelled"
    assert shop.refunded(order_id) == 2 * PRICE
    assert (await shop.order(order_id)).refunded_minor == 2 * PRICE


async def test_a_shipped_card_order_refunded_with_restock_returns_money_and_stock(shop: Shop) -> None:
    order_id = await shop.place()
    assert isinstance(await shop.charge(order_id), Success)
    shipped = await shop.orders.mark_shipped(order_id, Shipment(carrier="DHL", tracking_number="1"), actor=ACTOR)
    assert isinstance(shipped, Success)

    done = await shop.refund(order_id, 2 * PRICE, restock=True)

    assert isinstance(done, Success)
    assert done.value.restock_units == 2
    assert done.value.order.status == "refunded"
    assert shop.refunded(order_id) == 2 * PRICE


async def test_a_500_the_gateway_keeps_for_the_key_is_left_for_a_person_not_retried_for_a_day(shop: Shop) -> None:
    order_id = await shop.place()
    shop.proxy.inject("stored_500")

    first = await shop.charge(order_id)

    assert isinstance(first, CardNotCharged)
    assert first.pending
    assert first.needs_person
    assert "repeats that answer" in first.reason
    assert "shopkeeper payments settle" in cards.not_charged(first).reason  # the doors add the command
    assert shop.charged(order_id) == [2 * PRICE]  # it ran upstream: only the dashboard can tell
    assert [s.replayed for s in shop.proxy.seen] == [False, True]  # one retry, then the client stopped

    again = await shop.charge(order_id)

    assert isinstance(again, CardNotCharged)
    assert again.needs_person
    assert shop.charged(order_id) == [2 * PRICE]
    assert set(shop.proxy.upstream_posts.values()) == {1}
    assert (await shop.order(order_id)).paid_minor == 0
