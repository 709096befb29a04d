"""What an assistant sees before calling anything: the tool list, its schemas and its hints."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from jsonschema import Draft202012Validator, ValidationError
from mcp_types import Tool

from tests.e2e.support import PROTOCOL_VERSIONS, TOOLS, Mode, Shop, as_object, string

TOOL_LIST_BUDGET = 40_000
"""Characters of tools/list's tools as compact JSON (about 10,000 tokens): every client puts the whole
list in the assistant's context on every turn. It was about 72,000 before issue 15 (README, Tools)."""

pytestmark = pytest.mark.anyio


async def tools_by_name(shop: Shop) -> dict[str, Tool]:
    listed = await shop.client.list_tools()
    assert listed.next_cursor is None
    return {tool.name: tool for tool in listed.tools}


def input_property(tool: Tool, name: str) -> dict[str, object]:
    properties = as_object(tool.input_schema.get("properties"))
    return as_object(properties.get(name))


async def test_negotiates_the_requested_protocol_version(shop: Shop, mode: Mode) -> None:
    assert shop.client.protocol_version == PROTOCOL_VERSIONS[mode]


async def test_lists_exactly_the_shop_tools(shop: Shop) -> None:
    listed = await shop.client.list_tools()

    assert sorted(tool.name for tool in listed.tools) == sorted(TOOLS)


async def test_every_tool_has_a_title_a_description_and_an_output_schema(shop: Shop) -> None:
    for name, tool in (await tools_by_name(shop)).items():
        assert tool.title, f"{name} has no title"
        assert tool.annotations is not None, f"{name} has no annotations"
        assert tool.annotations.title == tool.title
        assert tool.description is not None
        assert len(tool.description.strip()) > 40, f"{name} needs a real description"
        assert "\n    " not in tool.description, f"{name}'s description keeps the docstring's indentation"
        assert tool.description == tool.description.strip()
        assert tool.output_schema is not None, f"{name} has no outputSchema"
        assert tool.output_schema.get("type") == "object"
        assert as_object(tool.output_schema.get("properties")), f"{name}'s outputSchema has no properties"


@pytest.mark.parametrize(
    ("name", "read_only", "destructive", "idempotent", "open_world"),
    [
        ("customers_register", False, False, False, False),
        ("customers_get", True, None, True, False),
        ("customers_list", True, None, True, False),
        ("customers_update", False, True, True, False),
        ("audit_log_list", True, None, True, False),
        ("catalog_create_product", False, False, False, False),
        ("catalog_update_product", False, True, True, False),
        ("catalog_adjust_stock", False, False, False, False),
        ("catalog_get", True, None, True, False),
        ("catalog_search", True, None, True, False),
        ("orders_place", False, False, False, False),
        ("orders_get", True, None, True, False),
        ("orders_list", True, None, True, False),
        ("orders_cancel", False, True, False, True),
        ("orders_mark_shipped", False, False, False, False),
        ("orders_mark_delivered", False, False, False, False),
        ("payments_record", False, False, False, True),
        ("payments_list", True, None, True, False),
        ("payments_refund", False, True, False, True),
        ("reports_sales_summary", True, None, True, False),
        ("notifications_list", True, None, True, False),
        ("notifications_retry", False, False, False, False),
    ],
)
async def test_annotations_tell_the_truth(
    shop: Shop, name: str, read_only: bool, destructive: bool | None, idempotent: bool, open_world: bool
) -> None:
    """destructive=None: the hint only means something for tools that write. open_world: a call can reach
    the payment gateway (a card charged or refunded); everything else lives in the shop's own database."""
    hints = (await tools_by_name(shop))[name].annotations
    assert hints is not None

    assert hints.read_only_hint is read_only
    assert hints.idempotent_hint is idempotent
    assert hints.open_world_hint is open_world
    if destructive is not None:
        assert hints.destructive_hint is destructive


