"""Payment tools through a real client: record, list, refund — with idempotency keys and a person's approval."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

import pytest

from mcp_server.services.results import Rejected, Success
from tests.e2e.support import (
    JsonObject,
    Mode,
    Person,
    Refusal,
    Shop,
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
)
from tests.engines import ShopDatabase

pytestmark = [pytest.mark.anyio, pytest.mark.approver]

UNKNOWN_ORDER = "ord_01HZZZZZZZZZZZZZZZZZZZZZZZ"
UNKNOWN_PAYMENT = "pay_01HZZZZZZZZZZZZZZZZZZZZZZZ"


@dataclass(frozen=True, slots=True)
class Ledger:
    """Ada's orders: one placed (25.00 EUR, unpaid), one paid (25.00 EUR in one cash payment)."""

    shop: Shop
    ada: str
    placed: str
    paid: str
    payment: str  # the paid order's payment

    def resolve(self, value: object) -> object:
        placeholders = {"<placed>": self.placed, "<paid>": self.paid, "<payment>": self.payment}
        return placeholders.get(value, value) if isinstance(value, str) else value


async def open_ledger(shop: Shop) -> Ledger:
    ada = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")
    await shop.add_product("MUG-1", "Blue Mug", 1250, "EUR", stock=10)
    placed = string(await shop.place(ada, ("MUG-1", 2)), "id")
    paid = string(await shop.place(ada, ("MUG-1", 2)), "id")
    payment = (await shop.ok("payments_record", {"order_id": paid, "amount": 2500, "method": "cash"})).data
    return Ledger(shop, ada, placed, paid, string(payment, "id"))


@pytest.fixture
async def ledger(shop: Shop) -> Ledger:
    return await open_ledger(shop)


@asynccontextmanager
async def asking(shop_db: ShopDatabase, mode: Mode, person: Person) -> AsyncGenerator[Ledger]:
    """A ledger on a client whose person answers elicitation questions."""
    async with open_shop(shop_db, mode, elicitation=person) as shop:
        yield await open_ledger(shop)


def stock_of(products: list[JsonObject], sku: str) -> int:
    return next(integer(p, "stock") for p in products if string(p, "sku") == sku)


# --- recording -----------------------------------------------------------------------------------


async def test_partial_payments_then_paid_and_the_ledger_pages(ledger: Ledger) -> None:
    shop = ledger.shop
    amounts = [100, 200, 300, 400, 1500]
    recorded: list[JsonObject] = []
    last_text = ""
    for n, amount in enumerate(amounts):
        reply = await shop.ok(
            "payments_record",
            {"order_id": ledger.placed, "amount": amount, "method": "other", "reference": f"receipt {n}"},
        )
        recorded.append(reply.data)
        last_text = reply.text
        order = as_object(reply.data["order"])
        assert integer(order, "paid_minor") == sum(amounts[: n + 1])
        assert string(order, "status") == ("paid" if n == len(amounts) - 1 else "placed")
    assert "The order is paid." in last_text
    assert (string(recorded[0], "amount"), recorded[0]["reference"]) == ("1.00 EUR", "receipt 0")

    ids: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        arguments: JsonObject = {"order_id": ledger.placed, "limit": 2}
        if cursor is not None:
            arguments["cursor"] = cursor
        page = await shop.ok("payments_list", arguments)
        pages += 1
        ids += [string(p, "id") for p in objects(page.data, "payments")]
        cursor = optional_string(page.data, "next_cursor")
        if cursor is None:
            break
        assert f"cursor=`{cursor}`" in page.text
    assert (ids, pages) == ([string(r, "id") for r in recorded], 3), "oldest first, two a page"

    everything = objects((await shop.ok("payments_list", {"limit": 100})).data, "payments")
    assert [string(p, "id") for p in everything] == [ledger.payment, *ids]
    day = string(everything[0], "created_at")[:10]
    same_day = await shop.ok("payments_list", {"date_from": day, "date_to": day, "limit": 100})
    assert len(objects(same_day.data, "payments")) >= 1
    assert (await shop.ok("payments_list", {"date_to": "2000-01-01"})).text == "No payments or refunds (to 2000-01-01)."


