"""Text arguments arrive exactly as sent, whatever they look like; argument names a tool lacks are refused.

The SDK JSON-decodes the string value of an optional argument before validating it, so a reason
reading ``["damaged","late"]`` used to arrive as a list (refused as "not a valid string") and a note
reading ``null`` as nothing at all. Which arguments are text comes from each tool's advertised input
schema, so every text argument of every tool is covered here, not a hand-kept list of names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from tests.databases import sqlite_url
from tests.e2e.support import TOOLS, JsonObject, Shop, as_object, decide, string, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.approver]

Schema = dict[str, Any]


def _advertised() -> dict[str, Schema]:
    """Each tool's input schema as tools/list advertises it (no database is opened to list tools)."""
    settings = load_settings({"SHOPKEEPER_DATABASE_URL": sqlite_url(Path("/nonexistent/never-opened.db"))})
    app = bootstrap(settings).mcp_server()
    return {tool.name: tool.input_schema for tool in anyio.run(app.list_tools)}


SCHEMAS = _advertised()


def admits_text(schema: Schema) -> bool:
    """True when the argument's schema lets a string through (``string``, or an ``anyOf`` with one)."""
    kind = schema.get("type")
    if kind == "string" or (isinstance(kind, list) and "string" in kind):
        return True
    return any(admits_text(option) for option in cast(list[Schema], schema.get("anyOf", [])))


TEXT_ARGUMENTS = sorted(
    (tool, name)
    for tool, schema in SCHEMAS.items()
    for name, argument in cast(dict[str, Schema], schema.get("properties", {})).items()
    if admits_text(argument)
)
LOOKALIKES = ['["damaged","late"]', '{"k": 1}', "null"]
"""Texts the SDK would decode into a list, an object and None."""
TYPE_REFUSALS = ("valid string", "valid dictionary", "valid list")


def test_the_schemas_name_text_arguments_of_every_kind() -> None:
    """The parametrised test below really covers the text arguments (free text, ids, enums, dates)."""
    assert set(SCHEMAS) == TOOLS
    names = {f"{tool}.{name}" for tool, name in TEXT_ARGUMENTS}
    assert {"orders_cancel.reason", "payments_record.reference", "customers_update.notes"} <= names
    assert {"orders_list.placed_from", "payments_record.method", "orders_place.idempotency_key"} <= names
    assert "orders_place.lines" not in names
    assert "catalog_create_product.price_minor" not in names


async def test_a_cancel_reason_that_reads_like_json_is_kept_as_text(shop: Shop) -> None:
    ada = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")
    await shop.add_product("MUG-1", "Blue Mug", stock=5)
    order = string(await shop.place(ada, ("MUG-1", 1)), "id")

    await shop.ok("orders_cancel", {"order_id": order, "reason": '["damaged","late"]'})

    entries = await shop.every_audit_entry(entity_id=order, action="order.cancelled")
    assert len(entries) == 1, entries
    assert json.dumps('["damaged","late"]') in json.dumps(entries[0]), entries[0]


async def test_a_payment_reference_that_reads_like_json_is_kept_as_text(shop: Shop) -> None:
    ada = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")
    await shop.add_product("MUG-1", "Blue Mug", stock=5)
    order = await shop.place(ada, ("MUG-1", 1))

    recorded = await shop.ok(
        "payments_record",
        {"order_id": string(order, "id"), "amount": order["total_minor"], "method": "cash", "reference": '["r1"]'},
    )

    assert as_object(recorded.data.get("payment", recorded.data)).get("reference") == '["r1"]', recorded.data


async def test_a_partial_update_still_tells_null_from_the_text_null(shop: Shop) -> None:
    """customers_update: JSON null clears the notes, the text "null" is stored, an absent field stays."""
    ada = string(await shop.register("Ada Lovelace", "ada@engines.example", notes="old", phone="+49 30 1"), "id")

    as_text = await shop.ok("customers_update", {"customer_id": ada, "notes": "null"})
    assert (as_text.data["notes"], as_text.data["phone"]) == ("null", "+49 30 1")
    as_list = await shop.ok("customers_update", {"customer_id": ada, "notes": '["a", "b"]'})
    assert (as_list.data["notes"], as_list.data["phone"]) == ('["a", "b"]', "+49 30 1")
    cleared = await shop.ok("customers_update", {"customer_id": ada, "notes": None})
    assert (cleared.data["notes"], cleared.data["phone"]) == (None, "+49 30 1")


# --- every text argument of every tool --------------------------------------------------------------


