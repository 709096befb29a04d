"""OrderRepository: an order comes back with its lines in order; update writes the status, amounts,
shipment, timestamps and restocked counts; pages run newest first with filters and date windows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from mcp_server.models.orders import Address, Order
from mcp_server.services.ports import UnitOfWorkFactory
from tests.contract.records import T0, at, customer, order, payment, product, read, save, written

pytestmark = pytest.mark.anyio

ADA, BOB = customer(1, "Ada"), customer(2, "Bob")
MUG, TEA = product(1, "MUG-01", "Mug", price_minor=1000), product(2, "TEA-01", "Thé vert", price_minor=450)
HOME = Address("Ada Lovelace", "12 St James's Square", None, "SW1Y 4JH", "London", "GB")


async def get(uow: UnitOfWorkFactory, order_id: str) -> Order | None:
    return await read(uow, lambda w: w.orders.get(order_id))


async def test_an_order_comes_back_with_its_lines_in_order(uow_factory: UnitOfWorkFactory) -> None:
    placed = order(1, ADA, [(TEA, 3), (MUG, 1)], address=replace(HOME, line2="Flat 2"))
    bare = order(2, ADA, [(MUG, 2)])
    await save(uow_factory, ADA, MUG, TEA, placed, bare)
    assert await get(uow_factory, placed.id) == placed
    assert await get(uow_factory, bare.id) == bare
    assert (placed.total_minor, placed.units, placed.line_count) == (2350, 4, 2)
    assert await get(uow_factory, "ord_missing") is None
    async with uow_factory(write=True) as work:  # a writer reads the same (on a server, locking the row)
        assert await work.orders.get(placed.id) == placed
        assert await work.orders.get("ord_missing") is None


async def test_detail_brings_the_customer_and_the_payments_oldest_first(uow_factory: UnitOfWorkFactory) -> None:
    placed = order(1, ADA, [(MUG, 2)])
    paid = payment(1, placed, 2000, when=at(10))
    refund = payment(2, placed, 500, kind="refund", when=at(20), refund_of=paid)
    other = order(2, BOB, [(MUG, 1)])
    await save(uow_factory, ADA, BOB, MUG, placed, other, paid, payment(3, other, 1000), refund)
    found = await read(uow_factory, lambda w: w.orders.detail(placed.id))
    assert found is not None
    got, buyer, payments = found
    assert (got, buyer) == (placed, ADA)
    assert [(p.id, p.kind, p.payment_id) for p in payments] == [
        (paid.id, "payment", None),
        (refund.id, "refund", paid.id),
    ]
    assert await read(uow_factory, lambda w: w.orders.detail("ord_missing")) is None


async def test_update_writes_status_amounts_shipment_and_restocked_counts(uow_factory: UnitOfWorkFactory) -> None:
    placed = order(1, ADA, [(MUG, 2), (TEA, 3)], address=HOME)
    await save(uow_factory, ADA, MUG, TEA, placed)
    shipped = placed.pay(placed.total_minor, at(10)).ship("DHL", "JD0001", at(20))
    await written(uow_factory, lambda w: w.orders.update(shipped))
    assert await get(uow_factory, placed.id) == shipped
    refunded = shipped.refund(shipped.paid_minor, at(30)).restocked()
    await written(uow_factory, lambda w: w.orders.update(refunded))
    got = await get(uow_factory, placed.id)
    assert got == refunded
    assert got is not None
    assert (got.status, got.refunded_minor, [line.restocked for line in got.lines]) == ("refunded", 2000 + 1350, [2, 3])


async def test_update_leaves_what_an_order_never_changes(uow_factory: UnitOfWorkFactory) -> None:
    placed = order(1, ADA, [(MUG, 2)], address=HOME)
    await save(uow_factory, ADA, MUG, placed)
    tampered = replace(
        placed.pay(2000, at(10)),
        customer_id=BOB.id, total_minor=1, units=99, shipping_address=None, placed_at=at(days=9),
        lines=(replace(placed.lines[0], quantity=9, unit_price_minor=1),),
    )  # fmt: skip
    await written(uow_factory, lambda w: w.orders.update(tampered))
    assert await get(uow_factory, placed.id) == placed.pay(2000, at(10))


async def test_pages_run_newest_first_without_lines(uow_factory: UnitOfWorkFactory) -> None:
    orders = [order(n, ADA if n % 2 else BOB, [(MUG, n), (TEA, 1)], when=at(n)) for n in range(1, 6)]
    await save(uow_factory, ADA, BOB, MUG, TEA, *orders)

    async def page(
        *, status: str | None = None, customer_id: str | None = None, before: str | None = None, limit: int = 50
    ) -> list[Order]:
        return await read(
            uow_factory,
            lambda w: w.orders.page_before(
                status=status, customer_id=customer_id, placed_from=None, placed_to=None, before_id=before, limit=limit
            ),
        )

    newest = await page()
    assert newest == [replace(o, lines=()) for o in reversed(orders)], "without lines, with their line count"
    assert all(o.line_count == 2 for o in newest)
    assert [o.id for o in await page(limit=2)] == [orders[4].id, orders[3].id]
    assert [o.id for o in await page(before=orders[3].id, limit=2)] == [orders[2].id, orders[1].id]
    assert [o.id for o in await page(customer_id=BOB.id)] == [orders[3].id, orders[1].id]
    await written(uow_factory, lambda w: w.orders.update(orders[2].pay(orders[2].total_minor, at(60))))
    assert [o.id for o in await page(status="paid")] == [orders[2].id]
    assert [o.id for o in await page(status="placed", customer_id=ADA.id)] == [orders[4].id, orders[0].id]
    assert await page(status="shipped") == []


async def test_a_dated_page_runs_by_placed_time_and_its_cursor_continues_there(uow_factory: UnitOfWorkFactory) -> None:
    """With a date, newest first is by placed_at (then id, for orders placed at the same moment), along the
    placed_at index: here the ids run the other way, as imported or hand-made ids might."""
    late = at(days=2)
    orders = [order(1, ADA, [(MUG, 1)], when=late), order(2, ADA, [(MUG, 1)], when=late)]
    orders += [order(n, ADA if n % 2 else BOB, [(MUG, 1)], when=at(days=1, seconds=-n)) for n in range(3, 7)]
    await save(uow_factory, ADA, BOB, MUG, *orders)

    async def page(*, before: str | None = None, customer_id: str | None = None, limit: int = 2) -> list[str]:
        rows = await read(
            uow_factory,
            lambda w: w.orders.page_before(
                status=None, customer_id=customer_id, placed_from=T0, placed_to=at(days=3), before_id=before,
                limit=limit,
            ),
        )  # fmt: skip
        return [o.id for o in rows]

    ids = [o.id for o in orders]
    assert await page(limit=50) == [ids[1], ids[0], *ids[2:]], "placed_at descending, id descending among equals"
    assert await page() == [ids[1], ids[0]]
    assert await page(before=ids[0]) == [ids[2], ids[3]]
    assert await page(before=ids[3]) == [ids[4], ids[5]]
    assert await page(before=ids[5]) == []
    assert await page(before=ids[2], customer_id=ADA.id, limit=50) == [ids[4]]
    undated = await read(
        uow_factory,
        lambda w: w.orders.page_before(
            status=None, customer_id=None, placed_from=None, placed_to=None, before_id=None, limit=50
        ),
    )
    assert [o.id for o in undated] == sorted(ids, reverse=True), "without a date, by id as before"


async def test_date_windows_include_their_start_and_exclude_their_end(uow_factory: UnitOfWorkFactory) -> None:
    start, end = T0, T0 + timedelta(days=1)
    just_before = order(1, ADA, [(MUG, 1)], when=start - timedelta(microseconds=1))
    at_start = order(2, ADA, [(MUG, 1)], when=start)
    inside = order(3, ADA, [(MUG, 1)], when=start + timedelta(hours=5))
    last = order(4, ADA, [(MUG, 1)], when=end - timedelta(microseconds=1))
    at_end = order(5, ADA, [(MUG, 1)], when=end)
    await save(uow_factory, ADA, MUG, just_before, at_start, inside, last, at_end)

    async def window(placed_from: datetime | None, placed_to: datetime | None) -> list[str]:
        rows = await read(
            uow_factory,
            lambda w: w.orders.page_before(
                status=None, customer_id=None, placed_from=placed_from, placed_to=placed_to, before_id=None, limit=50
            ),
        )
        return [o.id for o in rows]

    assert await window(start, end) == [last.id, inside.id, at_start.id]
    assert await window(start, None) == [at_end.id, last.id, inside.id, at_start.id]
    assert await window(None, start) == [just_before.id]
    tokyo = timezone(timedelta(hours=9))  # the same moments, written in another offset
    assert await window(start.astimezone(tokyo), end.astimezone(tokyo)) == [last.id, inside.id, at_start.id]
