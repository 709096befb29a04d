"""Fewer calls through a real client: a mistyped SKU or e-mail, and a search that finds nothing, answer
with the closest matches and the exact call to make; an empty customer search says how to register;
shipping an order without an address ships it and says so."""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e.support import Shop, as_object, integer, string

pytestmark = pytest.mark.anyio


async def stock_catalog(shop: Shop) -> dict[str, str]:
    """Four products with 5 in stock each; their ids by SKU."""
    ids: dict[str, str] = {}
    for sku, name in [("MUG-BLUE-01", "Blue mug"), ("MUG-BLACK-01", "Black mug"), ("TEA-GREEN-01", "Green tea")]:
        ids[sku] = string(await shop.add_product(sku, name, stock=5), "id")
    ids["LAMP-01"] = string(await shop.add_product("LAMP-01", "Desk lamp", stock=5), "id")
    return ids


def lines_call(message: str) -> list[object]:
    """The ``lines=[…]`` the answer says to call orders_place with."""
    found = re.search(r"`lines=(\[.*?\])`", message)
    assert found, f"no lines=[…] call in: {message}"
    return json.loads(found.group(1))


async def test_a_mistyped_sku_in_an_order_answers_with_the_sku_meant_and_the_call_that_places_it(shop: Shop) -> None:
    ids = await stock_catalog(shop)
    ada = string(await shop.register("Ada Lovelace", "ada@example.com"), "id")
    arguments = {
        "customer_id": ada,
        "lines": [{"sku": "TEA-GREEN-01", "quantity": 1}, {"sku": "MUG-BLEU-01", "quantity": 2}],
    }

    message = await shop.fail("orders_place", arguments)

    assert "Did you mean, for line 2 (`MUG-BLEU-01`):" in message
    first = message.split("Did you mean", 1)[1].splitlines()[1]
    assert first == f"- `MUG-BLUE-01` — `Blue mug` (`{ids['MUG-BLUE-01']}`)"
    assert f"customer_id=`{ada}`" in message
    corrected = lines_call(message)
    assert corrected == [{"sku": "TEA-GREEN-01", "quantity": 1}, {"sku": "MUG-BLUE-01", "quantity": 2}]
    assert message.rstrip().endswith("Nothing was changed.")

    order = as_object((await shop.ok("orders_place", {"customer_id": ada, "lines": corrected})).data.get("order"))
    assert integer(order, "total_minor") == 3 * 1250


async def test_a_mistyped_sku_beside_a_line_short_of_stock_says_to_fix_that_line_too(shop: Shop) -> None:
    await stock_catalog(shop)
    ada = string(await shop.register("Ada Lovelace", "ada@example.com"), "id")
    arguments = {
        "customer_id": ada,
        "lines": [{"sku": "LAMP-01", "quantity": 9}, {"sku": "MUG-BLEU-01", "quantity": 1}],
    }

    message = await shop.fail("orders_place", arguments)

    assert "insufficient stock: 5 in stock, 9 requested" in message
    assert "fix the other lines named above too" in message
    assert lines_call(message) == [{"sku": "LAMP-01", "quantity": 9}, {"sku": "MUG-BLUE-01", "quantity": 1}]


async def test_a_dry_run_with_a_mistyped_sku_shows_the_sku_meant(shop: Shop) -> None:
    ids = await stock_catalog(shop)
    ada = string(await shop.register("Ada Lovelace", "ada@example.com"), "id")

    reply = await shop.ok(
        "orders_place", {"customer_id": ada, "lines": [{"sku": "mug-blak-01", "quantity": 1}], "dry_run": True}
    )

    assert f"- `MUG-BLACK-01` — `Black mug` (`{ids['MUG-BLACK-01']}`)" in reply.text
    assert lines_call(reply.text) == [{"sku": "MUG-BLACK-01", "quantity": 1}]


