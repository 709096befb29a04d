"""The rest of a pending card row is stored in the shop's database: a second process, with its own
engine on the same database (on each engine), keeps to the schedule the first one stored."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from mcp_server.adapters.database import create_engine, unit_of_work_factory
from mcp_server.models.catalog import ProductCreate
from mcp_server.models.customers import CustomerCreate
from mcp_server.models.orders import OrderCreate, OrderLineRequest
from mcp_server.models.payments import PaymentCreate
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory
from mcp_server.services.approvals import ApprovalDesk
from mcp_server.services.catalog import CatalogService
from mcp_server.services.customers import CustomerService
from mcp_server.services.orders import OrderService
from mcp_server.services.payments import CardNotCharged, PaymentService, SettleRound
from mcp_server.services.results import Success
from mcp_server.utils.ids import IdGenerator
from tests.fakes import FakeClock, FakeGateway

pytestmark = pytest.mark.anyio

ACTOR = "test"


@pytest.fixture
async def second_engine(database_url: str) -> AsyncGenerator[AsyncEngine]:
    """Another process's engine on the same database."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def payments(uow: SqlUnitOfWorkFactory, clock: FakeClock, gateway: FakeGateway) -> PaymentService:
    ids = IdGenerator()
    return PaymentService(uow, clock, ids, ApprovalDesk(clock, ids), ZoneInfo("UTC"), gateway)


async def test_a_second_process_keeps_to_the_rest_the_first_one_stored(
    uow: SqlUnitOfWorkFactory, second_engine: AsyncEngine
) -> None:
    clock, ids, gateway = FakeClock(), IdGenerator(), FakeGateway()
    desk = ApprovalDesk(clock, ids)
    customer = await CustomerService(uow, clock, ids).register(CustomerCreate(name="Ada", email="a@x.io"), actor=ACTOR)
    assert isinstance(customer, Success)
    product = ProductCreate(sku="MUG-01", name="Mug", price_minor=1000, currency="EUR", stock=5)
    assert isinstance(await CatalogService(uow, clock, ids).create_product(product, actor=ACTOR), Success)
    orders = OrderService(uow, clock, ids, desk, ZoneInfo("UTC"))
    placed = await orders.place(
        OrderCreate(customer_id=customer.value.id, lines=[OrderLineRequest(sku="MUG-01", quantity=1)]), actor=ACTOR
    )
    assert isinstance(placed, Success)
    first, second = (
        payments(uow, clock, gateway),
        payments(unit_of_work_factory(second_engine), clock, gateway),
    )
    gateway.faults.append("down")
    left = await first.record(
        PaymentCreate(order_id=placed.value.order.id, method="card", payment_method="pm_card_visa"), actor=ACTOR
    )
    assert isinstance(left, CardNotCharged)
    key = f"shopkeeper-{left.payment.id}"
    clock.advance(61)
    gateway.faults.append("down")
    asked = await first.settle_pending(actor="worker")
    assert isinstance(asked, SettleRound)
    assert (asked.pending, gateway.sent[key]) == (1, 2)

    clock.advance(30)
    assert await second.settle_pending(actor="worker") == SettleRound()
    assert gateway.sent[key] == 2
    async with unit_of_work_factory(second_engine)(write=False) as read:
        stored = await read.payments.get(left.payment.id)
    assert stored is not None
    assert (stored.attempts, stored.next_attempt_at) == (1, clock.now() + timedelta(seconds=30))

    clock.advance(30)
    done = await second.settle_pending(actor="worker")
    assert isinstance(done, SettleRound)
    assert (done.succeeded, gateway.sent[key]) == (1, 3)
