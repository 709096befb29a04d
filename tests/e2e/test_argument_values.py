"""Odd argument values get the project's own one-paragraph answer (issue 10, items 7 and 9).

Days outside 1970-01-01 … 9998-12-31 are refused as a field error in every time zone (they used
to overflow into "unexpected internal error"), and values with line breaks, pydantic's own
markers, thousands of characters or unusual unicode never make pydantic's raw text (or its docs
URL) reach the client.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.support import Mode, Shop, open_shop, text_of
from tests.engines import ShopDatabase

pytestmark = pytest.mark.anyio

RANGE = "from 1970-01-01 to 9998-12-31"
ZONES = ["UTC", "Asia/Tokyo", "Pacific/Kiritimati", "Etc/GMT+12", "America/St_Johns"]
DAY_ARGUMENTS: list[tuple[str, dict[str, str], str]] = [
    ("orders_list", {}, "placed_from"),
    ("orders_list", {}, "placed_to"),
    ("payments_list", {}, "date_from"),
    ("payments_list", {}, "date_to"),
    ("reports_sales_summary", {"date_to": "<day>"}, "date_from"),
    ("reports_sales_summary", {"date_from": "<day>"}, "date_to"),
]
RAW_MARKERS = ("errors.pydantic.dev", "validation error for", "[type=", "input_value", "For further information")


def assert_own_argument_error(text: str, *arguments: str, sent: str = "") -> None:
    """The project's form: one line per bad argument, that nothing changed, and what to do next.

    pydantic's markers count only where the caller did not send them: echoing (a short piece of)
    the caller's own value is not pydantic's text.
    """
    for marker in RAW_MARKERS:
        assert marker not in text or marker in sent, f"pydantic's raw text ({marker!r}) reached the client: {text!r}"
    head, *problems, blank, last = text.split("\n")
    assert head.startswith("Invalid arguments for "), text
    assert head.endswith(":"), text
    assert problems, text
    assert all(line.startswith("- ") for line in problems), f"a value broke the one-line-per-argument form: {text!r}"
    assert blank == "", text
    assert last.startswith("Nothing was changed. Next: "), text
    for argument in arguments:
        assert f"`{argument}`" in text, f"{argument!r} is not named in: {text!r}"


def with_day(arguments: dict[str, str], name: str, day: str) -> dict[str, object]:
    filled: dict[str, object] = {key: day if value == "<day>" else value for key, value in arguments.items()}
    return filled | {name: day}


@pytest.mark.parametrize("zone", ZONES)
async def test_days_outside_the_supported_range_are_a_field_error_in_every_zone(
    anyio_backend: str, shop_file: Path, zone: str
) -> None:
    """On SQLite only: these are refused as arguments, before any query reaches the shop."""
    del anyio_backend
    async with open_shop(shop_file, "auto", env={"SHOPKEEPER_TIMEZONE": zone}) as shop:
        for tool, arguments, name in DAY_ARGUMENTS:
            for day in ("9999-12-31", "0001-01-01", "1969-12-31"):
                result = await shop.call(tool, with_day(arguments, name, day))
                text = text_of(result)
                assert result.is_error, f"{tool}({name}={day}) in {zone} answered: {text}"
                assert "unexpected internal error" not in text, f"{tool}({name}={day}) in {zone}: {text}"
                assert_own_argument_error(text, name)
                assert RANGE in text, text


@pytest.mark.parametrize("zone", ZONES)
async def test_the_first_and_last_supported_days_work_in_every_zone(
    anyio_backend: str, shop_db: ShopDatabase, zone: str
) -> None:
    """The days become the engine's timestamps in a query: on both engines."""
    del anyio_backend
    async with open_shop(shop_db, "auto", env={"SHOPKEEPER_TIMEZONE": zone}) as shop:
        for tool, arguments, name in DAY_ARGUMENTS:
            for day in ("1970-01-01", "9998-12-31"):
                await shop.ok(tool, with_day(arguments, name, day))


