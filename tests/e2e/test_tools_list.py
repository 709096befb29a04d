"""What an assistant sees before calling anything: the tool list, its schemas and its hints."""

from __future__ import annotations

import pytest
from mcp_types import Tool

from tests.e2e.support import PROTOCOL_VERSIONS, TOOLS, Mode, Shop, as_object

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
    ("name", "read_only", "destructive", "idempotent"),
    [
        ("customers_register", False, False, False),
        ("customers_get", True, None, True),
        ("customers_list", True, None, True),
        ("customers_update", False, True, True),
        ("audit_log_list", True, None, True),
        ("catalog_create_product", False, False, False),
        ("catalog_update_product", False, True, True),
        ("catalog_adjust_stock", False, False, False),
        ("catalog_get", True, None, True),
        ("catalog_search", True, None, True),
        ("orders_place", False, False, False),
        ("orders_get", True, None, True),
        ("orders_list", True, None, True),
        ("orders_cancel", False, True, False),
        ("orders_mark_shipped", False, False, False),
        ("orders_mark_delivered", False, False, False),
        ("payments_record", False, False, False),
        ("payments_list", True, None, True),
        ("payments_refund", False, True, False),
        ("reports_sales_summary", True, None, True),
        ("notifications_list", True, None, True),
        ("notifications_retry", False, False, False),
    ],
)
async def test_annotations_tell_the_truth(
    shop: Shop, name: str, read_only: bool, destructive: bool | None, idempotent: bool
) -> None:
    """destructive=None: the hint only means something for tools that write."""
    hints = (await tools_by_name(shop))[name].annotations
    assert hints is not None

    assert hints.read_only_hint is read_only
    assert hints.idempotent_hint is idempotent
    assert hints.open_world_hint is False, "everything lives in the shop's own database"
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
