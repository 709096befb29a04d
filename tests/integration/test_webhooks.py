"""``POST /webhooks/stripe`` over a real Starlette app, on each engine, against localstripe.

The shop's own calls go through the fault-injecting proxy, so a charge or refund can be made at the
gateway while its answer is lost (the row stays pending: what webhooks are for). The route is served
by a ``Backend`` (the real wiring, its gateway client also through the proxy) on the same database,
as the HTTP door serves it beside the process that took the payment. Events are signed here with
Stripe's public scheme, not with the code under test; localstripe's own events and objects are
posted as localstripe made them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette

from mcp_server.adapters.service_factories import Backend, CardOptions, MailOptions
from mcp_server.clients.payment_gateway import RetryPolicy, StripePaymentGateway
from mcp_server.handlers.http.webhooks import stripe_webhook_route
from mcp_server.handlers.mcp.context import ServiceRegistry
from mcp_server.models.catalog import ProductCreate
from mcp_server.models.customers import CustomerCreate
from mcp_server.models.orders import OrderCreate, OrderLineRequest
from mcp_server.models.payments import PaymentCreate, RefundCreate
from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory
from mcp_server.services.approvals import ApprovalDesk, PersonConfirmed
from mcp_server.services.catalog import CatalogService
from mcp_server.services.customers import CustomerService
from mcp_server.services.orders import OrderService
from mcp_server.services.payments import CardNotCharged, PaymentService
from mcp_server.services.results import Success
from mcp_server.utils.ids import IdGenerator
from mcp_server.utils.time import SystemClock
from tests.engines import ShopDatabase
from tests.integration.stripe_standin import BASE_DELAY_S, SECRET, FaultProxy, LocalStripe, Sleeps

pytestmark = pytest.mark.anyio

WHSEC = "whsec_integration_0123456789"
OTHER_WHSEC = "whsec_someone_else"
PRICE = 1250
ATTEMPTS = 2  # the set-up shop's tries per call
BACKEND_ATTEMPTS = 3  # the served Backend's (the default policy)
Json = dict[str, object]


def stripe_header(body: bytes, *, secret: str = WHSEC, at: int | None = None) -> str:
    """``Stripe-Signature`` as Stripe makes it (its documented scheme), with a rolled-over secret's too."""
    t = int(time.time()) if at is None else at
    v1 = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    old = hmac.new(b"whsec_rolled_over", f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={old},v1={v1}"


def envelope(event_type: str, obj: Json, event_id: str) -> bytes:
    event = {"id": event_id, "object": "event", "type": event_type, "created": int(time.time())}
    return json.dumps(event | {"api_version": "2017-08-15", "data": {"object": obj}}).encode()


@dataclass
class Door:
    shop_db: ShopDatabase
    localstripe: LocalStripe
    proxy: FaultProxy
    http: httpx.AsyncClient
    orders: OrderService
    payments: PaymentService
    customer: str

    async def post(self, body: bytes, signature: str | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        headers["Stripe-Signature"] = stripe_header(body) if signature is None else signature
        return await self.http.post("/webhooks/stripe", content=body, headers=headers)

    async def place(self) -> str:
        request = OrderCreate(customer_id=self.customer, lines=[OrderLineRequest(sku="MUG-01", quantity=2)])
        placed = await self.orders.place(request, actor="test")
        assert isinstance(placed, Success), placed
        return placed.value.order.id

    async def lost_charge(self) -> tuple[str, str]:
        """An order charged at the gateway whose answer never came back: (order id, pending payment id)."""
        order_id = await self.place()
        self.proxy.inject(*("lost",) * ATTEMPTS)
        result = await self.payments.record(
            PaymentCreate(order_id=order_id, method="card", payment_method="pm_card_visa"), actor="test"
        )
        assert isinstance(result, CardNotCharged), result
        assert result.pending
        assert self.charged(order_id) == [2 * PRICE], "charged at the gateway though nobody heard it"
        return order_id, result.payment.id

    def intent_of(self, order_id: str) -> Json:
        [intent] = [pi for pi in self.localstripe.list("payment_intents") if _meta(pi).get("order_id") == order_id]
        return intent

    def charged(self, order_id: str) -> list[int]:
        return [
            int(str(pi["amount"]))
            for pi in self.localstripe.list("payment_intents")
            if _meta(pi).get("order_id") == order_id and pi["status"] == "succeeded"
        ]

    def row(self, row_id: str) -> tuple[str, str | None]:
        [(status, reference)] = self.shop_db.query(
            "SELECT status, gateway_reference FROM payments WHERE id = :id", id=row_id
        )
        return status, reference

    def order(self, order_id: str) -> tuple[str, int, int]:
        [(status, paid, refunded)] = self.shop_db.query(
            "SELECT status, paid_minor, refunded_minor FROM orders WHERE id = :id", id=order_id
        )
        return status, paid, refunded

    def filed(self) -> list[tuple[str, str, str]]:
        return [
            (str(a), str(b), str(c))
            for a, b, c in self.shop_db.query(
                "SELECT event_id, event_type, outcome FROM webhook_events ORDER BY event_id"
            )
        ]


def _meta(obj: Json) -> dict[str, object]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}  # pyright: ignore[reportUnknownVariableType]


@pytest.fixture
async def door(
    shop_db: ShopDatabase,
    uow: SqlUnitOfWorkFactory,
    localstripe: LocalStripe,
    proxy: FaultProxy,
    gateway_http: httpx.AsyncClient,
    tmp_path: Path,
) -> AsyncGenerator[Door]:
    # The shop that takes payments (fast retries, through the proxy)...
    clock, ids, zone = SystemClock(), IdGenerator(), ZoneInfo("UTC")
    gateway = StripePaymentGateway(
        gateway_http,
        secret_key=SECRET,
        base_url=proxy.url,
        retry=RetryPolicy(attempts=ATTEMPTS, base_delay_s=BASE_DELAY_S, max_delay_s=2.0),
        sleep=Sleeps(),
    )
    desk = ApprovalDesk(clock, ids)
    customer = await CustomerService(uow, clock, ids).register(
        CustomerCreate(name="Ada", email="ada@example.com"), actor="test"
    )
    assert isinstance(customer, Success)
    mug = ProductCreate(sku="MUG-01", name="Mug", price_minor=PRICE, currency="EUR", stock=50)
    assert isinstance(await CatalogService(uow, clock, ids).create_product(mug, actor="test"), Success)
    # ...and the door the gateway's webhooks reach, on the same database.
    backend = await Backend.start(
        shop_db.url,
        mail=MailOptions(directory=tmp_path / "mail"),
        cards=CardOptions(secret_key=SECRET, api_base=proxy.url),
    )

    async def services() -> ServiceRegistry:
        return backend.services

    app = Starlette(routes=[stripe_webhook_route(services, WHSEC, SystemClock())])
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test") as http:
            yield Door(
                shop_db,
                localstripe,
                proxy,
                http,
                OrderService(uow, clock, ids, desk, zone, gateway),
                PaymentService(uow, clock, ids, desk, zone, gateway),
                customer.value.id,
            )
    finally:
        await backend.close()


async def test_localstripes_own_succeeded_event_settles_a_pending_payment_at_once(door: Door) -> None:
    order_id, payment_id = await door.lost_charge()
    intent = door.intent_of(order_id)
    [event] = [
        e
        for e in door.localstripe.list("events")
        if e["type"] == "payment_intent.succeeded" and _object_id(e) == intent["id"]
    ]
    body = json.dumps(event).encode()  # localstripe's event, as localstripe made it
    seen = len(door.proxy.seen)

    answer = await door.post(body)

    assert (answer.status_code, answer.json()) == (200, {"received": True, "outcome": "settled"})
    assert door.row(payment_id) == ("succeeded", intent["id"])
    assert door.order(order_id) == ("paid", 2 * PRICE, 0)
    assert door.charged(order_id) == [2 * PRICE], "asked again with the first key: charged once"
    assert door.proxy.seen[seen].idempotency_key == f"shopkeeper-{payment_id}"
    assert door.filed() == [(str(event["id"]), "payment_intent.succeeded", f"settled: {payment_id} succeeded")]
    assert door.shop_db.query(
        "SELECT actor FROM audit_log WHERE action = 'payment.recorded' AND entity_id = :id", id=order_id
    ) == [("webhook:stripe",)]


async def test_a_replayed_event_is_acknowledged_and_ignored(door: Door) -> None:
    order_id, payment_id = await door.lost_charge()
    body = envelope("payment_intent.succeeded", door.intent_of(order_id), "evt_Replayed1")
    assert (await door.post(body)).status_code == 200
    seen, audit = len(door.proxy.seen), door.shop_db.scalar("SELECT count(*) FROM audit_log")

    again = await door.post(body)  # the same event, signed again later, as the gateway retries it

    assert (again.status_code, again.json()["outcome"]) == (200, "replayed")
    assert len(door.proxy.seen) == seen, "the gateway was not asked again"
    assert door.shop_db.scalar("SELECT count(*) FROM audit_log") == audit
    assert door.row(payment_id)[0] == "succeeded"
    assert [f[0] for f in door.filed()] == ["evt_Replayed1"]


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "t=1,v1=00",
        "forged",
        stripe_header(b"{}"),  # a good signature of another body
    ],
)
async def test_a_bad_signature_is_400_and_changes_nothing(door: Door, signature: str) -> None:
    order_id, payment_id = await door.lost_charge()
    body = envelope("payment_intent.succeeded", door.intent_of(order_id), "evt_Forged1")
    seen = len(door.proxy.seen)

    answer = await door.post(body, signature)

    assert answer.status_code == 400
    assert door.row(payment_id) == ("pending", None)
    assert door.order(order_id) == ("placed", 0, 0)
    assert door.filed() == []
    assert len(door.proxy.seen) == seen


