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


async def test_lists_exactly_the_five_tools(shop: Shop) -> None:
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
    ],
)
async def test_descriptions_say_what_to_call_next(shop: Shop, name: str, points_to: list[str]) -> None:
    description = (await tools_by_name(shop))[name].description or ""

    for mention in points_to:
        assert mention in description, f"{name}'s description should mention {mention}"


@pytest.mark.parametrize("name", ["customers_get", "customers_list", "audit_log_list"])
async def test_read_tools_offer_concise_or_detailed_answers(shop: Shop, name: str) -> None:
    response_format = input_property((await tools_by_name(shop))[name], "response_format")

    assert response_format.get("enum") == ["concise", "detailed"]
    assert response_format.get("default") == "concise"


@pytest.mark.parametrize("name", ["customers_list", "audit_log_list"])
async def test_page_size_is_bounded_from_1_to_100(shop: Shop, name: str) -> None:
    limit = input_property((await tools_by_name(shop))[name], "limit")

    assert limit.get("type") == "integer"
    assert limit.get("minimum") == 1
    assert limit.get("maximum") == 100


async def test_register_requires_name_and_email_only(shop: Shop) -> None:
    tool = (await tools_by_name(shop))["customers_register"]

    assert sorted(tool.input_schema.get("required", [])) == ["email", "name"]