ODD_VALUES = {
    "line-break": "a\nb",
    "carriage-return": "a\r\nb",
    "pydantic-marker": "x [type=value_error, input_value='y', input_type=str]",
    "pydantic-footer": "y\n    For further information visit https://errors.pydantic.dev/2.14/v/value_error",
    "header-lookalike": "z\nError executing tool orders_list: 1 validation error for orders_listArguments\nemail",
    "unicode": "é🙂\u202eZ\u0000",
    "long": "x" * 10_000,
}


@pytest.mark.parametrize("value", list(ODD_VALUES.values()), ids=list(ODD_VALUES))
async def test_an_odd_e_mail_is_refused_in_the_projects_own_words(shop: Shop, value: str) -> None:
    text = await shop.fail("customers_register", {"name": "Ada", "email": value})
    assert_own_argument_error(text, "email", sent=value)
    assert "x" * 61 not in text, "a long value is echoed back uncut"
    assert len(text) < 1_000, text


@pytest.mark.parametrize("value", list(ODD_VALUES.values()), ids=list(ODD_VALUES))
async def test_an_odd_currency_is_refused_in_the_projects_own_words(shop: Shop, value: str) -> None:
    arguments = {"sku": "MUG-1", "name": "Mug", "price_minor": 1250, "currency": value}
    text = await shop.fail("catalog_create_product", arguments)
    assert_own_argument_error(text, "currency", sent=value)
    assert len(text) < 1_000, text


async def test_the_quoted_cases_of_the_issue(shop: Shop) -> None:
    assert_own_argument_error(await shop.fail("customers_register", {"name": "A", "email": "a\nb"}), "email")
    arguments = {"sku": "MUG-1", "name": "Mug", "price_minor": 1250, "currency": "E\nU"}
    assert_own_argument_error(await shop.fail("catalog_create_product", arguments), "currency")


@pytest.mark.parametrize("value", list(ODD_VALUES.values()), ids=list(ODD_VALUES))
async def test_odd_values_refused_by_the_input_schema_itself(shop: Shop, value: str) -> None:
    """Refused by the SDK before the tool runs (a number, a day, an enum): the same form."""
    text = await shop.fail("customers_list", {"limit": value})
    assert_own_argument_error(text, "limit", sent=value)
    text = await shop.fail("orders_list", {"placed_to": value, "status": value})
    assert_own_argument_error(text, "placed_to", "status", sent=value)
    assert "x" * 61 not in text, "a long value is echoed back uncut"


async def test_nested_locations_name_the_item_and_field(shop: Shop) -> None:
    lines = [{"sku": "MUG-1", "quantity": 1}, {"sku": "a\nb", "quantity": "many\nmore"}]
    text = await shop.fail("orders_place", {"customer_id": "cus_01HZZZZZZZZZZZZZZZZZZZZZZZ", "lines": lines})
    assert_own_argument_error(text)
    assert "`lines` item 2, `quantity`" in text, text


async def test_odd_names_inside_nested_objects_are_cut_and_kept_on_one_line(shop: Shop) -> None:
    odd = "k\n`" + "y" * 5_000
    arguments = {
        "customer_id": "cus_01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "lines": [{"sku": "MUG-1", "quantity": 1, odd: 2}],
        "shipping_address": {odd: 1},
    }
    text = await shop.fail("orders_place", arguments)
    assert_own_argument_error(text)
    assert "y" * 61 not in text, text
    assert "k\n" not in text, text


async def test_many_bad_items_give_a_bounded_answer(shop: Shop) -> None:
    lines = [{"sku": f"S-{n}", "quantity": 0} for n in range(100)]
    text = await shop.fail("orders_place", {"customer_id": "cus_01HZZZZZZZZZZZZZZZZZZZZZZZ", "lines": lines})
    assert_own_argument_error(text)
    assert len(text) < 2_500, len(text)
    assert "more" in text, text


@pytest.mark.parametrize("mode_", ["auto", "legacy"])
async def test_both_protocol_versions_get_the_same_form(anyio_backend: str, shop_file: Path, mode_: Mode) -> None:
    """On SQLite only: an argument error, before any call reaches the shop."""
    del anyio_backend
    async with open_shop(shop_file, mode_) as shop:
        assert_own_argument_error(await shop.fail("customers_register", {"name": "A", "email": "a\nb"}), "email")