async def test_a_signature_older_than_five_minutes_or_with_another_secret_is_400(door: Door) -> None:
    order_id, payment_id = await door.lost_charge()
    body = envelope("payment_intent.succeeded", door.intent_of(order_id), "evt_Stale1")

    stale = await door.post(body, stripe_header(body, at=int(time.time()) - 301))
    other = await door.post(body, stripe_header(body, secret=OTHER_WHSEC))

    assert (stale.status_code, other.status_code) == (400, 400)
    assert door.row(payment_id) == ("pending", None)
    assert door.filed() == []


async def test_a_failed_event_arriving_out_of_order_cannot_undo_the_gateways_success(door: Door) -> None:
    order_id, payment_id = await door.lost_charge()
    intent = door.intent_of(order_id)
    # What a payment_failed event carries: the intent as it was when an attempt failed.
    failed = intent | {"status": "requires_payment_method", "last_payment_error": {"code": "card_declined"}}

    first = await door.post(envelope("payment_intent.payment_failed", failed, "evt_Failed1"))

    assert first.status_code == 200
    assert door.row(payment_id) == ("succeeded", intent["id"]), "re-read: the gateway says it succeeded"
    assert door.order(order_id) == ("paid", 2 * PRICE, 0)

    # Later still, the same stale word again under another event id: the settled row stays as it is.
    seen = len(door.proxy.seen)
    late = await door.post(envelope("payment_intent.payment_failed", failed, "evt_Failed2"))
    assert (late.status_code, late.json()["outcome"]) == (200, "unchanged")
    assert len(door.proxy.seen) == seen
    assert door.row(payment_id)[0] == "succeeded"