async def test_recording_with_a_key_twice_records_one_payment(ledger: Ledger) -> None:
    shop = ledger.shop
    arguments: JsonObject = {"order_id": ledger.placed, "amount": 1000, "method": "cash", "idempotency_key": "till-42"}
    first = await shop.ok("payments_record", arguments)
    after_first = await shop.state()

    again = await shop.ok("payments_record", {**arguments, "order_id": ledger.placed.lower()})

    assert await shop.state() == after_first
    assert string(again.data, "id") == string(first.data, "id")
    assert (boolean(first.data, "replayed"), boolean(again.data, "replayed")) == (False, True)
    assert "already recorded with this idempotency_key; nothing was changed now" in again.text
    assert integer(as_object(again.data["order"]), "paid_minor") == 1000

    message = await shop.fail("payments_record", {**arguments, "amount": 1001})

    assert "idempotency_key 'till-42' was already used" in message
    assert "Nothing was changed" in message
    assert await shop.state() == after_first


# --- refunds: a person approves ----------------------------------------------------------------


async def test_refund_approved_by_a_person_then_partial_then_full(ledger: Ledger) -> None:
    shop = ledger.shop
    await shop.ok("orders_mark_shipped", {"order_id": ledger.paid, "carrier": "DHL", "tracking_number": "JD1"})
    arguments: JsonObject = {"order_id": ledger.paid, "amount": 500, "reason": "scratched", "restock": True}
    before = await shop.state()

    preview = await shop.ok("payments_refund", arguments)

    after = await shop.state()
    assert (after.customers, after.products) == (before.customers, before.products), "asking moves no stock"
    assert {t for t, rows in after.rows.items() if rows != before.rows[t]} == {"approval_requests", "audit_log"}
    assert (string(preview.data, "outcome"), preview.data["refunds"]) == ("approval_required", [])
    assert (integer(preview.data, "amount_minor"), integer(preview.data, "restocked_units")) == (500, 2)
    assert preview.text.startswith("## Approval needed — nothing was refunded yet")
    assert "Ada Lovelace" in preview.text
    assert "2 unit(s) go back into stock" in preview.text
    approval_id = string(preview.data, "approval_id")
    await decide(shop.db, approval_id)

    done = await shop.ok("payments_refund", {**arguments, "approval_id": approval_id})

    assert (string(done.data, "outcome"), string(done.data, "order_status")) == ("done", "shipped")
    refund = objects(done.data, "refunds")[0]
    assert (string(refund, "payment_id"), integer(refund, "amount_minor"), boolean(refund, "restock")) == (
        ledger.payment,
        500,
        True,
    )
    assert f"|`{string(refund, 'id')}`|" in piped(done.text), "a refund's id starts ref_"
    assert "|amount (EUR)|" in piped(done.text)
    assert "|-5.00|" in piped(done.text), "and its amount is negative"
    assert "2 unit(s) went back into stock" in done.text
    assert stock_of(await shop.every_product(), "MUG-1") == stock_of(before.products, "MUG-1") + 2

    rest: JsonObject = {"payment_id": ledger.payment, "amount": 2000, "reason": "returned"}
    final = await shop.approved("payments_refund", rest)

    assert string(final.data, "order_status") == "refunded"
    order = (await shop.ok("orders_get", {"order_id": ledger.paid})).data
    assert (string(order, "status"), integer(order, "refunded_minor"), order["next_actions"]) == ("refunded", 2500, [])


