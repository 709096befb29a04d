"""A small shop on in-memory fakes, shared by the order, payment and property tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from mcp_server.models.catalog import ProductCreate
from mcp_server.models.customers import CustomerCreate
from mcp_server.models.orders import Order, OrderCreate, OrderLineRequest
from mcp_server.models.payments import PaymentCreate, RefundCreate
from mcp_server.services.approvals import ApprovalDesk, ApprovalService, PersonConfirmed
from mcp_server.services.catalog import CatalogService
from mcp_server.services.customers import CustomerService
from mcp_server.services.orders import OrderService
from mcp_server.services.payments import PaymentService
from mcp_server.services.reports import ReportService
from mcp_server.services.results import Success
from mcp_server.services.unit_of_work import with_events
from tests.fakes import FakeClock, FakeDatabase, FakeGateway, FakePassphrases, FakeUnitOfWorkFactory, SequentialIds

ACTOR = "test"


@dataclass
class Shop:
    db: FakeDatabase
    clock: FakeClock
    ids: SequentialIds
    desk: ApprovalDesk
    customers: CustomerService
    catalog: CatalogService
    orders: OrderService
    payments: PaymentService
    reports: ReportService
    approvals: ApprovalService


def make_shop(
    timezone: tzinfo | None = None, start: datetime | None = None, gateway: FakeGateway | None = None
) -> Shop:
    zone = timezone or ZoneInfo("UTC")
    db, clock, ids = FakeDatabase(), FakeClock(start), SequentialIds()
    uow = FakeUnitOfWorkFactory(db)
    desk = ApprovalDesk(clock, ids)
    return Shop(
        db=db,
        clock=clock,
        ids=ids,
        desk=desk,
        customers=CustomerService(uow, clock, ids),
        catalog=CatalogService(uow, clock, ids),
        orders=OrderService(uow, clock, ids, desk, zone, gateway),
        payments=PaymentService(uow, clock, ids, desk, zone, gateway),
        reports=ReportService(uow, zone),
        approvals=ApprovalService(with_events(uow, clock, ids), clock, FakePassphrases()),
    )


async def add_customer(shop: Shop, email: str = "ada@example.com", name: str = "Ada Lovelace") -> str:
    result = await shop.customers.register(CustomerCreate(name=name, email=email), actor=ACTOR)
    assert isinstance(result, Success)
    return result.value.id


async def add_product(
    shop: Shop, sku: str, *, price_minor: int = 1250, stock: int = 10, currency: str = "EUR", active: bool = True
) -> str:
    data = ProductCreate(
        sku=sku, name=f"Product {sku}", price_minor=price_minor, currency=currency, stock=stock, active=active
    )
    result = await shop.catalog.create_product(data, actor=ACTOR)
    assert isinstance(result, Success)
    return result.value.id


def order_request(customer_id: str, lines: list[tuple[str, int]]) -> OrderCreate:
    """Lines as (SKU, quantity); a reference starting with ``prd_`` is sent as a product id."""
    return OrderCreate(
        customer_id=customer_id,
        lines=[
            OrderLineRequest(product_id=ref, quantity=qty)
            if ref.startswith("prd_")
            else OrderLineRequest(sku=ref, quantity=qty)
            for ref, qty in lines
        ],
    )


async def place(shop: Shop, customer_id: str, lines: list[tuple[str, int]]) -> Order:
    result = await shop.orders.place(order_request(customer_id, lines), actor=ACTOR)
    assert isinstance(result, Success), result
    return result.value.order


async def pay(shop: Shop, order_id: str, amount: int) -> str:
    result = await shop.payments.record(PaymentCreate(order_id=order_id, amount=amount, method="cash"), actor=ACTOR)
    assert isinstance(result, Success), result
    return result.value.payment.id


async def refund_now(shop: Shop, order_id: str, amount: int, *, restock: bool = False) -> None:
    request = RefundCreate(order_id=order_id, amount=amount, reason="test", restock=restock)
    result = await shop.payments.refund(request, actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(result, Success), result


@dataclass
class World:
    """A shop with a card gateway, one customer and a stocked mug (MUG-01 at 10.00 EUR)."""

    shop: Shop
    gateway: FakeGateway
    customer: str


async def card_world(gateway: FakeGateway, *, stock: int = 10) -> World:
    shop = make_shop(gateway=gateway)
    customer = await add_customer(shop)
    await add_product(shop, "MUG-01", price_minor=1000, stock=stock)
    return World(shop, gateway, customer)


async def placed(world: World, mugs: int = 3) -> str:
    """An order of ``mugs`` mugs for the world's customer; its id."""
    return (await place(world.shop, world.customer, [("MUG-01", mugs)])).id