async def test_catalog_get_with_a_mistyped_sku_names_the_calls_for_the_closest_skus(shop: Shop) -> None:
    ids = await stock_catalog(shop)

    message = await shop.fail("catalog_get", {"sku": "MUG-BLU-01"})

    assert message.startswith("No product with SKU 'MUG-BLU-01'.\n\nDid you mean:\n")
    assert f"- `MUG-BLUE-01` — `Blue mug` (`{ids['MUG-BLUE-01']}`): call catalog_get with sku=`MUG-BLUE-01`" in message
    assert "TEA-GREEN-01" not in message
    assert "LAMP-01" not in message
    assert "Next: call catalog_get with the SKU meant" in message


async def test_an_unknown_sku_like_nothing_in_the_catalog_points_to_the_search(shop: Shop) -> None:
    await stock_catalog(shop)

    message = await shop.fail("catalog_get", {"sku": "ZEBRA-99"})

    assert message == (
        "No product with SKU 'ZEBRA-99'.\n\n"
        "Next: call catalog_search (text=part of the name or SKU) to find the product."
    )


async def test_a_catalog_search_that_finds_nothing_suggests_the_closest_products(shop: Shop) -> None:
    ids = await stock_catalog(shop)

    reply = await shop.ok("catalog_search", {"text": "desk lammp"})

    assert reply.data["products"] == []
    assert (
        f"Did you mean:\n- `LAMP-01` — `Desk lamp` (`{ids['LAMP-01']}`): call catalog_get with sku=`LAMP-01`"
        in reply.text
    )


async def test_customers_get_with_a_mistyped_e_mail_names_the_customer_meant(shop: Shop) -> None:
    anna = string(await shop.register("Anna Schmidt", "anna@example.com"), "id")
    await shop.register("Bob Jones", "bob@example.com")

    message = await shop.fail("customers_get", {"email": "anna@exmaple.com"})

    assert f"- `anna@example.com` — `Anna Schmidt` (`{anna}`): call customers_get with customer_id=`{anna}`" in message
    assert "bob@example.com" not in message
    reply = await shop.ok("customers_get", {"customer_id": anna})
    assert string(reply.data, "email") == "anna@example.com"


async def test_a_customer_search_that_finds_nobody_says_how_to_register_them(shop: Shop) -> None:
    grace = string(await shop.register("Grace Hopper", "grace@example.com"), "id")

    close = await shop.ok("customers_list", {"query": "grace hoper"})
    by_address = await shop.ok("customers_list", {"query": "new.person@example.org"})

    assert close.data["customers"] == []
    assert f"(`{grace}`): call customers_get with customer_id=`{grace}`" in close.text
    assert "New customer? Call customers_register with name=`grace hoper` (if that is their full name)" in close.text
    assert (
        "New customer? Call customers_register with name=<their full name> and email=`new.person@example.org`; "
        "phone and notes are optional." in by_address.text
    )


async def test_shipping_an_order_without_an_address_ships_it_and_warns(shop: Shop) -> None:
    await stock_catalog(shop)
    ada = string(await shop.register("Ada Lovelace", "ada@example.com"), "id")
    order = await shop.place(ada, ("MUG-BLUE-01", 1))
    order_id = string(order, "id")
    await shop.ok("payments_record", {"order_id": order_id, "amount": integer(order, "total_minor"), "method": "cash"})

    reply = await shop.ok("orders_mark_shipped", {"order_id": order_id, "carrier": "DHL", "tracking_number": "1Z9"})

    assert string(reply.data, "status") == "shipped"
    assert reply.text.startswith(f"**Warning:** order `{order_id}` has no shipping address.")
    assert "No command or tool can add one to an order that is already placed" in reply.text


async def test_shipping_an_order_with_an_address_has_no_warning(shop: Shop) -> None:
    await stock_catalog(shop)
    ada = string(await shop.register("Ada Lovelace", "ada@example.com"), "id")
    address = {"name": "Ada Lovelace", "line1": "1 St James's Square", "postal_code": "SW1Y 4JU", "city": "London"}
    order = await shop.place(ada, ("MUG-BLUE-01", 1), shipping_address=address | {"country": "GB"})
    order_id = string(order, "id")
    await shop.ok("payments_record", {"order_id": order_id, "amount": integer(order, "total_minor"), "method": "cash"})

    reply = await shop.ok("orders_mark_shipped", {"order_id": order_id, "carrier": "DHL", "tracking_number": "1Z9"})

    assert "Warning" not in reply.text