@pytest.mark.parametrize(
    ("name", "points_to"),
    [
        ("customers_register", ["customers_get"]),
        ("customers_get", ["customers_list"]),
        ("customers_list", ["next_cursor", "customers_get"]),
        ("customers_update", ["customers_get", "audit_log_list"]),
        ("audit_log_list", ["entity_id"]),
        ("catalog_create_product", ["catalog_update_product", "catalog_adjust_stock"]),
        ("catalog_update_product", ["catalog_adjust_stock", "audit_log_list"]),
        ("catalog_adjust_stock", ["audit_log_list", "product.stock_adjusted"]),
        ("catalog_get", ["catalog_search"]),
        ("catalog_search", ["next_cursor", "catalog_get", "include_inactive", "stock_below"]),
        ("orders_place", ["dry_run", "idempotency_key", "payments_record", "orders_mark_shipped"]),
        ("orders_cancel", ["approval_id", "approval request", "payments_refund"]),
        ("payments_record", ["idempotency_key", "orders_mark_shipped"]),
        ("payments_refund", ["approval_id", "approval request", "preview", "catalog_adjust_stock"]),
        ("orders_list", ["next_cursor", "status"]),
    ],
)
async def test_descriptions_say_what_to_call_next(shop: Shop, name: str, points_to: list[str]) -> None:
    description = (await tools_by_name(shop))[name].description or ""

    for mention in points_to:
        assert mention in description, f"{name}'s description should mention {mention}"


@pytest.mark.parametrize(
    "name",
    [
        "customers_get",
        "customers_list",
        "audit_log_list",
        "catalog_get",
        "catalog_search",
        "orders_get",
        "orders_list",
        "payments_list",
    ],
)
async def test_read_tools_offer_concise_or_detailed_answers(shop: Shop, name: str) -> None:
    response_format = input_property((await tools_by_name(shop))[name], "response_format")

    assert response_format.get("enum") == ["concise", "detailed"]
    assert response_format.get("default") == "concise"


@pytest.mark.parametrize(
    "name", ["customers_list", "audit_log_list", "catalog_search", "orders_list", "payments_list", "notifications_list"]
)
async def test_page_size_is_bounded_from_1_to_100(shop: Shop, name: str) -> None:
    limit = input_property((await tools_by_name(shop))[name], "limit")

    assert limit.get("type") == "integer"
    assert limit.get("minimum") == 1
    assert limit.get("maximum") == 100


@pytest.mark.parametrize(
    ("name", "required"),
    [
        ("customers_register", ["email", "name"]),
        ("catalog_create_product", ["currency", "name", "price_minor", "sku"]),
        ("catalog_update_product", ["product_id"]),
        ("catalog_adjust_stock", ["delta", "product_id", "reason"]),
        ("catalog_get", []),
        ("catalog_search", []),
        ("orders_place", ["customer_id", "lines"]),
        ("orders_get", ["order_id"]),
        ("orders_cancel", ["order_id"]),
        ("orders_mark_shipped", ["carrier", "order_id", "tracking_number"]),
        ("payments_record", ["method", "order_id"]),
        ("payments_refund", ["amount", "reason"]),
        ("reports_sales_summary", ["date_from", "date_to"]),
        ("notifications_list", []),
        ("notifications_retry", ["notification_id"]),
    ],
)
async def test_required_arguments(shop: Shop, name: str, required: list[str]) -> None:
    tool = (await tools_by_name(shop))[name]

    assert sorted(tool.input_schema.get("required", [])) == required


async def test_stock_changes_only_through_catalog_adjust_stock(shop: Shop) -> None:
    tools = await tools_by_name(shop)
    update = as_object(tools["catalog_update_product"].input_schema.get("properties"))
    reason = input_property(tools["catalog_adjust_stock"], "reason")
    delta = input_property(tools["catalog_adjust_stock"], "delta")

    assert "stock" not in update
    assert "catalog_adjust_stock" in (tools["catalog_update_product"].description or "")
    assert reason.get("enum") == ["restock", "damage", "correction"]
    assert delta.get("type") == "integer"


async def test_prices_are_whole_minor_units_that_fit_a_64_bit_column(shop: Shop) -> None:
    price = input_property((await tools_by_name(shop))["catalog_create_product"], "price_minor")

    assert price.get("type") == "integer"
    assert price.get("minimum") == 0
    assert price.get("maximum") == 2**63 - 1


async def test_the_tool_list_fits_its_budget(shop: Shop) -> None:
    """Measured as a client receives it: every tool, compact JSON, text as sent (issue 15)."""
    listed = await shop.client.list_tools()
    sent = json.dumps(
        [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in listed.tools],
        separators=(",", ":"),
        ensure_ascii=False,
    )

    assert len(listed.tools) == len(TOOLS)
    assert all(tool.output_schema for tool in listed.tools), "every tool keeps its outputSchema"
    assert len(sent) <= TOOL_LIST_BUDGET, (
        f"tools/list is {len(sent):,} characters, over its budget of {TOOL_LIST_BUDGET:,}: "
        "`python -m benchmarks.tool_list` shows where they go"
    )