class Seeded:
    """A shop with something for every tool to work on; each ``fresh_*`` makes a new one."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        self.count = 0

    async def customer(self) -> str:
        self.count += 1
        return string(await self.shop.register(f"Jay {self.count}", f"jay{self.count}@shop.example"), "id")

    async def product(self) -> tuple[str, str]:
        self.count += 1
        sku = f"MUG-{self.count}"
        return string(await self.shop.add_product(sku, f"Mug {self.count}", stock=50), "id"), sku

    async def order(self, *, paid: bool = False) -> tuple[str, str]:
        """(order id, payment id or "") of a new order of one 12.50 EUR mug."""
        _, sku = await self.product()
        order = await self.shop.place(await self.customer(), (sku, 1))
        order_id = string(order, "id")
        if not paid:
            return order_id, ""
        paid_with = await self.shop.ok(
            "payments_record", {"order_id": order_id, "amount": order["total_minor"], "method": "cash"}
        )
        return order_id, string(as_object(paid_with.data.get("payment", paid_with.data)), "id")


async def _fresh_call(seeded: Seeded, tool: str) -> JsonObject:
    """A call of ``tool`` that succeeds as it stands, on records made for it alone."""
    if tool in ("customers_get", "customers_update"):
        return {"customer_id": await seeded.customer()}
    if tool == "customers_register":
        seeded.count += 1
        return {"name": "Kim", "email": f"kim{seeded.count}@shop.example"}
    if tool in ("catalog_update_product", "catalog_get"):
        return {"product_id": (await seeded.product())[0]}
    if tool == "catalog_adjust_stock":
        return {"product_id": (await seeded.product())[0], "delta": 1, "reason": "restock"}
    if tool == "catalog_create_product":
        seeded.count += 1
        return {"sku": f"NEW-{seeded.count}", "name": "New", "price_minor": 100, "currency": "EUR"}
    if tool == "orders_place":
        _, sku = await seeded.product()
        return {"customer_id": await seeded.customer(), "lines": [{"sku": sku, "quantity": 1}]}
    if tool in ("orders_get", "orders_cancel", "orders_mark_shipped", "orders_mark_delivered"):
        order_id, _ = await seeded.order(paid=tool in ("orders_mark_shipped", "orders_mark_delivered"))
        if tool == "orders_mark_delivered":
            await seeded.shop.ok(
                "orders_mark_shipped", {"order_id": order_id, "carrier": "DHL", "tracking_number": "1"}
            )
        if tool == "orders_mark_shipped":
            return {"order_id": order_id, "carrier": "DHL", "tracking_number": "1"}
        return {"order_id": order_id}
    if tool == "payments_record":
        return {"order_id": (await seeded.order())[0], "amount": 1250, "method": "cash"}
    if tool == "payments_refund":
        _, payment_id = await seeded.order(paid=True)
        return {"payment_id": payment_id, "amount": 100, "reason": "broken"}
    if tool == "reports_sales_summary":
        return {"date_from": "2026-01-01", "date_to": "2026-12-31"}
    if tool == "notifications_retry":
        return {"notification_id": "ntf_01HZZZZZZZZZZZZZZZZZZZZZZZ"}
    await seeded.order(paid=True)  # so that a filter the text did not reach would show rows
    return {}  # the lists and searches


def _quoted(text: str) -> tuple[str, ...]:
    return (f"'{text}'", f"`{text}`", json.dumps(text, ensure_ascii=False))


async def _answer(shop: Shop, tool: str, arguments: JsonObject) -> tuple[bool, str, str]:
    """(is_error, Markdown, everything a client can read of what the call did) for one call; a money-back
    call is approved by the person and finished (unless the approval id is what is being tried)."""
    before = await shop.every_audit_entry()
    result = await shop.call(tool, arguments)
    structured: JsonObject = as_object(result.structured_content or {})
    approval_id = structured.get("approval_id")
    if not result.is_error and isinstance(approval_id, str) and "approval_id" not in arguments:
        await decide(shop.db, approval_id)
        result = await shop.call(tool, {**arguments, "approval_id": approval_id})
    after = await shop.every_audit_entry()
    new = [entry for entry in after if entry not in before]
    readable = json.dumps([structured, result.structured_content, new], ensure_ascii=False)
    return bool(result.is_error), text_of(result), readable


def _nothing_found(readable: str) -> bool:
    """A list that came back empty from a seeded shop: the text was used as a filter (not dropped)."""
    page = as_object(cast(list[object], json.loads(readable))[1])
    lists = [cast(list[object], value) for value in page.values() if isinstance(value, list)]
    return len(lists) == 1 and not lists[0]


@pytest.mark.parametrize(("tool", "argument"), TEXT_ARGUMENTS, ids=[f"{t}.{a}" for t, a in TEXT_ARGUMENTS])
async def test_every_text_argument_takes_json_looking_text_as_text(shop: Shop, tool: str, argument: str) -> None:
    """Stored, echoed or refused for what it says as text, never decoded into a list, an object or nothing."""
    seeded = Seeded(shop)
    problems: list[str] = []
    for text in LOOKALIKES:
        arguments = {**await _fresh_call(seeded, tool), argument: text}
        is_error, markdown, readable = await _answer(shop, tool, arguments)
        if argument == "idempotency_key" and not is_error:  # the key shows in how a retry is answered
            _, markdown, readable = await _answer(shop, tool, arguments)
            if '"replayed": true' not in readable and '"outcome": "replayed"' not in readable:
                problems.append(f"a retry with the key {text!r} was not a replay: {markdown[:300]}")
            continue
        if is_error:
            refused_as_other_type = any(f"`{argument}`: Input should be a {kind}" in markdown for kind in TYPE_REFUSALS)
            if refused_as_other_type:
                problems.append(f"{text!r} was refused as not text: {markdown}")
        elif not any(form in readable or form in markdown for form in _quoted(text)) and not _nothing_found(readable):
            problems.append(f"{text!r} succeeded but the text shows nowhere: {markdown[:300]} {readable[:500]}")
    assert not problems, f"{tool}.{argument}:\n" + "\n".join(problems)


@pytest.mark.parametrize("tool", sorted(TOOLS))
async def test_every_tool_refuses_an_argument_it_does_not_have(shop: Shop, tool: str) -> None:
    """Refused by name before anything runs, even when the call also lacks what the tool needs."""
    seeded = Seeded(shop)
    for arguments in ({**await _fresh_call(seeded, tool), "colour": "blue"}, {"colour": '["blue"]'}):
        before = await shop.state()
        message = await shop.fail(tool, arguments)
        assert f"Invalid arguments for {tool}: `colour` is not an argument of this tool." in message, message
        assert "Nothing was changed. Next: call " in message, message
        assert await shop.state() == before
