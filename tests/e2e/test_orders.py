"""Order tools through a real client: place (or dry-run), get, list, cancel, ship, deliver, and on to a refund."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import pytest

from tests.e2e.support import (
    JsonObject,
    Mode,
    Person,
    Refusal,
    Shop,
    as_list,
    as_object,
    assert_refused_without_change,
    boolean,
    decide,
    integer,
    objects,
    open_shop,
    optional_string,
    piped,
    string,
    timestamp,
)
from tests.engines import ShopDatabase

pytestmark = [pytest.mark.anyio, pytest.mark.approver]

UNKNOWN_ORDER = "ord_01HZZZZZZZZZZZZZZZZZZZZZZZ"  # well formed, never issued
UNKNOWN_CUSTOMER = "cus_01HZZZZZZZZZZZZZZZZZZZZZZZ"
ADDRESS: JsonObject = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Sq",
    "postal_code": "SW1Y 4JH",
    "city": "London",
    "country": "gb",
}


def stock_of(products: list[JsonObject]) -> dict[str, int]:
    return {string(p, "sku"): integer(p, "stock") for p in products}


def placed_day(order: JsonObject) -> date:
    return timestamp(order, "placed_at").date()  # the shop runs on UTC in these tests


async def confirmed(shop: Shop, tool: str, arguments: JsonObject) -> JsonObject:
    """Call a money-moving tool as a person approves it: ask, the approver approves, finish."""
    done = (await shop.approved(tool, arguments)).data
    assert string(done, "outcome") == "done", done
    return done


async def every_order(shop: Shop, limit: int, **filters: object) -> tuple[list[str], int]:
    """All order ids through cursor paging, and how many pages it took."""
    ids: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        arguments: JsonObject = {**filters, "limit": limit}
        if cursor is not None:
            arguments["cursor"] = cursor
        page = await shop.ok("orders_list", arguments)
        pages += 1
        ids += [string(o, "id") for o in objects(page.data, "orders")]
        cursor = optional_string(page.data, "next_cursor")
        if cursor is None:
            assert "That is the whole list." in page.text or page.text.startswith("No orders")
            return ids, pages
        assert f"cursor=`{cursor}`" in page.text, "the Markdown hands out the same cursor"


# --- the whole way -------------------------------------------------------------------------------


async def test_an_order_from_placing_to_full_refund(shop: Shop) -> None:
    ada = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")
    mug = string(await shop.add_product("MUG-1", "Blue Mug", 1250, "EUR", stock=10), "id")
    tea = string(await shop.add_product("TEA-1", "Green Tea", 300, "EUR", stock=20), "id")

    # place
    placed = await shop.ok(
        "orders_place",
        {
            "customer_id": ada,
            "lines": [{"sku": "mug-1", "quantity": 2}, {"product_id": tea.lower(), "quantity": 3}],
            "shipping_address": ADDRESS,
            "idempotency_key": "first-order",
        },
    )
    assert not placed.data["dry_run"]
    assert placed.data["replayed"] is False
    assert placed.data["can_place"] is True
    assert placed.data["problems"] == []
    order = as_object(placed.data["order"])
    order_id = string(order, "id")
    assert order_id.startswith("ord_")
    assert string(placed.data, "customer_id") == ada
    assert (string(placed.data, "currency"), integer(placed.data, "total_minor")) == ("EUR", 3400)
    assert string(order, "status") == "placed"
    assert (integer(order, "total_minor"), integer(order, "paid_minor"), integer(order, "outstanding_minor")) == (
        3400,
        0,
        3400,
    )
    assert string(order, "total") == "34.00 EUR"
    assert (integer(order, "units"), integer(order, "line_count")) == (5, 2)
    assert order["next_actions"] == ["payments_record", "orders_cancel"]
    assert as_object(order["shipping_address"])["country"] == "GB"
    lines = objects(order, "lines")
    assert [(string(x, "sku"), integer(x, "quantity"), integer(x, "line_total_minor")) for x in lines] == [
        ("MUG-1", 2, 2500),
        ("TEA-1", 3, 900),
    ]
    assert string(lines[0], "product_id") == mug
    assert placed.data["lines"] == order["lines"]
    text = placed.text
    assert text.startswith(f"## Placed order `{order_id}`\n")
    for expected in (
        "- **status:** placed",
        "- **total:** 34.00 EUR (5 units)",
        "- **paid:** 0.00 EUR · **still to pay:** 34.00 EUR",
        "- **ship to:** `Ada Lovelace, 12 St James's Sq, SW1Y 4JH London, GB`",
        "|SKU|product|qty|unit price (EUR)|total (EUR)|",
        "|`MUG-1`|`Blue Mug`|2|12.50|25.00|",
        "|`TEA-1`|`Green Tea`|3|3.00|9.00|",
        f"call payments_record with order_id=`{order_id}` and amount=3400",
    ):
        assert expected in piped(text), f"{expected!r} missing from:\n{text}"
    assert stock_of(await shop.every_product()) == {"MUG-1": 8, "TEA-1": 17}, "placing reserves the stock"

    # get and list
    got = await shop.ok("orders_get", {"order_id": order_id.lower()})
    assert got.data == order
    assert f"- **customer:** `Ada Lovelace` (`{ada}`)" in got.text
    listed = objects((await shop.ok("orders_list", {})).data, "orders")
    assert [string(o, "id") for o in listed] == [order_id]
    assert "lines" not in listed[0], "lists leave details to orders_get"
    assert "shipping_address" not in listed[0], "lists leave details to orders_get"
    assert string(listed[0], "customer_name") == "Ada Lovelace", "a list names each order's customer"
    summary = {k: v for k, v in listed[0].items() if k != "customer_name"}
    assert summary == {k: order[k] for k in summary}, "the summary agrees with get"

    # pay in two parts
    part = await shop.ok(
        "payments_record", {"order_id": order_id, "amount": 1000, "method": "bank_transfer", "reference": "SEPA 7"}
    )
    assert string(part.data, "id").startswith("pay_")
    assert (integer(part.data, "amount_minor"), string(part.data, "method")) == (1000, "bank_transfer")
    assert string(as_object(part.data["order"]), "status") == "placed"
    assert integer(as_object(part.data["order"]), "outstanding_minor") == 2400
    assert "Still to pay: 24.00 EUR." in part.text
    rest = await shop.ok("payments_record", {"order_id": order_id, "amount": 2400, "method": "cash"})
    paid = as_object(rest.data["order"])
    assert (string(paid, "status"), integer(paid, "paid_minor"), integer(paid, "outstanding_minor")) == (
        "paid",
        3400,
        0,
    )
    assert paid["next_actions"] == ["orders_mark_shipped", "orders_cancel", "payments_refund"]
    assert f"The order is paid. Next: orders_mark_shipped with order_id=`{order_id}`." in rest.text

    # ship and deliver
    shipped = await shop.ok(
        "orders_mark_shipped", {"order_id": order_id, "carrier": "DHL", "tracking_number": "JD0001"}
    )
    assert (string(shipped.data, "status"), shipped.data["carrier"], shipped.data["tracking_number"]) == (
        "shipped",
        "DHL",
        "JD0001",
    )
    assert "- **shipped with:** `DHL`, tracking `JD0001`" in shipped.text
    delivered = await shop.ok("orders_mark_delivered", {"order_id": order_id})
    assert string(delivered.data, "status") == "delivered"
    assert delivered.data["next_actions"] == ["payments_refund"]

    # refund part, then the rest
    first = await confirmed(shop, "payments_refund", {"order_id": order_id, "amount": 400, "reason": "chipped mug"})
    assert (string(first, "order_status"), integer(first, "amount_minor"), integer(first, "restocked_units")) == (
        "delivered",
        400,
        0,
    )
    refunds = objects(first, "refunds")
    assert [(string(r, "kind"), integer(r, "amount_minor")) for r in refunds] == [("refund", 400)]
    assert string(refunds[0], "payment_id") == string(rest.data, "id"), "the newest payment pays back first"
    second = await confirmed(shop, "payments_refund", {"order_id": order_id, "amount": 3000, "reason": "returned"})
    assert string(second, "order_status") == "refunded"
    assert [integer(r, "amount_minor") for r in objects(second, "refunds")] == [2000, 1000]
    final = (await shop.ok("orders_get", {"order_id": order_id})).data
    assert (string(final, "status"), integer(final, "refunded_minor"), final["next_actions"]) == ("refunded", 3400, [])
    assert stock_of(await shop.every_product()) == {"MUG-1": 8, "TEA-1": 17}, "refunds without restock leave stock"

    # the ledger, the audit trail and the e-mails
    ledger = objects((await shop.ok("payments_list", {"order_id": order_id})).data, "payments")
    assert [(string(p, "kind"), integer(p, "amount_minor")) for p in ledger] == [
        ("payment", 1000),
        ("payment", 2400),
        ("refund", 400),
        ("refund", 2000),
        ("refund", 1000),
    ]
    trail = await shop.every_audit_entry(entity_id=order_id)
    assert sorted(string(e, "action") for e in trail) == sorted(
        ["order.placed", "payment.recorded", "payment.recorded", "order.shipped", "order.delivered"]
        + ["payment.refunded"] * 2
    )
    mails = sorted(str(kind) for (kind,) in shop.db.query("SELECT kind FROM outbox"))
    assert mails == ["order_placed", "order_refunded", "order_refunded", "order_shipped", "welcome"]

    # the sales summary agrees
    first_day = placed_day(order)
    last_day = max(timestamp(p, "created_at").date() for p in ledger)
    summary = await shop.ok(
        "reports_sales_summary", {"date_from": first_day.isoformat(), "date_to": last_day.isoformat()}
    )
    days = objects(summary.data, "days")
    assert sum(integer(d, "orders") for d in days) == 1
    assert sum(integer(d, "units") for d in days) == 5
    assert sum(integer(d, "revenue_minor") for d in days) == 3400
    assert sum(integer(d, "refunds_minor") for d in days) == 3400
    assert sum(integer(d, "net_minor") for d in days) == 0
    assert sum(integer(d, "cancelled") for d in days) == 0
    assert {string(d, "currency") for d in days} == {"EUR"}
    top = [
        (string(p, "sku"), integer(p, "units"), integer(p, "revenue_minor"))
        for p in objects(summary.data, "top_products")
    ]
    assert top == [("MUG-1", 2, 2500), ("TEA-1", 3, 900)]
    if first_day == last_day:
        assert "**Total EUR:** 1 order, 5 units, revenue 34.00 EUR, refunds 34.00 EUR, net 0.00 EUR" in summary.text
    by_product = await shop.ok(
        "reports_sales_summary",
        {"date_from": first_day.isoformat(), "date_to": last_day.isoformat(), "group_by": "product"},
    )
    assert objects(by_product.data, "products") == objects(summary.data, "top_products")
    assert "|`MUG-1`|`Blue Mug`|1|2|25.00|" in piped(by_product.text)


# --- placing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stocked:
    """A shop with two customers, products in two currencies, and orders in several states."""

    shop: Shop
    ada: str
    grace: str
    placed: str  # MUG-1 x1, not paid
    paid: str  # MUG-1 x1, paid
    shipped: str  # MUG-1 x1, paid and shipped
    orders_cursor: str  # from orders_list(limit=1)

    def resolve(self, value: object) -> object:
        placeholders = {
            "<ada>": self.ada,
            "<grace>": self.grace,
            "<placed>": self.placed,
            "<paid>": self.paid,
            "<shipped>": self.shipped,
            "<orders_cursor>": self.orders_cursor,
        }
        return placeholders.get(value, value) if isinstance(value, str) else value


async def stock_up(shop: Shop) -> tuple[str, str]:
    ada = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")
    grace = string(await shop.register("Grace Hopper", "grace@navy.example"), "id")
    await shop.add_product("MUG-1", "Blue Mug", 1250, "EUR", stock=10)
    await shop.add_product("TEA-1", "Green Tea", 300, "EUR", stock=50)
    await shop.add_product("LAMP-1", "Desk Lamp", 900, "USD", stock=5)
    old = string(await shop.add_product("OLD-1", "Old Kettle", 2000, "EUR", stock=5), "id")
    await shop.ok("catalog_update_product", {"product_id": old, "active": False})
    return ada, grace


@pytest.fixture
async def stocked(shop: Shop) -> Stocked:
    ada, grace = await stock_up(shop)
    placed = string(await shop.place(ada, ("MUG-1", 1)), "id")
    paid = string(await shop.place(ada, ("MUG-1", 1)), "id")
    await shop.ok("payments_record", {"order_id": paid, "amount": 1250, "method": "cash"})
    shipped = string(await shop.place(grace, ("MUG-1", 1)), "id")
    await shop.ok("payments_record", {"order_id": shipped, "amount": 1250, "method": "cash"})
    await shop.ok("orders_mark_shipped", {"order_id": shipped, "carrier": "UPS", "tracking_number": "1Z"})
    page = await shop.ok("orders_list", {"limit": 1})
    cursor = optional_string(page.data, "next_cursor")
    assert cursor is not None
    return Stocked(shop, ada, grace, placed, paid, shipped, cursor)


async def test_dry_run_prices_without_reserving(stocked: Stocked) -> None:
    shop = stocked.shop
    before = await shop.state()

    reply = await shop.ok(
        "orders_place",
        {
            "customer_id": stocked.ada,
            "lines": [{"sku": "MUG-1", "quantity": 7}, {"sku": "TEA-1", "quantity": 2}],
            "dry_run": True,
        },
    )

    assert await shop.state() == before, "a dry run writes nothing"
    data = reply.data
    assert (boolean(data, "dry_run"), boolean(data, "can_place"), data["problems"], data["order"]) == (
        True,
        True,
        [],
        None,
    )
    assert (string(data, "currency"), integer(data, "total_minor")) == ("EUR", 7 * 1250 + 2 * 300)
    assert [integer(x, "line_total_minor") for x in objects(data, "lines")] == [8750, 600]
    assert reply.text.startswith("## Dry run — nothing was placed or reserved")
    assert "- **total:** 93.50 EUR" in reply.text
    assert "|`MUG-1`|`Blue Mug`|7|12.50|87.50|7|" in piped(reply.text), "shows the stock left"
    assert "dry_run=false to place it" in reply.text


async def test_dry_run_reports_every_problem_and_writes_nothing(stocked: Stocked) -> None:
    shop = stocked.shop
    before = await shop.state()

    reply = await shop.ok(
        "orders_place",
        {
            "customer_id": stocked.ada,
            "lines": [
                {"sku": "NOPE-9", "quantity": 1},
                {"sku": "MUG-1", "quantity": 8},
                {"sku": "OLD-1", "quantity": 1},
                {"sku": "LAMP-1", "quantity": 1},
            ],
            "dry_run": True,
        },
    )

    assert await shop.state() == before
    assert boolean(reply.data, "can_place") is False
    problems = [str(p) for p in as_list(reply.data["problems"])]
    assert problems == [
        "line 1 (NOPE-9): no product with SKU 'NOPE-9'",
        "line 2 (MUG-1): insufficient stock: 7 in stock, 8 requested",
        "line 3 (OLD-1): the product is inactive (not for sale)",
        "line 4 (LAMP-1): is priced in USD, but the order is in EUR (one currency per order)",
    ]
    assert "**Cannot be placed as it is:**" in reply.text
    for problem in problems:  # the Markdown quotes each line's SKU as sent, and what the problem quotes
        shown = re.sub(r"^line (\d) \(([^)]+)\)", r"line \1 (`\2`)", problem).replace("'NOPE-9'", "`NOPE-9`")
        assert f"- {shown}" in reply.text, f"{shown!r} missing from:\n{reply.text}"


async def test_placing_with_a_key_twice_places_one_order(stocked: Stocked) -> None:
    shop = stocked.shop
    arguments: JsonObject = {
        "customer_id": stocked.grace,
        "lines": [{"sku": "TEA-1", "quantity": 4}],
        "idempotency_key": "retry-7f3a",
    }
    first = await shop.ok("orders_place", arguments)
    after_first = await shop.state()

    again = await shop.ok("orders_place", arguments)

    assert await shop.state() == after_first, "the retry changes nothing"
    assert boolean(again.data, "replayed") is True
    assert boolean(first.data, "replayed") is False
    assert as_object(again.data["order"])["id"] == as_object(first.data["order"])["id"]
    assert as_object(again.data["order"]) == as_object(first.data["order"])
    assert "already placed with this idempotency_key; nothing was changed now" in again.text
    assert stock_of(after_first.products)["TEA-1"] == 46

    message = await shop.fail("orders_place", {**arguments, "lines": [{"sku": "TEA-1", "quantity": 5}]})

    assert "idempotency_key 'retry-7f3a' was already used" in message
    assert "different arguments" in message
    assert "Nothing was changed" in message
    assert await shop.state() == after_first


async def test_a_refused_order_does_not_use_up_its_key(stocked: Stocked) -> None:
    shop = stocked.shop
    bad: JsonObject = {
        "customer_id": stocked.ada,
        "lines": [{"sku": "TEA-1", "quantity": 51}],
        "idempotency_key": "k-1",
    }
    before = await shop.state()
    assert "insufficient stock" in await shop.fail("orders_place", bad)
    assert await shop.state() == before

    fixed = await shop.ok("orders_place", {**bad, "lines": [{"sku": "TEA-1", "quantity": 50}]})

    assert boolean(fixed.data, "replayed") is False
    assert stock_of(await shop.every_product())["TEA-1"] == 0


async def test_two_bad_lines_in_one_order_are_both_named(stocked: Stocked) -> None:
    shop = stocked.shop
    before = await shop.state()

    message = await shop.fail(
        "orders_place",
        {
            "customer_id": stocked.ada,
            "lines": [
                {"sku": "NOPE-9", "quantity": 1},
                {"sku": "MUG-1", "quantity": 1},
                {"sku": "TEA-1", "quantity": 51},
            ],
        },
    )

    assert message.startswith("2 lines cannot be ordered")
    assert "line 1 (NOPE-9): no product with SKU 'NOPE-9'" in message
    assert "line 3 (TEA-1): insufficient stock: 50 in stock, 51 requested" in message
    assert "line 2" not in message
    assert "Nothing was changed" in message
    assert await shop.state() == before


async def test_the_count_of_bad_lines_counts_lines(stocked: Stocked) -> None:
    message = await stocked.shop.fail(
        "orders_place",
        {
            "customer_id": stocked.ada,
            "lines": [
                {"sku": "NOPE-9", "quantity": 1},
                {"sku": "MUG-1", "quantity": 1},
                {"sku": "LAMP-1", "quantity": 6},
            ],
        },
    )

    assert "line 3 (LAMP-1): insufficient stock" in message
    assert "line 3 (LAMP-1): is priced in USD" in message
    assert message.startswith("2 lines cannot be ordered"), message


# --- listing -------------------------------------------------------------------------------------


async def test_list_filters_and_pages_newest_first(stocked: Stocked) -> None:
    shop = stocked.shop
    extra = [string(await shop.place(stocked.grace, ("TEA-1", n)), "id") for n in (1, 2)]
    every = [stocked.placed, stocked.paid, stocked.shipped, *extra]
    newest_first = every[::-1]

    assert await every_order(shop, limit=2) == (newest_first, 3)
    assert await every_order(shop, limit=100) == (newest_first, 1)
    assert await every_order(shop, limit=1, customer_id=stocked.grace) == ([extra[1], extra[0], stocked.shipped], 3)
    assert await every_order(shop, limit=1, customer_id=stocked.ada.lower(), status="placed") == ([stocked.placed], 1)
    assert await every_order(shop, limit=10, status="paid") == ([stocked.paid], 1)
    assert await every_order(shop, limit=10, status="delivered") == ([], 1)

    today = placed_day(as_object((await shop.ok("orders_get", {"order_id": extra[-1]})).data))
    first_day = placed_day(as_object((await shop.ok("orders_get", {"order_id": stocked.placed})).data))
    window = {"placed_from": first_day.isoformat(), "placed_to": today.isoformat()}
    assert await every_order(shop, limit=2, **window) == (newest_first, 3)
    before = (first_day - timedelta(days=1)).isoformat()
    assert await every_order(shop, limit=10, placed_to=before) == ([], 1)
    assert await every_order(shop, limit=10, placed_from=(today + timedelta(days=1)).isoformat()) == ([], 1)
    empty = await shop.ok("orders_list", {"placed_to": before, "status": "paid"})
    assert empty.text == f"No orders (status paid, placed to {before})."

    page = await shop.ok("orders_list", {"limit": 2, "status": "placed"})
    assert page.text.startswith("**2 orders (status placed), newest first**")
    assert "|id|placed (UTC)|customer|units|total (EUR)|to pay (EUR)|" in piped(page.text), (
        "no status: the filter says it"
    )
    assert f"|`{extra[1]}`|" in piped(page.text)
    assert f"|`Grace Hopper` `{stocked.grace}`|2|6.00|6.00|" in piped(page.text)
    many = await shop.ok("orders_list", {"customer_id": stocked.grace})
    assert many.text.startswith(f"**3 orders (of customer `Grace Hopper` `{stocked.grace}`), newest first**")
    assert "|id|placed (UTC)|status|units|total (EUR)|to pay (EUR)|" in piped(many.text), (
        "no customer: the filter says it"
    )
    assert {string(o, "customer_name") for o in objects(many.data, "orders")} == {"Grace Hopper"}
    assert "call orders_list again with the same filters and cursor=`" in page.text


# --- cancelling ----------------------------------------------------------------------------------


async def test_cancelling_an_unpaid_order_needs_no_confirmation(stocked: Stocked) -> None:
    shop = stocked.shop
    before = stock_of(await shop.every_product())

    reply = await shop.ok("orders_cancel", {"order_id": stocked.placed, "reason": "changed her mind"})

    assert (string(reply.data, "outcome"), string(reply.data, "order_status")) == ("done", "cancelled")
    assert (integer(reply.data, "amount_minor"), integer(reply.data, "restocked_units")) == (0, 1)
    assert "nothing was paid, so nothing is refunded" in string(reply.data, "preview")
    assert "**refunded to the customer:** nothing (nothing was paid)" in reply.text
    assert stock_of(await shop.every_product())["MUG-1"] == before["MUG-1"] + 1
    order = (await shop.ok("orders_get", {"order_id": stocked.placed})).data
    assert (string(order, "status"), order["next_actions"]) == ("cancelled", [])


async def test_cancelling_a_paid_order_refunds_once_a_person_approved(stocked: Stocked) -> None:
    shop = stocked.shop
    before = await shop.state()

    preview = await shop.ok("orders_cancel", {"order_id": stocked.paid})

    after = await shop.state()
    assert (after.customers, after.products) == (before.customers, before.products), "asking changes no stock"
    made = {t: rows for t, rows in after.rows.items() if rows != before.rows[t]}
    assert set(made) == {"approval_requests", "audit_log"}, "only the approval request (and its audit entry)"
    assert [string(e, "action") for e in after.audit[: len(after.audit) - len(before.audit)]] == ["approval.requested"]
    assert string(preview.data, "outcome") == "approval_required"
    assert "Approval needed — nothing was changed yet" in preview.text
    assert "1 unit(s) go back into stock and 12.50 EUR is refunded" in string(preview.data, "preview")
    assert "- **refunded to the customer:** 12.50 EUR" in preview.text
    approval_id = string(preview.data, "approval_id")
    assert f"shopkeeper approvals approve {approval_id}" in preview.text
    assert "you cannot" in preview.text

    early = await shop.fail("orders_cancel", {"order_id": stocked.paid, "approval_id": approval_id})
    assert "still waiting for a person" in early
    assert "`shopkeeper approvals approve apr_…`" in early, "the assistant can tell the person how"
    await decide(shop.db, approval_id)
    done = await shop.ok("orders_cancel", {"order_id": stocked.paid, "approval_id": approval_id})

    assert (string(done.data, "outcome"), string(done.data, "order_status")) == ("done", "cancelled")
    assert [integer(r, "amount_minor") for r in objects(done.data, "refunds")] == [1250]
    assert stock_of(await shop.every_product())["MUG-1"] == stock_of(before.products)["MUG-1"] + 1
    order = (await shop.ok("orders_get", {"order_id": stocked.paid})).data
    assert (string(order, "status"), integer(order, "refunded_minor")) == ("cancelled", 1250)
    cancelled = (await shop.every_audit_entry(entity_id=stocked.paid))[0]
    assert f"(approved by person:owner in {approval_id})" in string(cancelled, "actor")

    unchanged = await shop.state()
    message = await shop.fail("orders_cancel", {"order_id": stocked.paid, "approval_id": approval_id})
    assert "is cancelled" in message
    assert await shop.state() == unchanged


async def test_a_person_confirms_a_cancellation(anyio_backend: str, shop_db: ShopDatabase, mode: Mode) -> None:
    del anyio_backend
    person = Person()
    async with open_shop(shop_db, mode, elicitation=person) as shop:
        ada, _ = await stock_up(shop)
        order = string(await shop.place(ada, ("MUG-1", 2)), "id")
        await shop.ok("payments_record", {"order_id": order, "amount": 2500, "method": "cash"})

        done = await shop.ok("orders_cancel", {"order_id": order, "reason": "duplicate"})

    assert (string(done.data, "outcome"), string(done.data, "order_status")) == ("done", "cancelled")
    assert len(person.questions) == 1
    question = person.questions[0]
    for part in (order, "Ada Lovelace", "ada@engines.example", "25.00 EUR", "2 unit(s) go back into stock"):
        assert part in question, f"{part!r} missing from the question: {question}"


@pytest.mark.parametrize(
    ("action", "confirm", "how"),
    [("decline", True, "declined"), ("cancel", True, "cancelled"), ("accept", False, "declined")],
    ids=["declined", "cancelled", "accepted-unticked"],
)
async def test_a_person_who_says_no_stops_the_cancellation(
    anyio_backend: str,
    shop_db: ShopDatabase,
    mode: Mode,
    action: Literal["accept", "decline", "cancel"],
    confirm: bool,
    how: str,
) -> None:
    del anyio_backend
    person = Person(action=action, confirm=confirm)
    async with open_shop(shop_db, mode, elicitation=person) as shop:
        ada, _ = await stock_up(shop)
        order = string(await shop.place(ada, ("MUG-1", 2)), "id")
        await shop.ok("payments_record", {"order_id": order, "amount": 2500, "method": "cash"})
        before = await shop.state()

        message = await shop.fail("orders_cancel", {"order_id": order})

        assert await shop.state() == before
    assert f"The person {how} the confirmation: cancelling order {order} did not happen" in message
    assert "Nothing was changed" in message
    assert len(person.questions) == 1


# --- refusals ------------------------------------------------------------------------------------

REFUSALS = {
    "unknown-sku": Refusal(
        "orders_place",
        {"customer_id": "<ada>", "lines": [{"sku": "NOPE-9", "quantity": 1}]},
        (
            "1 line cannot be ordered",
            "line 1 (NOPE-9): no product with SKU 'NOPE-9'",
            "catalog_search",
            "Nothing was changed",
        ),
    ),
    "unknown-product-id": Refusal(
        "orders_place",
        {"customer_id": "<ada>", "lines": [{"product_id": "prd_01HZZZZZZZZZZZZZZZZZZZZZZZ", "quantity": 1}]},
        ("no product with id prd_01HZZZZZZZZZZZZZZZZZZZZZZZ",),
    ),
    "quantity-0": Refusal(
        "orders_place",
        {"customer_id": "<ada>", "lines": [{"sku": "MUG-1", "quantity": 0}]},
        ("`lines` item 1, `quantity`", "greater than or equal to 1", "Nothing was changed"),
    ),
    "quantity-negative": Refusal(
        "orders_place",
        {"customer_id": "<ada>", "lines": [{"sku": "TEA-1", "quantity": 1}, {"sku": "MUG-1", "quantity": -3}]},
        ("`lines` item 2, `quantity`", "greater than or equal to 1"),
    ),
    "quantity-too-large": Refusal(
        "orders_place",
        {"customer_id": "<ada>", "lines": [{"sku": "MUG-1", "quantity": 10_001}]},
        ("`quantity`", "less than or equal to 10000"),
    ),
    "quantity-true": Refusal(
        "orders_place", {"customer_id": "<ada>", "lines": [{"sku": "MUG-1", "quantity": True}]}, ("`quantity`",)
    ),
    "no-lines": Refusal("orders_place", {"customer_id": "<ada>", "lines": []}, ("`lines`",)),
    "mixed-currencies": Refusal(
        "orders_place",
        {"customer_id": "<ada>", "lines": [{"sku": "MUG-1", "quantity": 1}, {"sku": "LAMP-1", "quantity": 1}]},
        ("line 2 (LAMP-1): is priced in USD, but the order is in EUR (one currency per order)",),
    ),
    "inactive-product": Refusal(
        "orders_place",
        {"customer_id": "<ada>", "lines": [{"sku": "OLD-1", "quantity": 1}]},
        ("line 1 (OLD-1): the product is inactive",),
    ),
    "not-enough-stock": Refusal(
        "orders_place",
        {"customer_id": "<ada>", "lines": [{"sku": "MUG-1", "quantity": 8}]},
        ("line 1 (MUG-1): insufficient stock: 7 in stock, 8 requested", "catalog_adjust_stock"),
    ),
    "same-product-twice": Refusal(
        "orders_place",
        {"customer_id": "<ada>", "lines": [{"sku": "TEA-1", "quantity": 1}, {"sku": "tea-1", "quantity": 1}]},
        ("line 2 (TEA-1): repeats line 1",),
    ),
    "sku-and-product-id": Refusal(
        "orders_place",
        {
            "customer_id": "<ada>",
            "lines": [{"sku": "TEA-1", "product_id": "prd_01HZZZZZZZZZZZZZZZZZZZZZZZ", "quantity": 1}],
        },
        ("exactly one of sku or product_id",),
    ),
    "unknown-customer": Refusal(
        "orders_place",
        {"customer_id": UNKNOWN_CUSTOMER, "lines": [{"sku": "TEA-1", "quantity": 1}]},
        (f"No customer with id {UNKNOWN_CUSTOMER}", "customers_list"),
    ),
    "malformed-customer-id": Refusal(
        "orders_place",
        {"customer_id": "ada", "lines": [{"sku": "TEA-1", "quantity": 1}]},
        ("'ada' is not a customer id", "customers_list"),
    ),
    "bad-country": Refusal(
        "orders_place",
        {
            "customer_id": "<ada>",
            "lines": [{"sku": "TEA-1", "quantity": 1}],
            "shipping_address": {**ADDRESS, "country": "GBR"},
        },
        ("`shipping_address.country`", "at most 2 characters"),
    ),
    "get-unknown-order": Refusal(
        "orders_get", {"order_id": UNKNOWN_ORDER}, (f"No order with id {UNKNOWN_ORDER}.", "orders_list")
    ),
    "get-malformed-order-id": Refusal(
        "orders_get", {"order_id": "order-7"}, ("'order-7' is not an order id", "ord_", "orders_list")
    ),
    "get-customer-id-as-order-id": Refusal("orders_get", {"order_id": "<ada>"}, ("is not an order id",)),
    "ship-a-placed-order": Refusal(
        "orders_mark_shipped",
        {"order_id": "<placed>", "carrier": "DHL", "tracking_number": "1"},
        ("is placed, so it cannot ship", "payments_record, orders_cancel", "Nothing was changed"),
    ),
    "ship-without-carrier": Refusal(
        "orders_mark_shipped", {"order_id": "<paid>", "carrier": "  ", "tracking_number": "1"}, ("`carrier`",)
    ),
    "ship-unknown-order": Refusal(
        "orders_mark_shipped",
        {"order_id": UNKNOWN_ORDER, "carrier": "DHL", "tracking_number": "1"},
        (f"No order with id {UNKNOWN_ORDER}",),
    ),
    "deliver-a-paid-order": Refusal(
        "orders_mark_delivered",
        {"order_id": "<paid>"},
        ("is paid, so it cannot deliver", "orders_mark_shipped, orders_cancel, payments_refund"),
    ),
    "deliver-malformed-id": Refusal(
        "orders_mark_delivered", {"order_id": "ord_123"}, ("'ord_123' is not an order id",)
    ),
    "cancel-a-shipped-order": Refusal(
        "orders_cancel", {"order_id": "<shipped>"}, ("is shipped, so it cannot cancel", "payments_refund")
    ),
    "cancel-unknown-order": Refusal(
        "orders_cancel", {"order_id": UNKNOWN_ORDER}, (f"No order with id {UNKNOWN_ORDER}",)
    ),
    "cancel-with-a-made-up-approval": Refusal(
        "orders_cancel",
        {"order_id": "<paid>", "approval_id": "apr_01M8KHDXAA8RJT1D9HXBKNWNHW"},
        ("no approval request", "only they can approve", "without approval_id"),
    ),
    "list-unknown-status": Refusal("orders_list", {"status": "lost"}, ("`status`",)),
    "list-from-after-to": Refusal(
        "orders_list",
        {"placed_from": "2026-02-02", "placed_to": "2026-02-01"},
        ("is after the last day (placed_to)", "Nothing was changed"),
    ),
    "list-not-a-date": Refusal("orders_list", {"placed_from": "yesterday"}, ("`placed_from`",)),
    "list-malformed-customer": Refusal("orders_list", {"customer_id": "ada"}, ("'ada' is not a customer id",)),
    "list-garbage-cursor": Refusal(
        "orders_list", {"cursor": "not-a-cursor!"}, ("cursor", "orders_list again without cursor")
    ),
    "list-cursor-with-other-filters": Refusal(
        "orders_list", {"cursor": "<orders_cursor>", "status": "paid", "limit": 1}, ("different filters",)
    ),
}


async def test_refusals_are_actionable_and_write_nothing(stocked: Stocked) -> None:
    """Every row of the table, on one shop (one shop per row would cost seconds); all failures are reported."""
    failures: list[str] = []
    for name, refusal in REFUSALS.items():
        try:
            await assert_refused_without_change(stocked.shop, refusal, stocked.resolve)
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    assert not failures, "\n\n".join(failures)


async def test_a_message_that_starts_with_an_argument_name_keeps_its_spelling(stocked: Stocked) -> None:
    message = await stocked.shop.fail("orders_list", {"placed_from": "2026-02-02", "placed_to": "2026-02-01"})

    assert message.startswith("The first day (placed_from) is after the last day (placed_to)"), message


# --- size ----------------------------------------------------------------------------------------


async def test_responses_stay_small_with_100_orders_and_long_names(shop: Shop) -> None:
    """25,000 tokens is roughly 100,000 characters: no page or report comes near it."""
    long_name = "Very Long Name " * 13  # 195 characters
    customer = string(await shop.register(long_name, "long@names.example"), "id")
    for n in range(100):
        await shop.add_product(f"SKU-{n:03d}", f"{long_name}{n:03d}"[:200], 100 + n, "EUR", stock=5)
    big = await shop.ok(
        "orders_place",
        {
            "customer_id": customer,
            "lines": [{"sku": f"SKU-{n:03d}", "quantity": 1} for n in range(100)],
            "shipping_address": ADDRESS,
        },
    )
    for n in range(99):
        await shop.place(customer, (f"SKU-{n:03d}", 2))

    listed = await shop.ok("orders_list", {"limit": 100})
    got = await shop.ok("orders_get", {"order_id": string(as_object(big.data["order"]), "id")})
    day = placed_day(as_object(big.data["order"])).isoformat()
    report = await shop.ok(
        "reports_sales_summary", {"date_from": day, "date_to": day, "group_by": "product", "top": 100}
    )

    assert len(objects(listed.data, "orders")) == 100
    assert len(objects(report.data, "products")) == 100
    for reply in (big, listed, got, report):
        assert len(reply.text) < 100_000, f"{len(reply.text)} characters of Markdown"
