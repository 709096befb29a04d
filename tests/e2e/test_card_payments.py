"""Card payments as an assistant takes them: the real server through an MCP client, its gateway
pointed (SHOPKEEPER_STRIPE_API_BASE) at the fault-injecting proxy in front of localstripe.

"Done" for the gateway: over a flaky network a card payment is charged exactly once and its
refund made exactly once, the assistant is told what to do at each step, and the secret key
shows up nowhere an assistant or a log reader could see it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import pytest

from tests.e2e.support import JsonObject, Mode, Shop, boolean, decide, integer, objects, open_shop, string
from tests.engines import ShopDatabase
from tests.integration.stripe_standin import SECRET, FaultProxy, LocalStripe

pytestmark = [pytest.mark.anyio, pytest.mark.approver]

SERVER_ATTEMPTS = 3  # the server's gateway client tries each request this often


@dataclass
class Stand:
    shop: Shop
    proxy: FaultProxy
    localstripe: LocalStripe
    seen: list[str]  # every text and structured result the assistant got

    async def ok(self, tool: str, arguments: Mapping[str, object]):
        reply = await self.shop.ok(tool, arguments)
        self.seen += [reply.text, json.dumps(reply.data)]
        return reply

    async def fail(self, tool: str, arguments: Mapping[str, object]) -> str:
        text = await self.shop.fail(tool, arguments)
        self.seen.append(text)
        return text

    def charges(self, order_id: str) -> list[int]:
        return [
            int(str(pi["amount"]))
            for pi in self.localstripe.list("payment_intents")
            if pi["status"] == "succeeded" and json.dumps(pi["metadata"]).find(order_id) >= 0
        ]

    def refunds(self) -> list[int]:
        return [int(str(r["amount"])) for r in self.localstripe.list("refunds")]


@pytest.fixture
async def stand(
    anyio_backend: str, shop_db: ShopDatabase, mode: Mode, proxy: FaultProxy, localstripe: LocalStripe
) -> AsyncIterator[Stand]:
    del anyio_backend
    env = {"SHOPKEEPER_STRIPE_SECRET_KEY": SECRET, "SHOPKEEPER_STRIPE_API_BASE": proxy.url}
    async with open_shop(shop_db, mode, env=env) as shop:
        yield Stand(shop, proxy, localstripe, [])


async def placed_order(stand: Stand) -> str:
    customer = await stand.shop.register("Ada Lovelace", "ada@engines.example")
    await stand.shop.add_product("MUG-1", "Mug", price_minor=1250, stock=5)
    order = await stand.shop.place(string(customer, "id"), ("MUG-1", 2))
    return string(order, "id")


async def test_a_card_payment_and_its_refund_over_a_flaky_network_move_money_exactly_once(
    stand: Stand, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    order_id = await placed_order(stand)
    pay = {"order_id": order_id, "method": "card", "payment_method": "pm_card_visa", "idempotency_key": "pay-1"}

    # Every try is charged upstream but its answer is lost on the way back.
    stand.proxy.inject(*("lost",) * SERVER_ATTEMPTS)
    pending = await stand.fail("payments_record", pay)

    assert "is pending" in pending
    assert "must not be shipped" in pending
    assert "cannot be charged twice" in pending
    order = (await stand.ok("orders_get", {"order_id": order_id})).data
    assert (string(order, "status"), integer(order, "paid_minor")) == ("placed", 0)
    assert stand.charges(order_id) == [2500]  # it did go through at the gateway

    done = await stand.ok("payments_record", pay)

    assert boolean(done.data, "resumed")
    assert "now complete: the card was charged once" in done.text
    assert string(done.data, "status") == "succeeded"
    assert string(done.data, "gateway_reference").startswith("pi_")
    assert stand.charges(order_id) == [2500]
    again = await stand.ok("payments_record", pay)
    assert boolean(again.data, "replayed")
    assert stand.charges(order_id) == [2500]

    # A refund: previewed, confirmed, then the gateway is unreachable three times in a row.
    refund = {"order_id": order_id, "amount": 1000, "reason": "one mug arrived broken", "idempotency_key": "ref-1"}
    approval_id = string((await stand.ok("payments_refund", refund)).data, "approval_id")
    await decide(stand.shop.db, approval_id)
    stand.proxy.inject(*("503",) * SERVER_ATTEMPTS)
    waiting = await stand.ok("payments_refund", {**refund, "approval_id": approval_id})

    assert string(waiting.data, "outcome") == "pending"
    assert "Pending at the payment gateway" in waiting.text
    assert stand.refunds() == []

    finished = await stand.ok("payments_refund", refund)  # the same call again: no new confirmation needed

    assert string(finished.data, "outcome") == "done"  # this retry is what completed it
    assert [string(r, "status") for r in objects(finished.data, "refunds")] == ["succeeded"]
    assert stand.refunds() == [1000]
    order = (await stand.ok("orders_get", {"order_id": order_id})).data
    assert (integer(order, "paid_minor"), integer(order, "refunded_minor")) == (2500, 1000)

    audit = await stand.ok("audit_log_list", {"entity_id": order_id, "response_format": "detailed"})
    listed = await stand.ok("payments_list", {"order_id": order_id, "response_format": "detailed"})
    assert "payment.started" in audit.text
    assert "pm_card_visa" in json.dumps(listed.data)
    for text in [*stand.seen, caplog.text]:
        assert SECRET not in text
        assert SECRET[8:24] not in text


async def test_a_declined_card_tells_the_assistant_what_to_do_and_charges_nothing(stand: Stand) -> None:
    order_id = await placed_order(stand)

    declined = await stand.fail(
        "payments_record", {"order_id": order_id, "method": "card", "payment_method": "pm_card_chargeCustomerFail"}
    )

    assert declined.startswith("Card declined: card_declined.")
    assert "nothing was charged" in declined
    assert "another card" in declined
    assert stand.charges(order_id) == []
    paid = await stand.ok("payments_record", {"order_id": order_id, "method": "card", "payment_method": "pm_card_visa"})
    assert string(as_order(paid.data), "status") == "paid"
    assert stand.charges(order_id) == [2500]


async def test_cancelling_a_card_paid_order_refunds_the_card(stand: Stand) -> None:
    order_id = await placed_order(stand)
    await stand.ok("payments_record", {"order_id": order_id, "method": "card", "payment_method": "pm_card_visa"})

    done = await stand.shop.approved("orders_cancel", {"order_id": order_id})

    assert (string(done.data, "outcome"), string(done.data, "order_status")) == ("done", "cancelled")
    assert stand.refunds() == [2500]


def as_order(data: JsonObject) -> JsonObject:
    order = data["order"]
    assert isinstance(order, dict)
    return order  # pyright: ignore[reportUnknownVariableType]