def keywords(schema: object) -> list[tuple[str, object]]:
    """Every (keyword, value) in a JSON schema, at any depth; names of properties are not keywords."""
    if isinstance(schema, list):
        return [pair for each in cast(list[object], schema) for pair in keywords(each)]
    if not isinstance(schema, dict):
        return []
    found: list[tuple[str, object]] = []
    for key, value in cast(dict[str, object], schema).items():
        if key in ("properties", "$defs"):
            found += [pair for each in as_object(value).values() for pair in keywords(each)]
        else:
            found += [(key, value), *keywords(value)]
    return found


async def test_schemas_carry_no_pydantic_noise(shop: Shop) -> None:
    """No copy of a name as a title, no "default": null, no class docstrings (developer notes)."""
    for name, tool in (await tools_by_name(shop)).items():
        for schema in (tool.input_schema, tool.output_schema):
            found = keywords(schema)
            assert "title" not in {key for key, _ in found}, name
            assert ("default", None) not in found, name
            notes = [value for key, value in found if key == "description" and "input checks" in str(value)]
            assert not notes, f"{name}: {notes}"


async def test_every_type_is_a_single_type_for_one_type_dialects(shop: Shop) -> None:
    """A nullable value is an anyOf of single types: Gemini's function declarations reject a type list, and
    MCP Inspector warns about each one (it warned 103 times before)."""
    for name, tool in (await tools_by_name(shop)).items():
        for schema in (tool.input_schema, tool.output_schema):
            lists = [value for key, value in keywords(schema) if key == "type" and not isinstance(value, str)]
            assert not lists, f"{name}: {lists}"


async def test_only_partial_updates_advertise_a_null_argument(shop: Shop) -> None:
    """Elsewhere leaving an argument out means the same; in an update a null clears the field."""
    for name, tool in (await tools_by_name(shop)).items():
        nullable = [value for key, value in keywords(tool.input_schema) if key == "type" and value == "null"]
        if name in ("customers_update", "catalog_update_product"):
            assert nullable, name
        else:
            assert not nullable, name


@pytest.mark.parametrize(
    "name",
    [
        "customers_register",
        "orders_place",
        "orders_mark_shipped",
        "orders_cancel",
        "payments_refund",
        "notifications_retry",
    ],
)
async def test_tools_that_queue_an_email_say_a_worker_sends_it_later(shop: Shop, name: str) -> None:
    """The call only queues the e-mail: an assistant must not tell the person it was sent."""
    description = (await tools_by_name(shop))[name].description or ""

    assert "sent later by a background worker" in description or "a background worker sends it later" in description


async def test_outlined_orders_in_answers_validate_and_carry_every_field(shop: Shop) -> None:
    """Answers that outline the order (its main fields in the outputSchema, orders_get's schema has the
    rest) still validate against their schema and still carry every field orders_get describes."""
    tools = await tools_by_name(shop)
    full = set(as_object(as_object(tools["orders_get"].output_schema).get("properties")))
    ada = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")
    await shop.add_product("MUG-1", "Blue Mug", stock=5)
    placed = await shop.ok("orders_place", {"customer_id": ada, "lines": [{"sku": "MUG-1", "quantity": 2}]})
    order_id = string(as_object(placed.data["order"]), "id")
    paid = await shop.ok("payments_record", {"order_id": order_id, "method": "cash"})
    shipped = await shop.ok("orders_mark_shipped", {"order_id": order_id, "carrier": "DHL", "tracking_number": "1Z"})
    delivered = await shop.ok("orders_mark_delivered", {"order_id": order_id})

    answers = {
        "orders_place": (placed.data, as_object(placed.data["order"])),
        "payments_record": (paid.data, as_object(paid.data["order"])),
        "orders_mark_shipped": (shipped.data, shipped.data),
        "orders_mark_delivered": (delivered.data, delivered.data),
    }
    for name, (answer, order) in answers.items():
        validator = Draft202012Validator(dict(tools[name].output_schema or {}))
        errors: list[ValidationError] = list(validator.iter_errors(cast(Any, answer)))  # pyright: ignore[reportUnknownMemberType] - jsonschema's overloads
        problems = [error.message for error in errors]
        assert not problems, f"{name}: {problems}"
        assert full <= set(order), f"{name} lost {sorted(full - set(order))}"
        assert "orders_get" in json.dumps(tools[name].output_schema), f"{name}'s schema should point to orders_get"