async def test_an_event_about_an_object_the_shop_never_made_is_acknowledged(door: Door) -> None:
    # An intent made at the gateway by someone else (no metadata of the shop's).
    async with httpx.AsyncClient(timeout=5) as client:
        made = await client.post(
            f"{door.localstripe.url}/v1/payment_intents",
            data={"amount": "999", "currency": "eur", "payment_method": "pm_card_visa", "confirm": "true"},
            headers=door.localstripe.auth,
        )
    made.raise_for_status()
    order_id, payment_id = await door.lost_charge()

    answer = await door.post(envelope("payment_intent.succeeded", made.json(), "evt_Stranger1"))

    assert (answer.status_code, answer.json()["outcome"]) == (200, "unknown")
    assert door.row(payment_id) == ("pending", None), "nothing of the shop's changed"
    assert door.order(order_id)[0] == "placed"
    assert door.filed() == [("evt_Stranger1", "payment_intent.succeeded", "unknown")]


async def test_a_type_the_shop_does_not_act_on_is_acknowledged_and_not_filed(door: Door) -> None:
    body = envelope("customer.created", {"id": "cus_Someone", "object": "customer"}, "evt_Customer1")

    answer = await door.post(body)

    assert (answer.status_code, answer.json()["outcome"]) == (200, "ignored")
    assert door.filed() == []