async def test_an_approval_works_once_for_exactly_its_request(ledger: Ledger) -> None:
    shop = ledger.shop
    arguments: JsonObject = {"order_id": ledger.paid, "amount": 500, "reason": "scratched"}
    approval_id = string((await shop.ok("payments_refund", arguments)).data, "approval_id")
    waiting = Refusal("payments_refund", {**arguments, "approval_id": approval_id}, ("still waiting for a person",))
    await assert_refused_without_change(shop, waiting)
    await decide(shop.db, approval_id)
    before = await shop.state()

    other = ("made for a different call",)
    refusals = {
        "made-up": Refusal(
            "payments_refund", {**arguments, "approval_id": "apr_01M8KHDXAA8RJT1D9HXBKNWNHW"}, ("no approval request",)
        ),
        "not-an-id": Refusal(
            "payments_refund", {**arguments, "approval_id": "yes, approved"}, ("no approval request",)
        ),
        "another-amount": Refusal("payments_refund", {**arguments, "amount": 600, "approval_id": approval_id}, other),
        "another-reason": Refusal(
            "payments_refund", {**arguments, "reason": "other", "approval_id": approval_id}, other
        ),
        "restock-added": Refusal(
            # restock on an order that has not shipped is refused before the approval is even looked at
            "payments_refund",
            {**arguments, "restock": True, "approval_id": approval_id},
            ("has not shipped",),
        ),
        "for-a-cancel": Refusal("orders_cancel", {"order_id": ledger.paid, "approval_id": approval_id}, other),
    }
    for refusal in refusals.values():
        await assert_refused_without_change(shop, refusal)
    assert await shop.state() == before

    done = await shop.ok("payments_refund", {**arguments, "approval_id": approval_id})
    assert string(done.data, "outcome") == "done", "refused attempts do not use the approval up"
    after = await shop.state()

    await assert_refused_without_change(
        shop,
        Refusal("payments_refund", {**arguments, "approval_id": approval_id}, ("already used", "works once")),
    )
    assert await shop.state() == after


async def test_a_denied_or_wrongly_signed_approval_moves_no_money(ledger: Ledger) -> None:
    shop = ledger.shop
    arguments: JsonObject = {"order_id": ledger.paid, "amount": 500, "reason": "scratched"}
    approval_id = string((await shop.ok("payments_refund", arguments)).data, "approval_id")

    wrong = await decide(shop.db, approval_id, passphrase="not the passphrase", expect=False)  # noqa: S106
    assert isinstance(wrong, Rejected)
    assert "do not match" in wrong.message
    stranger = await decide(shop.db, approval_id, name="mallory", expect=False)
    assert isinstance(stranger, Rejected)
    await assert_refused_without_change(
        shop, Refusal("payments_refund", {**arguments, "approval_id": approval_id}, ("still waiting for a person",))
    )
    denied = await decide(shop.db, approval_id, approve=False)
    assert isinstance(denied, Success)
    await assert_refused_without_change(
        shop, Refusal("payments_refund", {**arguments, "approval_id": approval_id}, ("was denied by person:owner",))
    )
    late = await decide(shop.db, approval_id, expect=False)
    assert isinstance(late, Rejected)
    assert "is denied" in late.message
    actions = [string(e, "action") for e in await shop.every_audit_entry(entity_id=approval_id)]
    assert actions == ["approval.denied", "approval.requested"]


async def test_refunding_with_a_key_twice_refunds_once(ledger: Ledger) -> None:
    shop = ledger.shop
    arguments: JsonObject = {"order_id": ledger.paid, "amount": 700, "reason": "late", "idempotency_key": "rf-1"}
    done = await shop.approved("payments_refund", arguments)
    after_first = await shop.state()

    again = await shop.ok("payments_refund", arguments)

    assert await shop.state() == after_first
    assert string(again.data, "outcome") == "replayed"
    assert [string(r, "id") for r in objects(again.data, "refunds")] == [
        string(r, "id") for r in objects(done.data, "refunds")
    ]
    assert "already made with this idempotency_key; nothing was changed now" in again.text

    message = await shop.fail("payments_refund", {**arguments, "amount": 800})

    assert "idempotency_key 'rf-1' was already used" in message
    assert await shop.state() == after_first


# --- refunds: a person is asked ------------------------------------------------------------------


