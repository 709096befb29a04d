"""Answers stay small: for 20 rows the Markdown an assistant reads is at most a third of the
structuredContent a program reads (as ``json.dumps`` prints it), and ids are code spans, never
Markdown-escaped (``ref\\_01…`` cannot be copied back into a call)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.support import JsonObject, Reply, Shop, as_object, objects, string

pytestmark = [pytest.mark.anyio, pytest.mark.approver]

ROWS = 20
MAX_RATIO = 1 / 3
SMALL = {"orders_list (one customer)"}  # two rows: headings weigh more than rows, so no ratio
FIRST_NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Radia", "Ken"]
LAST_NAMES = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Perlman", "Thompson"]
PRODUCTS = [
    "Blue ceramic mug",
    "Loose-leaf green tea",
    "Cast-iron teapot",
    "Linen tea towel",
    "Bamboo whisk",
    "Stoneware bowl",
]
ID = re.compile(r"\b[a-z]{3}_[0-9A-Z]{26}\b")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)")


@dataclass(frozen=True, slots=True)
class Seeded:
    customers: list[str]
    skus: list[str]
    orders: list[str]
    big_order: str  # 20 lines
    first_day: str
    last_day: str
    writes: dict[str, Reply]  # an answer of each kind of change made on the way


async def seed(shop: Shop) -> Seeded:
    """20 customers, 20 products, 20 paid orders on 20 days (one refunded in part), one 20-line order."""
    customers: list[str] = []
    for i in range(ROWS):
        first, last = FIRST_NAMES[i % 10], LAST_NAMES[(i * 3) % 10]
        extra: JsonObject = {"phone": f"+44 20 7946 {i:04d}"} if i % 2 else {}
        if i % 4 == 0:
            extra["notes"] = "Prefers delivery after 5pm; ring twice."
        data = await shop.register(f"{first} {last}", f"{first.lower()}.{last.lower()}{i}@example.com", **extra)
        customers.append(string(data, "id"))
    skus: list[str] = []
    for i in range(ROWS):
        sku = f"SKU-{i:03d}"
        await shop.add_product(
            sku,
            f"{PRODUCTS[i % len(PRODUCTS)]} no. {i}",
            price_minor=450 + 125 * i,
            stock=500,
            description="Made in small batches; dishwasher safe.",
        )
        skus.append(sku)
    orders: list[str] = []
    writes: dict[str, Reply] = {}
    for i in range(ROWS):
        lines = [{"sku": skus[i], "quantity": 1 + i % 3}, {"sku": skus[(i + 7) % ROWS], "quantity": 1}]
        writes["orders_place"] = await shop.ok("orders_place", {"customer_id": customers[i], "lines": lines})
        order_id = string(as_object(writes["orders_place"].data["order"]), "id")
        paid = {"order_id": order_id, "method": "bank_transfer", "reference": f"INV-{i:04d}"}
        writes["payments_record"] = await shop.ok("payments_record", paid)
        orders.append(order_id)
    writes["payments_refund"] = await shop.approved(
        "payments_refund", {"order_id": orders[0], "amount": 300, "reason": "chipped on arrival", "restock": False}
    )
    # Spread the orders (and their payments) over 20 days, the newest yesterday.
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    for i, order_id in enumerate(orders):
        at = shop.db.moment(today - timedelta(days=ROWS - i))
        shop.db.execute("UPDATE orders SET placed_at = :at WHERE id = :id", at=at, id=order_id)
        shop.db.execute("UPDATE payments SET created_at = :at WHERE order_id = :id", at=at, id=order_id)
    big = await shop.place(customers[1], *((sku, 2) for sku in skus))
    return Seeded(
        customers=customers,
        skus=skus,
        orders=orders,
        big_order=string(big, "id"),
        first_day=(today - timedelta(days=ROWS)).date().isoformat(),
        last_day=(today - timedelta(days=1)).date().isoformat(),
        writes=writes,
    )


def ratio(reply: Reply) -> float:
    return len(reply.text) / len(json.dumps(reply.data))


def ids_in(value: object) -> set[str]:
    """Every id in a JSON value."""
    return set(ID.findall(json.dumps(value)))


async def answers(shop: Shop, seeded: Seeded) -> dict[str, Reply]:
    """Each tool that answers with about 20 rows, called as an assistant would call it."""
    calls: dict[str, tuple[str, JsonObject]] = {
        "customers_list": ("customers_list", {}),
        "catalog_search": ("catalog_search", {}),
        "orders_list": ("orders_list", {"placed_to": seeded.last_day}),
        "orders_list (one customer)": ("orders_list", {"customer_id": seeded.customers[1]}),
        "payments_list": ("payments_list", {}),
        "notifications_list": ("notifications_list", {}),
        "audit_log_list": ("audit_log_list", {}),
        "orders_get (20 lines)": ("orders_get", {"order_id": seeded.big_order}),
        "reports_sales_summary (20 days)": (
            "reports_sales_summary",
            {"date_from": seeded.first_day, "date_to": seeded.last_day},
        ),
        "reports_sales_summary (20 products)": (
            "reports_sales_summary",
            {"date_from": seeded.first_day, "date_to": seeded.last_day, "group_by": "product", "top": ROWS},
        ),
        "orders_place dry_run (20 lines)": (
            "orders_place",
            {
                "customer_id": seeded.customers[2],
                "lines": [{"sku": sku, "quantity": 1} for sku in seeded.skus],
                "dry_run": True,
            },
        ),
    }
    return {label: await shop.ok(tool, arguments) for label, (tool, arguments) in calls.items()}


async def test_markdown_is_at_most_a_third_of_the_structured_copy(shop: Shop) -> None:
    seeded = await seed(shop)

    replies = await answers(shop, seeded)

    shown = "\n".join(
        f"{label:40} {len(reply.text):6} / {len(json.dumps(reply.data)):6} = {ratio(reply):.3f}"
        for label, reply in replies.items()
    )
    print(f"\nMarkdown / structuredContent:\n{shown}")  # noqa: T201 - kept in the test's output
    assert len(objects(replies["orders_list"].data, "orders")) == ROWS
    assert len(objects(replies["orders_get (20 lines)"].data, "lines")) == ROWS
    assert len(objects(replies["reports_sales_summary (20 days)"].data, "days")) == ROWS
    too_long = {
        label: round(ratio(reply), 3)
        for label, reply in replies.items()
        if label not in SMALL and ratio(reply) > MAX_RATIO
    }
    assert not too_long, f"Markdown longer than a third of structuredContent: {too_long}"


async def test_ids_are_code_spans_never_escaped(shop: Shop) -> None:
    seeded = await seed(shop)

    replies = await answers(shop, seeded)

    unknown = "prd_01HZZZZZZZZZZZZZZZZZZZZZZZ"
    lines = [{"product_id": unknown, "quantity": 1}, {"sku": "NO_SUCH_SKU", "quantity": 1}]
    replies["orders_place dry_run (bad lines)"] = refused = await shop.ok(
        "orders_place", {"customer_id": seeded.customers[0], "lines": lines, "dry_run": True}
    )
    assert f"no product with id `{unknown}`" in refused.text, refused.text
    assert "no product with SKU `NO_SUCH_SKU`" in refused.text, refused.text
    audit = replies["audit_log_list"]
    refund_ids = {i for i in ids_in(audit.data) if i.startswith("ref_")}
    assert refund_ids, "the refund is in the audit log"
    for label, reply in (replies | seeded.writes).items():
        assert "\\_" not in reply.text, f"{label} escapes an underscore: {reply.text}"
        outside = ID.findall(CODE_SPAN.sub("", reply.text))
        assert not outside, f"{label} shows {outside} outside code spans: {reply.text}"
    for refund_id in refund_ids:
        assert f"`{refund_id}`" in audit.text


async def test_order_lists_name_the_customer(shop: Shop) -> None:
    seeded = await seed(shop)

    replies = await answers(shop, seeded)

    customers = {string(c, "id"): string(c, "name") for c in objects(replies["customers_list"].data, "customers")}
    for label in ("orders_list", "orders_list (one customer)"):
        reply = replies[label]
        for order in objects(reply.data, "orders"):
            name = customers[string(order, "customer_id")]
            assert string(order, "customer_name") == name
            assert f"`{name}`" in reply.text, f"{label} does not show {name!r} as a code span"
    got = as_object(replies["orders_get (20 lines)"].data)
    assert f"`{customers[string(got, 'customer_id')]}`" in replies["orders_get (20 lines)"].text