async def test_localstripe_keeps_refund_metadata_and_charge_refunded_settles_a_pending_refund(door: Door) -> None:
    order_id = await door.place()
    paid = await door.payments.record(
        PaymentCreate(order_id=order_id, method="card", payment_method="pm_card_visa"), actor="test"
    )
    assert isinstance(paid, Success)
    door.proxy.inject(*("lost",) * ATTEMPTS)
    refund = RefundCreate(order_id=order_id, amount=PRICE, reason="broken", restock=False)
    refunded = await door.payments.refund(refund, actor="test", approval=PersonConfirmed())
    assert isinstance(refunded, Success)
    [pending] = refunded.value.refunds
    assert door.row(pending.id) == ("pending", None)
    [made] = door.localstripe.list("refunds")
    assert _meta(made) == {"order_id": order_id, "refund_id": pending.id}, "localstripe keeps refund metadata"
    charge = door.localstripe.get("charges", str(made["charge"]))  # lists its refunds, metadata included

    answer = await door.post(envelope("charge.refunded", charge, "evt_Refunded1"))

    assert (answer.status_code, answer.json()["outcome"]) == (200, "settled")
    assert door.row(pending.id) == ("succeeded", made["id"])
    assert door.order(order_id) == ("paid", 2 * PRICE, PRICE)
    assert len(door.localstripe.list("refunds")) == 1, "asked again with its key: refunded once"
    assert door.filed() == [("evt_Refunded1", "charge.refunded", f"settled: {pending.id} succeeded")]


async def test_a_refund_event_for_a_refund_already_booked_changes_nothing(door: Door) -> None:
    order_id = await door.place()
    paid = await door.payments.record(
        PaymentCreate(order_id=order_id, method="card", payment_method="pm_card_visa"), actor="test"
    )
    assert isinstance(paid, Success)
    refund = RefundCreate(order_id=order_id, amount=500, reason="scratched", restock=False)
    assert isinstance(await door.payments.refund(refund, actor="test", approval=PersonConfirmed()), Success)
    [made] = door.localstripe.list("refunds")
    seen = len(door.proxy.seen)

    answer = await door.post(envelope("refund.updated", made, "evt_RefundUpdated1"))

    assert (answer.status_code, answer.json()["outcome"]) == (200, "unchanged")
    assert len(door.proxy.seen) == seen
    assert door.order(order_id) == ("paid", 2 * PRICE, 500)


async def test_a_gateway_that_cannot_be_reached_for_the_re_read_is_503_and_the_event_comes_again(
    door: Door,
) -> None:
    order_id, payment_id = await door.lost_charge()
    body = envelope("payment_intent.succeeded", door.intent_of(order_id), "evt_Unreachable1")
    door.proxy.inject(*("503",) * BACKEND_ATTEMPTS)

    refused = await door.post(body)

    assert refused.status_code == 503
    assert door.row(payment_id) == ("pending", None)
    assert door.order(order_id) == ("placed", 0, 0)
    assert door.filed() == [], "not taken: the gateway's retry is not a replay"

    retried = await door.post(body)

    assert (retried.status_code, retried.json()["outcome"]) == (200, "settled")
    assert door.row(payment_id)[0] == "succeeded"
    assert door.charged(order_id) == [2 * PRICE]


def _object_id(event: Json) -> object:
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return obj.get("id") if isinstance(obj, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