async def test_a_person_confirms_a_refund(anyio_backend: str, shop_db: ShopDatabase, mode: Mode) -> None:
    del anyio_backend
    person = Person()
    async with asking(shop_db, mode, person) as ledger:
        shipped = {"order_id": ledger.paid, "carrier": "DHL", "tracking_number": "JD1"}
        await ledger.shop.ok("orders_mark_shipped", shipped)
        before = await ledger.shop.state()
        done = await ledger.shop.ok(
            "payments_refund", {"order_id": ledger.paid, "amount": 750, "reason": "late", "restock": True}
        )
        products = await ledger.shop.every_product()

    assert (string(done.data, "outcome"), integer(done.data, "amount_minor")) == ("done", 750)
    assert stock_of(products, "MUG-1") == stock_of(before.products, "MUG-1") + 2
    assert len(person.questions) == 1
    question = person.questions[0]
    for part in (ledger.paid, "Ada Lovelace", "7.50 EUR", "reason: late", "2 unit(s) go back into stock"):
        assert part in question, f"{part!r} missing from the question: {question}"


@pytest.mark.parametrize(
    ("action", "confirm", "how"),
    [("decline", True, "declined"), ("cancel", True, "cancelled"), ("accept", False, "declined")],
    ids=["declined", "cancelled", "accepted-unticked"],
)
async def test_a_person_who_says_no_stops_the_refund(
    anyio_backend: str,
    shop_db: ShopDatabase,
    mode: Mode,
    action: Literal["accept", "decline", "cancel"],
    confirm: bool,
    how: str,
) -> None:
    del anyio_backend
    person = Person(action=action, confirm=confirm)
    async with asking(shop_db, mode, person) as ledger:
        before = await ledger.shop.state()
        message = await ledger.shop.fail("payments_refund", {"order_id": ledger.paid, "amount": 750, "reason": "late"})
        assert await ledger.shop.state() == before

    assert f"The person {how} the confirmation: the refund did not happen" in message
    assert "Nothing was changed" in message
    assert len(person.questions) == 1


async def test_a_retried_refund_does_not_ask_again(anyio_backend: str, shop_db: ShopDatabase, mode: Mode) -> None:
    del anyio_backend
    person = Person()
    async with asking(shop_db, mode, person) as ledger:
        arguments: JsonObject = {"order_id": ledger.paid, "amount": 750, "reason": "late", "idempotency_key": "r-9"}
        await ledger.shop.ok("payments_refund", arguments)
        person.action = "decline"

        again = await ledger.shop.call("payments_refund", arguments)

    assert not again.is_error, "the refund was made; the retry should say so"
    assert len(person.questions) == 1


# --- refusals ------------------------------------------------------------------------------------

