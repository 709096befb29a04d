"""Orders, payments and the sales report on each engine (a SQLite file, a PostgreSQL database): races,
keyset pages and the SQL aggregation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
import pytest
from mcp_types import CallToolResult

from mcp_server.adapters.service_factories import Backend, MailOptions
from mcp_server.models.catalog import Product, ProductCreate
from mcp_server.models.customers import Customer, CustomerCreate
from mcp_server.models.orders import Order, OrderCreate, OrderLine, OrderLineRequest, OrderQuery, OrderStatus
from mcp_server.models.payments import Payment, PaymentCreate, PaymentQuery, RefundCreate
from mcp_server.models.reports import DaySales, ProductSales, SalesQuery
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory
from mcp_server.services.approvals import ApprovalDesk, PersonConfirmed
from mcp_server.services.orders import OrderService, Placed
from mcp_server.services.payments import PaymentService
from mcp_server.services.reports import ReportService, day_windows
from mcp_server.services.results import Conflict, NotFound, Rejected, Success, Unavailable
from mcp_server.utils.ids import IdGenerator
from mcp_server.utils.time import SystemClock
from tests.e2e.support import as_object, open_shop, string, text_of
from tests.engines import ShopDatabase

pytestmark = pytest.mark.anyio

NEW_YORK = ZoneInfo("America/New_York")  # UTC-5 in January
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def counts(db: ShopDatabase) -> tuple[int, int, int]:
    """(stock of the only product, orders, order.placed audit entries) read straight from the database."""
    stock = db.scalar("SELECT stock FROM products")
    return int(stock), db.count("orders"), db.count("audit_log", "action = 'order.placed'")


# --- no oversell ---------------------------------------------------------------------------------


async def test_fifty_orders_over_five_engines_never_oversell(
    database_url: str, shop_db: ShopDatabase, tmp_path: Path
) -> None:
    """Five service stacks, as five server processes would have, race 50 one-unit orders for 10 units."""
    mail = MailOptions(directory=tmp_path / "mail")
    backends = [await Backend.start(database_url, mail=mail) for _ in range(5)]
    try:
        first = backends[0].services
        customer = await first.customers.register(CustomerCreate(name="Racer", email="racer@example.com"), actor="t")
        product = await first.catalog.create_product(
            ProductCreate(sku="LAST-10", name="Scarce", price_minor=100, currency="EUR", stock=10), actor="t"
        )
        assert isinstance(customer, Success)
        assert isinstance(product, Success)
        request = OrderCreate(customer_id=customer.value.id, lines=[OrderLineRequest(sku="LAST-10", quantity=1)])
        outcomes: list[Success[Placed] | NotFound | Rejected | Conflict | Unavailable] = []

        async def order(backend: Backend) -> None:
            outcomes.append(await backend.services.orders.place(request, actor="t"))

        async with anyio.create_task_group() as tasks:
            for n in range(50):
                tasks.start_soon(order, backends[n % 5])
    finally:
        for backend in backends:
            await backend.close()

    placed = [o.value.order.id for o in outcomes if isinstance(o, Success)]
    refused = [o for o in outcomes if isinstance(o, Rejected)]
    others = [o for o in outcomes if not isinstance(o, Success | Rejected)]
    assert (len(placed), len(refused), others) == (10, 40, [])
    assert all("insufficient stock" in r.message and r.field == "lines" for r in refused)
    assert len(set(placed)) == 10
    assert counts(shop_db) == (0, 10, 10)


async def test_concurrent_orders_through_the_tools_never_oversell(shop_db: ShopDatabase) -> None:
    async with open_shop(shop_db, "auto") as shop:
        ada = string(await shop.register("Ada", "ada@example.com"), "id")
        await shop.add_product("LAST-10", "Scarce", 100, "EUR", stock=10)
        results: list[CallToolResult] = []

        async def order() -> None:
            arguments = {"customer_id": ada, "lines": [{"sku": "LAST-10", "quantity": 1}]}
            results.append(await shop.call("orders_place", arguments))

        async with anyio.create_task_group() as tasks:
            for _ in range(30):
                tasks.start_soon(order)

    placed = [r for r in results if not r.is_error]
    refused = [text_of(r) for r in results if r.is_error]
    assert (len(placed), len(refused)) == (10, 20)
    assert all("insufficient stock: 0 in stock, 1 requested" in message for message in refused), refused[:1]
    assert len({string(as_object(as_object(r.structured_content)["order"]), "id") for r in placed}) == 10
    assert counts(shop_db) == (0, 10, 10)


async def test_two_refunds_racing_on_one_order_never_give_back_more_than_paid(
    database_url: str, shop_db: ShopDatabase, tmp_path: Path
) -> None:
    """Two server processes' worth of engines refund the same orders at once: they take turns on each
    order (SQLite's write lock; PostgreSQL's order row lock, at READ COMMITTED), so none gives back more
    than was paid."""
    mail = MailOptions(directory=tmp_path / "mail")
    first, second = [await Backend.start(database_url, mail=mail) for _ in range(2)]
    try:
        s = first.services
        ada = await s.customers.register(CustomerCreate(name="Ada", email="ada@example.com"), actor="t")
        assert isinstance(ada, Success)
        mug = ProductCreate(sku="MUG-1", name="Mug", price_minor=1250, currency="EUR", stock=1000)
        assert isinstance(await s.catalog.create_product(mug, actor="t"), Success)
        orders: list[str] = []
        for _ in range(12):
            order = OrderCreate(customer_id=ada.value.id, lines=[OrderLineRequest(sku="MUG-1", quantity=2)])
            placed = await s.orders.place(order, actor="t")
            assert isinstance(placed, Success)
            orders.append(placed.value.order.id)
            paid = await s.payments.record(PaymentCreate(order_id=placed.value.order.id, method="cash"), actor="t")
            assert isinstance(paid, Success)
        outcomes: list[object] = []

        async def refund(backend: Backend, order_id: str) -> None:
            request = RefundCreate(order_id=order_id, amount=1500, reason="race")
            outcomes.append(await backend.services.payments.refund(request, actor="t", approval=PersonConfirmed()))

        async with anyio.create_task_group() as tasks:
            for order_id in orders:
                tasks.start_soon(refund, first, order_id)
                tasks.start_soon(refund, second, order_id)
    finally:
        await first.close()
        await second.close()

    assert sum(isinstance(o, Success) for o in outcomes) == len(orders), "one refund per order goes through"
    assert all(isinstance(o, Success | Rejected) for o in outcomes), outcomes
    given_back = shop_db.query(
        "SELECT o.id, o.refunded_minor, (SELECT sum(p.amount_minor) FROM payments p"
        " WHERE p.order_id = o.id AND p.kind = 'refund') FROM orders o ORDER BY o.id"
    )
    assert given_back == [(order_id, 1500, 1500) for order_id in sorted(orders)]


# --- repository checks on each engine ----------------------------------------------------------


def a_customer(n: int) -> Customer:
    return Customer(
        id=f"cus_{n:026d}",
        name=f"Customer {n}",
        email=f"c{n}@example.com",
        phone=None,
        notes=None,
        created_at=T0,
        updated_at=T0,
    )


def a_product(n: int, sku: str, price: int, currency: str) -> Product:
    return Product(
        id=f"prd_{n:026d}",
        sku=sku,
        name=f"Product {sku}",
        description=None,
        price_minor=price,
        currency=currency,
        stock=100,
        active=True,
        created_at=T0,
        updated_at=T0,
    )


MUG, TEA, LAMP = a_product(1, "MUG", 1250, "EUR"), a_product(2, "TEA", 300, "EUR"), a_product(3, "LAMP", 700, "USD")


def an_order(
    n: int, placed_at: datetime, status: OrderStatus, customer: int, *lines: tuple[Product, int], paid: int = 0
) -> Order:
    order_lines = tuple(
        OrderLine(
            line_no=i,
            product_id=p.id,
            sku=p.sku,
            name=p.name,
            quantity=q,
            unit_price_minor=p.price_minor,
        )
        for i, (p, q) in enumerate(lines, start=1)
    )
    total = sum(line.total_minor for line in order_lines)
    return Order(
        id=f"ord_{n:026d}",  # ids grow with placed_at, as the generator makes them
        customer_id=a_customer(customer).id,
        status=status,
        currency=lines[0][0].currency,
        total_minor=total,
        paid_minor=paid,
        refunded_minor=0,
        units=sum(q for _, q in lines),
        lines=order_lines,
        shipping_address=None,
        carrier=None,
        tracking_number=None,
        placed_at=placed_at,
        updated_at=placed_at,
    )


def utc(day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, second, micro, tzinfo=UTC)


# New York days 2026-01-10 and 2026-01-11 are [10th 05:00Z, 11th 05:00Z) and [11th 05:00Z, 12th 05:00Z).
ORDERS = [
    an_order(1, utc(10, 4, 59, 59, 999_999), "paid", 1, (MUG, 1), paid=1250),  # NY 9th, 23:59:59.999999
    an_order(2, utc(10, 5), "delivered", 1, (MUG, 2), paid=2500),  # NY 10th, 00:00 sharp
    an_order(3, utc(11, 3), "placed", 2, (TEA, 3)),  # NY 10th, 22:00
    an_order(4, utc(11, 5, 30), "cancelled", 1, (MUG, 1)),  # NY 11th, cancelled
    an_order(5, utc(11, 12), "shipped", 2, (LAMP, 1), paid=700),  # NY 11th, in USD
    an_order(6, utc(12, 4, 59, 59, 999_999), "paid", 1, (TEA, 1), (MUG, 1), paid=1550),  # NY 11th, 23:59:59.999999
    an_order(7, utc(12, 5), "placed", 2, (TEA, 2)),  # NY 12th, 00:00 sharp
]


def a_payment(n: int, order: Order, amount: int, at: datetime, *, refund_of: Payment | None = None) -> Payment:
    return Payment(
        id=f"{'ref' if refund_of else 'pay'}_{n:026d}",
        kind="refund" if refund_of else "payment",
        order_id=order.id,
        amount_minor=amount,
        currency=order.currency,
        method="cash",
        status="succeeded",
        created_at=at,
        payment_id=refund_of.id if refund_of else None,
        reason="test" if refund_of else None,
    )


PAY_2 = a_payment(1, ORDERS[1], 2500, utc(10, 6))
PAY_6 = a_payment(2, ORDERS[5], 1550, utc(12, 4))
PAYMENTS = [
    a_payment(3, ORDERS[0], 1250, utc(10, 4)),
    PAY_2,
    PAY_6,
    a_payment(4, ORDERS[1], 500, utc(11, 4, 59), refund_of=PAY_2),  # NY 10th
    a_payment(5, ORDERS[1], 100, utc(11, 5), refund_of=PAY_2),  # NY 11th
    a_payment(6, ORDERS[5], 50, utc(12, 5), refund_of=PAY_6),  # NY 12th
]


@pytest.fixture
async def seeded(uow: SqlUnitOfWorkFactory) -> SqlUnitOfWorkFactory:
    async with uow(write=True) as w:
        for n in (1, 2):
            await w.customers.add(a_customer(n))
        for product in (MUG, TEA, LAMP):
            await w.products.add(product)
        for order in ORDERS:
            await w.orders.add(order)
        for payment in PAYMENTS:
            await w.payments.add(payment)
        await w.commit()
    return uow


def ny(day: int) -> datetime:
    return datetime(2026, 1, day, tzinfo=NEW_YORK)


async def test_order_pages_filter_by_time_status_and_customer(seeded: SqlUnitOfWorkFactory) -> None:
    async def ids(**filters: object) -> list[int]:
        arguments: dict[str, object] = {
            "status": None,
            "customer_id": None,
            "placed_from": None,
            "placed_to": None,
            "before_id": None,
            "limit": 100,
        }
        arguments.update(filters)
        async with seeded(write=False) as r:
            rows = await r.orders.page_before(**arguments)  # pyright: ignore[reportArgumentType]
        return [int(o.id.removeprefix("ord_")) for o in rows]

    assert await ids() == [7, 6, 5, 4, 3, 2, 1], "newest first"
    assert await ids(placed_from=ny(10), placed_to=ny(11)) == [3, 2], "a local day, its bounds as UTC instants"
    assert await ids(placed_from=ny(11), placed_to=ny(12)) == [6, 5, 4]
    assert await ids(placed_from=utc(10, 5), placed_to=utc(12, 5)) == [6, 5, 4, 3, 2], "[from, to)"
    assert await ids(placed_from=ny(10)) == [7, 6, 5, 4, 3, 2]
    assert await ids(placed_to=ny(10)) == [1]
    assert await ids(status="placed") == [7, 3]
    assert await ids(customer_id=a_customer(2).id) == [7, 5, 3]
    assert await ids(customer_id=a_customer(1).id, status="paid", placed_from=ny(10)) == [6]
    assert await ids(before_id=ORDERS[4].id, limit=2) == [4, 3], "keyset: strictly before the cursor's id"

    async with seeded(write=False) as r:
        loaded = await r.orders.get(ORDERS[5].id)
    assert loaded is not None
    assert loaded.placed_at == ORDERS[5].placed_at, "microseconds and UTC survive the round trip"
    assert [(line.sku, line.quantity) for line in loaded.lines] == [("TEA", 1), ("MUG", 1)]


async def test_order_list_days_are_local_days(seeded: SqlUnitOfWorkFactory) -> None:
    desk = ApprovalDesk(SystemClock(), IdGenerator())
    service = OrderService(seeded, SystemClock(), IdGenerator(), desk, NEW_YORK)

    async def listed(**filters: object) -> list[int]:
        result = await service.list(OrderQuery.model_validate(filters))
        assert isinstance(result, Success)
        return [int(o.id.removeprefix("ord_")) for o in result.value.items]

    assert await listed(placed_from="2026-01-10", placed_to="2026-01-10") == [3, 2]
    assert await listed(placed_from="2026-01-11", placed_to="2026-01-11") == [6, 5, 4]
    assert await listed(placed_from="2026-01-10", placed_to="2026-01-11", status="cancelled") == [4]


async def test_payment_pages_filter_by_local_days(seeded: SqlUnitOfWorkFactory) -> None:
    desk = ApprovalDesk(SystemClock(), IdGenerator())
    service = PaymentService(seeded, SystemClock(), IdGenerator(), desk, NEW_YORK)

    async def listed(**filters: object) -> list[str]:
        result = await service.list(PaymentQuery.model_validate(filters))
        assert isinstance(result, Success)
        return [p.id for p in result.value.items]

    assert await listed(date_from="2026-01-10", date_to="2026-01-10") == [PAY_2.id, PAYMENTS[3].id]
    assert await listed(date_from="2026-01-11", date_to="2026-01-11") == [PAY_6.id, PAYMENTS[4].id]
    assert await listed(order_id=ORDERS[1].id) == [PAY_2.id, PAYMENTS[3].id, PAYMENTS[4].id], "oldest first"


def by_hand(first: date, last: date) -> list[DaySales]:
    """The day rows, computed in Python from the fixtures: local days, cancelled orders (and their refunds) apart."""
    rows: dict[tuple[date, str], list[int]] = {}
    for order in ORDERS:
        day = order.placed_at.astimezone(NEW_YORK).date()
        if first <= day <= last:
            figures = rows.setdefault((day, order.currency), [0, 0, 0, 0, 0])
            if order.status == "cancelled":
                figures[4] += 1
            else:
                figures[0] += 1
                figures[1] += order.units
                figures[2] += order.total_minor
    cancelled = {order.id for order in ORDERS if order.status == "cancelled"}
    for payment in PAYMENTS:
        day = payment.created_at.astimezone(NEW_YORK).date()
        returned = payment.kind == "refund" and payment.status == "succeeded" and payment.order_id not in cancelled
        if returned and first <= day <= last:
            rows.setdefault((day, payment.currency), [0, 0, 0, 0, 0])[3] += payment.amount_minor
    return [DaySales(day, currency, *figures) for (day, currency), figures in sorted(rows.items())]


async def test_sales_by_day_matches_a_hand_computation_in_local_days(seeded: SqlUnitOfWorkFactory) -> None:
    first, last = date(2026, 1, 10), date(2026, 1, 11)
    async with seeded(write=False) as r:
        days = await r.reports.sales_by_day(day_windows(first, last, NEW_YORK))

    assert days == by_hand(first, last)
    assert days == [
        DaySales(date(2026, 1, 10), "EUR", orders=2, units=5, revenue_minor=3400, refunds_minor=500, cancelled=0),
        DaySales(date(2026, 1, 11), "EUR", orders=1, units=2, revenue_minor=1550, refunds_minor=100, cancelled=1),
        DaySales(date(2026, 1, 11), "USD", orders=1, units=1, revenue_minor=700, refunds_minor=0, cancelled=0),
    ]
    async with seeded(write=False) as r:
        assert await r.reports.sales_by_day(day_windows(date(2026, 1, 12), date(2026, 1, 12), NEW_YORK)) == by_hand(
            date(2026, 1, 12), date(2026, 1, 12)
        )


async def test_sales_summary_per_product_and_refunds_per_day(seeded: SqlUnitOfWorkFactory) -> None:
    service = ReportService(seeded, NEW_YORK)

    result = await service.sales_summary(SalesQuery(date_from=date(2026, 1, 10), date_to=date(2026, 1, 11), top=2))

    assert isinstance(result, Success)
    summary = result.value
    assert summary.timezone == "America/New_York"
    assert [(d.day, d.currency, d.refunds_minor) for d in summary.days] == [
        (date(2026, 1, 10), "EUR", 500),
        (date(2026, 1, 11), "EUR", 100),
        (date(2026, 1, 11), "USD", 0),
    ]
    # MUG: order 2 (2 units) and order 6 (1); order 1 is the 9th, order 4 cancelled. TEA: orders 3 (3) and 6 (1).
    assert summary.top == [
        ProductSales(MUG.id, "MUG", MUG.name, "EUR", orders=2, units=3, revenue_minor=3750),
        ProductSales(TEA.id, "TEA", TEA.name, "EUR", orders=2, units=4, revenue_minor=1200),
    ]

    per_product = await service.sales_summary(
        SalesQuery(date_from=date(2026, 1, 10), date_to=date(2026, 1, 11), group_by="product")
    )
    assert isinstance(per_product, Success)
    assert [(p.sku, p.units, p.revenue_minor) for p in per_product.value.products] == [
        ("MUG", 3, 3750),
        ("TEA", 4, 1200),
        ("LAMP", 1, 700),
    ]
    assert per_product.value.days == []


async def test_a_day_of_daylight_saving_change_is_23_hours() -> None:
    """2026-03-08 in New York starts at 05:00Z and ends at 04:00Z the next day."""
    (window,) = day_windows(date(2026, 3, 8), date(2026, 3, 8), NEW_YORK)
    assert (window.start.astimezone(UTC), window.end.astimezone(UTC)) == (
        datetime(2026, 3, 8, 5, tzinfo=UTC),
        datetime(2026, 3, 9, 4, tzinfo=UTC),
    )
