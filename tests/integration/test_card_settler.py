"""The background settler through the real wiring: Backend.start with CardOptions (the entrypoint's
one HTTP client, the real gateway client) and the consumer door ``run_card_settler``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mcp_server.adapters.service_factories import Backend, CardOptions, MailOptions
from mcp_server.handlers.consumers.card_settler import run_card_settler
from mcp_server.handlers.mcp.context import ServiceRegistry
from mcp_server.models.catalog import ProductCreate
from mcp_server.models.customers import CustomerCreate
from mcp_server.models.orders import OrderCreate, OrderLineRequest
from mcp_server.models.payments import PaymentCreate
from mcp_server.services.payments import CardNotCharged
from mcp_server.services.results import Success
from tests.engines import ShopDatabase
from tests.integration.stripe_standin import SECRET, LocalStripe

pytestmark = pytest.mark.anyio


async def start(database_url: str, tmp_path: Path, api_base: str) -> Backend:
    mail = MailOptions(directory=tmp_path / "mail")
    return await Backend.start(database_url, mail=mail, cards=CardOptions(secret_key=SECRET, api_base=api_base))


async def test_the_worker_settles_a_card_payment_nobody_retried(
    database_url: str, shop_db: ShopDatabase, tmp_path: Path, localstripe: LocalStripe, unreachable_url: str
) -> None:
    down = await start(database_url, tmp_path, unreachable_url)
    try:
        shop = down.services
        customer = await shop.customers.register(CustomerCreate(name="Ada", email="ada@example.com"), actor="t")
        assert isinstance(customer, Success)
        product = ProductCreate(sku="MUG-1", name="Mug", price_minor=1250, currency="EUR", stock=5)
        assert isinstance(await shop.catalog.create_product(product, actor="t"), Success)
        order = OrderCreate(customer_id=customer.value.id, lines=[OrderLineRequest(sku="MUG-1", quantity=2)])
        placed = await shop.orders.place(order, actor="t")
        assert isinstance(placed, Success)
        order_id = placed.value.order.id
        card = PaymentCreate(order_id=order_id, method="card", payment_method="pm_card_visa")
        pending = await shop.payments.record(card, actor="t")
        assert isinstance(pending, CardNotCharged)
        assert pending.pending
    finally:
        await down.close()
    # set-up: the attempt is two minutes old
    assert (
        shop_db.execute(
            "UPDATE payments SET created_at = :at", at=shop_db.moment(datetime.now(UTC) - timedelta(minutes=2))
        )
        == 1
    )

    up = await start(database_url, tmp_path, localstripe.url)
    try:

        async def services() -> ServiceRegistry:
            return up.services

        await run_card_settler(services, once=True, actor="worker")
        got = await up.services.orders.get(order_id)
    finally:
        await up.close()

    assert isinstance(got, Success)
    assert (got.value.order.status, got.value.order.paid_minor) == ("paid", 2500)
    charged = [
        pi
        for pi in localstripe.list("payment_intents")
        if pi["status"] == "succeeded" and order_id in json.dumps(pi["metadata"])
    ]
    assert len(charged) == 1
    assert shop_db.query("SELECT actor FROM audit_log WHERE action = 'payment.recorded'") == [("worker",)]
