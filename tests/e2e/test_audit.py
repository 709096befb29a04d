"""The audit log through a real client: one entry per change, newest first, filterable, paginated."""

from __future__ import annotations

import pytest
from mcp_types import Implementation

from tests.e2e.support import (
    JsonObject,
    Mode,
    Shop,
    as_object,
    objects,
    open_shop,
    optional_string,
    piped,
    string,
    timestamp,
)
from tests.engines import ShopDatabase

pytestmark = pytest.mark.anyio


async def make_history(shop: Shop) -> tuple[str, str]:
    """Five changes to two customers; returns (ada_id, grace_id)."""
    ada = string(await shop.register("Ada Lovelace", "ada@engines.example", phone="020 7946 0018"), "id")
    grace = string(await shop.register("Grace Hopper", "grace@navy.example"), "id")
    await shop.ok("customers_update", {"customer_id": ada, "name": "Ada King"})
    await shop.ok("customers_update", {"customer_id": grace, "email": "grace@cobol.example"})
    await shop.ok("customers_update", {"customer_id": ada, "phone": None})
    return ada, grace


def actions_and_ids(entries: list[JsonObject]) -> list[tuple[str, str]]:
    return [(string(e, "action"), string(e, "entity_id")) for e in entries]


async def test_every_change_is_one_entry_newest_first(shop: Shop) -> None:
    ada, grace = await make_history(shop)

    reply = await shop.ok("audit_log_list")

    entries = objects(reply.data, "entries")
    assert actions_and_ids(entries) == [
        ("customer.updated", ada),
        ("customer.updated", grace),
        ("customer.updated", ada),
        ("customer.registered", grace),
        ("customer.registered", ada),
    ]
    assert optional_string(reply.data, "next_cursor") is None
    assert all(string(e, "entity_type") == "customer" for e in entries)
    assert all(string(e, "id").startswith("aud_") for e in entries)
    assert len({string(e, "id") for e in entries}) == 5
    times = [timestamp(e, "occurred_at") for e in entries]
    assert times == sorted(times, reverse=True)
    assert [string(e, "summary") for e in entries] == [
        "phone: 020 7946 0018 → (empty)",
        "email: grace@navy.example → grace@cobol.example",
        "name: Ada Lovelace → Ada King",
        "created: name=Grace Hopper, email=grace@navy.example",
        "created: name=Ada Lovelace, email=ada@engines.example, phone=020 7946 0018",
    ]

    assert reply.text.startswith("**5 audit entries, newest first** (all by `mcp`; all on ")
    assert "|when (UTC)|action|entity|change|" in piped(reply.text), "the actor every entry shares is said once"
    assert f"|customer.updated|`{ada}`|name: `Ada Lovelace` → `Ada King`|" in piped(reply.text)
    assert reply.text.endswith("That is the whole list.")


async def test_filters_by_entity_id_action_and_entity_type(shop: Shop) -> None:
    ada, grace = await make_history(shop)

    ada_history = objects((await shop.ok("audit_log_list", {"entity_id": ada})).data, "entries")
    registrations = objects((await shop.ok("audit_log_list", {"action": "customer.registered"})).data, "entries")
    customers = objects((await shop.ok("audit_log_list", {"entity_type": "customer"})).data, "entries")
    grace_updates = objects(
        (await shop.ok("audit_log_list", {"entity_id": grace, "action": "customer.updated"})).data, "entries"
    )
    orders = await shop.ok("audit_log_list", {"entity_type": "order"})

    assert actions_and_ids(ada_history) == [
        ("customer.updated", ada),
        ("customer.updated", ada),
        ("customer.registered", ada),
    ]
    assert actions_and_ids(registrations) == [("customer.registered", grace), ("customer.registered", ada)]
    assert len(customers) == 5
    assert actions_and_ids(grace_updates) == [("customer.updated", grace)]
    assert objects(orders.data, "entries") == []
    assert orders.text == "No audit entries match these filters."


async def test_pages_cover_the_log_once_in_order(shop: Shop) -> None:
    ada, _ = await make_history(shop)
    everything = objects((await shop.ok("audit_log_list")).data, "entries")

    for filters, expected in [({}, everything), ({"entity_id": ada}, [e for e in everything if e["entity_id"] == ada])]:
        seen: list[JsonObject] = []
        cursor: str | None = None
        for _ in range(10):
            arguments: JsonObject = {**filters, "limit": 2}
            if cursor is not None:
                arguments["cursor"] = cursor
            page = await shop.ok("audit_log_list", arguments)
            seen += objects(page.data, "entries")
            cursor = optional_string(page.data, "next_cursor")
            if cursor is None:
                break
            assert "More results exist: call audit_log_list again" in page.text
        assert seen == expected


async def test_detailed_entries_carry_before_and_after(shop: Shop) -> None:
    ada, _ = await make_history(shop)

    concise = objects((await shop.ok("audit_log_list", {"entity_id": ada, "limit": 3})).data, "entries")
    detailed = objects(
        (await shop.ok("audit_log_list", {"entity_id": ada, "limit": 3, "response_format": "detailed"})).data,
        "entries",
    )

    assert all(e["before"] is None and e["after"] is None for e in concise)
    phone_cleared, renamed, registered = detailed
    assert phone_cleared["before"] == {"phone": "020 7946 0018"}
    assert phone_cleared["after"] == {"phone": None}
    assert renamed["before"] == {"name": "Ada Lovelace"}
    assert renamed["after"] == {"name": "Ada King"}
    assert registered["before"] is None
    assert as_object(registered["after"]) == {
        "name": "Ada Lovelace",
        "email": "ada@engines.example",
        "phone": "020 7946 0018",
        "notes": None,
    }


@pytest.mark.parametrize(
    ("client_info", "env", "actor"),
    [
        pytest.param(None, {}, "mcp", id="sdk-default-client-name"),
        pytest.param(Implementation(name="claude-ai", version="0.9"), {}, "claude-ai", id="client-name"),
        pytest.param(
            Implementation(name="claude-ai", version="0.9"),
            {"SHOPKEEPER_ACTOR": "Mo at the counter"},
            "Mo at the counter",
            id="SHOPKEEPER_ACTOR-wins",
        ),
    ],
)
async def test_entries_name_who_made_the_change(
    anyio_backend: str,
    shop_db: ShopDatabase,
    mode: Mode,
    client_info: Implementation | None,
    env: dict[str, str],
    actor: str,
) -> None:
    del anyio_backend
    async with open_shop(shop_db, mode, env=env, client_info=client_info) as shop:
        customer_id = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")
        await shop.ok("customers_update", {"customer_id": customer_id, "name": "Ada King"})

        reply = await shop.ok("audit_log_list")

    assert [string(e, "actor") for e in objects(reply.data, "entries")] == [actor, actor]
    assert f"|`{actor}`|customer.updated|" in piped(reply.text)