REFUSALS = {
    "amount-beyond-64-bit": Refusal(
        "payments_record",
        {"order_id": "<placed>", "amount": 2**63, "method": "cash"},
        ("`amount`", "less than or equal to 9223372036854775807", "Nothing was changed"),
    ),
    "amount-0": Refusal("payments_record", {"order_id": "<placed>", "amount": 0, "method": "cash"}, ("`amount`",)),
    "amount-negative": Refusal(
        "payments_record", {"order_id": "<placed>", "amount": -100, "method": "cash"}, ("`amount`",)
    ),
    "amount-as-decimal-text": Refusal(
        "payments_record", {"order_id": "<placed>", "amount": "12.50", "method": "cash"}, ("`amount`",)
    ),
    "card-without-its-payment-method": Refusal(
        "payments_record", {"order_id": "<placed>", "amount": 100, "method": "card"}, ("`payment_method`", "pm_")
    ),
    "card-without-a-gateway": Refusal(
        "payments_record",
        {"order_id": "<placed>", "method": "card", "payment_method": "pm_card_visa"},
        ("Card payments are not available", "SHOPKEEPER_STRIPE_SECRET_KEY", "cash, bank_transfer or other"),
    ),
    "payment-method-for-cash": Refusal(
        "payments_record",
        {"order_id": "<placed>", "method": "cash", "payment_method": "pm_card_visa"},
        ("`payment_method`", "only for method=card"),
    ),
    "more-than-outstanding": Refusal(
        "payments_record",
        {"order_id": "<placed>", "amount": 2501, "method": "cash"},
        ("25.01 EUR is more than the 25.00 EUR still to pay on order", "<placed>", "orders_get", "Nothing was changed"),
    ),
    "pay-a-paid-order": Refusal(
        "payments_record",
        {"order_id": "<paid>", "amount": 1, "method": "cash"},
        ("is paid, so it cannot take a payment", "orders_mark_shipped"),
    ),
    "pay-unknown-order": Refusal(
        "payments_record",
        {"order_id": UNKNOWN_ORDER, "amount": 1, "method": "cash"},
        (f"No order with id {UNKNOWN_ORDER}", "orders_list"),
    ),
    "pay-malformed-order-id": Refusal(
        "payments_record", {"order_id": "#1001", "amount": 1, "method": "cash"}, ("'#1001' is not an order id",)
    ),
    "restock-before-shipping": Refusal(
        "payments_refund",
        {"order_id": "<paid>", "amount": 100, "reason": "changed mind", "restock": True},
        ("has not shipped", "cancel the order", "restock=false", "Nothing was changed"),
    ),
    "refund-a-placed-order": Refusal(
        "payments_refund",
        {"order_id": "<placed>", "amount": 100, "reason": "x"},
        ("is placed, so it cannot be refunded", "payments_record, orders_cancel"),
    ),
    "over-refund": Refusal(
        "payments_refund",
        {"order_id": "<paid>", "amount": 2501, "reason": "x"},
        ("25.01 EUR is more than can be refunded on order", "<paid>", "at most 25.00 EUR", "Nothing was changed"),
    ),
    "over-refund-of-a-payment": Refusal(
        "payments_refund",
        {"payment_id": "<payment>", "amount": 2501, "reason": "x"},
        ("more than can be refunded on payment", "<payment>"),
    ),
    "refund-both-order-and-payment": Refusal(
        "payments_refund",
        {"order_id": "<paid>", "payment_id": "<payment>", "amount": 1, "reason": "x"},
        ("exactly one of order_id or payment_id",),
    ),
    "refund-neither-order-nor-payment": Refusal(
        "payments_refund", {"amount": 1, "reason": "x"}, ("exactly one of order_id or payment_id",)
    ),
    "refund-unknown-payment": Refusal(
        "payments_refund",
        {"payment_id": UNKNOWN_PAYMENT, "amount": 1, "reason": "x"},
        (f"No payment with id {UNKNOWN_PAYMENT}",),
    ),
    "refund-unknown-order": Refusal(
        "payments_refund",
        {"order_id": UNKNOWN_ORDER, "amount": 1, "reason": "x"},
        (f"No order with id {UNKNOWN_ORDER}",),
    ),
    "refund-without-reason": Refusal(
        "payments_refund", {"order_id": "<paid>", "amount": 1, "reason": " "}, ("`reason`",)
    ),
    "refund-amount-beyond-64-bit": Refusal(
        "payments_refund", {"order_id": "<paid>", "amount": 2**63, "reason": "x"}, ("`amount`",)
    ),
    "list-from-after-to": Refusal(
        "payments_list", {"date_from": "2026-03-02", "date_to": "2026-03-01"}, ("is after the last day (date_to)",)
    ),
    "list-malformed-order-id": Refusal("payments_list", {"order_id": "nope"}, ("'nope' is not an order id",)),
    "report-from-after-to": Refusal(
        "reports_sales_summary",
        {"date_from": "2026-03-02", "date_to": "2026-03-01"},
        ("is after the last day (date_to)",),
    ),
    "report-over-a-year": Refusal(
        "reports_sales_summary", {"date_from": "2024-01-01", "date_to": "2025-12-31"}, ("longer than 366 days",)
    ),
    "report-unknown-grouping": Refusal(
        "reports_sales_summary",
        {"date_from": "2026-01-01", "date_to": "2026-01-02", "group_by": "week"},
        ("`group_by`",),
    ),
}


async def test_refusals_are_actionable_and_write_nothing(ledger: Ledger) -> None:
    """Every row of the table, on one shop; all failures are reported together."""
    failures: list[str] = []
    for name, refusal in REFUSALS.items():
        try:
            await assert_refused_without_change(ledger.shop, refusal, ledger.resolve)
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    assert not failures, "\n\n".join(failures)
