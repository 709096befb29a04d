"""The gateway's webhooks on fakes: the signature check, reading an event, and the use case that
settles what an event names by asking the gateway again (never by believing the event).

A charge or refund whose answer was ``lost`` is one the gateway made while the shop heard nothing:
the row is pending, and the event is what tells the shop to look now.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from mcp_server.handlers.http.webhooks import MAX_BODY_BYTES, stripe_webhook_route
from mcp_server.handlers.mcp.context import ServiceRegistry
from mcp_server.models.gateway_events import GatewayEvent, parse_stripe_event
from mcp_server.models.payments import PaymentCreate, RefundCreate
from mcp_server.models.payments_gateway import RefundOutcome
from mcp_server.services.approvals import PersonConfirmed
from mcp_server.services.payments import CardNotCharged, EventTaken, PaymentService
from mcp_server.services.results import Success, Unavailable
from mcp_server.utils import stripe_signature
from mcp_server.utils.stripe_signature import sign, verify
from tests.fakes import FakeClock, FakeGateway, FakeUnitOfWorkFactory
from tests.unit.commerce import ACTOR, World, card_world, placed
from tests.unit.tool_support import services_of

pytestmark = pytest.mark.anyio

SECRET = "whsec_test_0123456789abcdef"
OTHER_SECRET = "whsec_another_endpoint"
NOW = 1_790_000_000
BODY = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'
WEBHOOK = "webhook:stripe"


def header(body: bytes = BODY, *, at: int = NOW, secret: str = SECRET) -> str:
    return f"t={at},v1={sign(body, secret, at)}"


# -- the signature ---------------------------------------------------------------------------------


def test_a_signature_made_with_the_secret_over_the_raw_body_is_accepted() -> None:
    assert verify(BODY, header(), SECRET, now=NOW) is None
    # Stripe's own scheme, spelled out: HMAC-SHA256 of "t.body" keyed with the whole whsec_ string.
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert verify(BODY, f"t={NOW},v1={expected}", SECRET, now=NOW) is None


def test_any_one_of_several_v1_signatures_is_enough_and_v0_is_ignored() -> None:
    good = sign(BODY, SECRET, NOW)
    rolled = sign(BODY, "whsec_the_old_one", NOW)
    assert verify(BODY, f"t={NOW},v1={rolled},v1={good}", SECRET, now=NOW) is None
    assert verify(BODY, f"t={NOW}, v0=abc, v1={good}", SECRET, now=NOW) is None
    assert verify(BODY, f"t={NOW},v0={good}", SECRET, now=NOW) == "no_v1"


@pytest.mark.parametrize(
    ("signed", "sent", "secret"),
    [
        (BODY, BODY + b" ", SECRET),  # one byte more than was signed
        (BODY, BODY.replace(b"evt_1", b"evt_2"), SECRET),
        (BODY, BODY, OTHER_SECRET),
    ],
)
def test_a_changed_body_or_another_secret_is_a_mismatch(signed: bytes, sent: bytes, secret: str) -> None:
    assert verify(sent, header(signed), secret, now=NOW) == "mismatch"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (None, "missing"),
        ("", "missing"),
        ("v1=abc", "malformed"),  # no timestamp
        (f"t={NOW}", "no_v1"),
        (f"t=12x,v1={sign(BODY, SECRET, NOW)}", "malformed"),
        (f"t=-{NOW},v1=abc", "malformed"),
        (f"t={NOW},t={NOW},v1={sign(BODY, SECRET, NOW)}", "malformed"),
        (f"t={NOW},v1", "malformed"),
        (f"t={NOW},v1=é∂ƒ", "mismatch"),  # not hex, not ASCII: compared as bytes, no crash
        (f"t={NOW}," + ",".join(["v1=00"] * 17), "malformed"),
        (f"t={NOW},v1=" + "a" * 5000, "malformed"),
        (f"t={'9' * 40},v1=abc", "malformed"),
    ],
)
def test_a_missing_or_malformed_header_is_refused(value: str | None, why: str) -> None:
    assert verify(BODY, value, SECRET, now=NOW) == why


def test_the_timestamp_must_be_within_five_minutes_either_way() -> None:
    assert verify(BODY, header(at=NOW - 300), SECRET, now=NOW) is None
    assert verify(BODY, header(at=NOW + 300), SECRET, now=NOW) is None
    assert verify(BODY, header(at=NOW - 301), SECRET, now=NOW) == "too_old"
    assert verify(BODY, header(at=NOW + 301), SECRET, now=NOW) == "too_old"
    assert stripe_signature.TOLERANCE_S == 300


# -- reading an event ------------------------------------------------------------------------------


def envelope(event_type: str, obj: dict[str, object], event_id: str = "evt_1") -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "data": {"object": obj}}).encode()


def intent(intent_id: str, payment_id: str | None, status: str = "succeeded") -> dict[str, object]:
    metadata = {"order_id": "ord_1"} | ({"payment_id": payment_id} if payment_id else {})
    return {"id": intent_id, "object": "payment_intent", "status": status, "amount": 3000, "metadata": metadata}


def charge(intent_id: str, refunds: list[tuple[str, str | None]]) -> dict[str, object]:
    listed = [
        {"id": re, "object": "refund", "metadata": {"refund_id": ref} if ref else {}, "status": "succeeded"}
        for re, ref in refunds
    ]
    return {"id": "ch_1", "object": "charge", "payment_intent": intent_id, "metadata": {}, "refunds": {"data": listed}}


def refund_object(re: str, refund_id: str | None, intent_id: str = "pi_1") -> dict[str, object]:
    metadata = {"refund_id": refund_id} if refund_id else {}
    return {"id": re, "object": "refund", "status": "succeeded", "payment_intent": intent_id, "metadata": metadata}


def event_of(body: bytes) -> GatewayEvent:
    event = parse_stripe_event(body)
    assert event is not None
    return event


def test_a_payment_intent_event_names_its_payment_and_the_intent() -> None:
    event = event_of(envelope("payment_intent.succeeded", intent("pi_A1", "pay_01")))
    assert (event.id, event.type, event.subject, event.object_id) == (
        "evt_1",
        "payment_intent.succeeded",
        "payment",
        "pi_A1",
    )
    assert (event.payment_ids, event.refund_ids, event.references) == (("pay_01",), (), ("pi_A1",))


def test_a_charge_refunded_event_names_the_intent_and_each_listed_refund() -> None:
    event = event_of(envelope("charge.refunded", charge("pi_A1", [("re_1", "ref_01"), ("re_2", None)])))
    assert event.subject == "refund"
    assert event.refund_ids == ("ref_01",)
    assert event.references == ("pi_A1", "re_1", "re_2")


def test_a_refund_event_names_the_refund_its_gateway_id_and_its_intent() -> None:
    event = event_of(envelope("refund.updated", refund_object("re_9", "ref_09", "pi_A1")))
    assert (event.subject, event.refund_ids, event.references) == ("refund", ("ref_09",), ("re_9", "pi_A1"))


def test_metadata_that_is_not_a_shop_id_of_the_right_kind_names_nothing() -> None:
    for bad in ("ref_01", "pay_01; DROP", "pay_" + "x" * 60, "", "PAY_01"):
        event = event_of(envelope("payment_intent.succeeded", intent("pi_A1", bad)))
        assert event.payment_ids == (), bad
    weird = envelope("payment_intent.succeeded", {"id": "pi/../x", "object": "payment_intent", "metadata": []})
    assert event_of(weird).references == ()


def test_a_type_the_shop_does_not_act_on_is_read_without_a_subject() -> None:
    event = event_of(envelope("customer.created", {"id": "cus_1", "object": "customer"}))
    assert event.subject is None


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"type": "payment_intent.succeeded"}', b'{"id": "evt 1", "type": "x"}',
     b'{"id": "evt_1", "type": 3}', b"[" * 100_000],
)  # fmt: skip
def test_a_body_that_is_not_an_event_reads_as_none(body: bytes) -> None:
    assert parse_stripe_event(body) is None


# -- the use case ----------------------------------------------------------------------------------


@pytest.fixture
async def world() -> World:
    return await card_world(FakeGateway())


async def take(world: World, body: bytes) -> EventTaken | Unavailable:
    return await world.shop.payments.take_gateway_event(event_of(body), actor=WEBHOOK)


async def lost_charge(world: World) -> tuple[str, str]:
    """An order whose card payment the gateway made while its answer was lost: (order id, payment id)."""
    order_id = await placed(world)
    world.gateway.faults.append("lost")
    result = await world.shop.payments.record(
        PaymentCreate(order_id=order_id, method="card", payment_method="pm_card_visa"), actor=ACTOR
    )
    assert isinstance(result, CardNotCharged)
    assert result.pending
    return order_id, result.payment.id


async def card_paid(world: World) -> tuple[str, str]:
    order_id = await placed(world)
    result = await world.shop.payments.record(
        PaymentCreate(order_id=order_id, method="card", payment_method="pm_card_visa"), actor=ACTOR
    )
    assert isinstance(result, Success), result
    return order_id, result.value.payment.id


async def lost_refund(world: World, order_id: str, amount: int = 1000) -> str:
    world.gateway.faults.append("lost")
    request = RefundCreate(order_id=order_id, amount=amount, reason="broken", restock=False)
    result = await world.shop.payments.refund(request, actor=ACTOR, approval=PersonConfirmed())
    assert isinstance(result, Success), result
    [row] = result.value.refunds
    assert world.shop.db.payments[-1].status == "pending"
    return row.id


def row(world: World, row_id: str):
    return next(p for p in world.shop.db.payments if p.id == row_id)


async def test_a_succeeded_event_settles_a_pending_payment_at_once_charging_nothing_again(world: World) -> None:
    order_id, payment_id = await lost_charge(world)
    charged_before = dict(world.gateway.charged)

    taken = await take(world, envelope("payment_intent.succeeded", intent("pi_1", payment_id)))

    assert isinstance(taken, EventTaken), taken
    assert taken.outcome == "settled"
    assert (row(world, payment_id).status, row(world, payment_id).gateway_reference) == ("succeeded", "pi_1")
    assert world.shop.db.orders[order_id].status == "paid"
    assert world.gateway.charged == charged_before, "asked again with the first key: no second charge"
    assert world.gateway.sent[f"shopkeeper-{payment_id}"] == 2
    filed = world.shop.db.webhook_events["evt_1"]
    assert (filed.event_type, filed.outcome) == ("payment_intent.succeeded", f"settled: {payment_id} succeeded")
    actors = {e.actor for e in world.shop.db.audit if e.entity_id == order_id and e.action == "payment.recorded"}
    assert actors == {WEBHOOK}


async def test_a_replayed_event_is_acknowledged_and_changes_nothing(world: World) -> None:
    _, payment_id = await lost_charge(world)
    body = envelope("payment_intent.succeeded", intent("pi_1", payment_id))
    await take(world, body)
    calls, audit, commits = world.gateway.calls, len(world.shop.db.audit), world.shop.db.commits

    again = await take(world, body)

    assert isinstance(again, EventTaken)
    assert again.outcome == "replayed"
    assert again.first is not None
    assert again.first.outcome.startswith("settled")
    assert (world.gateway.calls, len(world.shop.db.audit), world.shop.db.commits) == (calls, audit, commits)


async def test_a_failed_event_cannot_fail_a_payment_the_gateway_says_succeeded(world: World) -> None:
    order_id, payment_id = await lost_charge(world)

    taken = await take(world, envelope("payment_intent.payment_failed", intent("pi_1", payment_id, "failed")))

    assert isinstance(taken, EventTaken)
    assert row(world, payment_id).status == "succeeded", "the gateway's own answer, not the event's word"
    assert world.shop.db.orders[order_id].status == "paid"


async def test_a_late_failed_event_leaves_a_settled_payment_alone_without_asking_the_gateway(world: World) -> None:
    order_id, payment_id = await card_paid(world)
    calls = world.gateway.calls

    taken = await take(world, envelope("payment_intent.payment_failed", intent("pi_1", payment_id, "failed")))

    assert isinstance(taken, EventTaken)
    assert taken.outcome == "unchanged"
    assert world.gateway.calls == calls
    assert (row(world, payment_id).status, world.shop.db.orders[order_id].status) == ("succeeded", "paid")
    assert world.shop.db.webhook_events["evt_1"].outcome == "unchanged"


async def test_a_gateway_that_cannot_be_asked_leaves_everything_and_files_nothing(world: World) -> None:
    order_id, payment_id = await lost_charge(world)
    body = envelope("payment_intent.succeeded", intent("pi_1", payment_id))
    world.gateway.faults.append("down")

    refused = await take(world, body)

    assert isinstance(refused, Unavailable)
    assert payment_id in refused.message
    assert row(world, payment_id).status == "pending"
    assert world.shop.db.orders[order_id].status == "placed"
    assert world.shop.db.webhook_events == {}
    # The gateway sends it again later: now it settles.
    taken = await take(world, body)
    assert isinstance(taken, EventTaken)
    assert taken.outcome == "settled"
    assert row(world, payment_id).status == "succeeded"


async def test_an_event_about_nothing_of_the_shops_is_acknowledged_and_filed(world: World) -> None:
    _, payment_id = await lost_charge(world)
    commits = world.shop.db.commits

    taken = await take(world, envelope("payment_intent.succeeded", intent("pi_Elsewhere", "pay_0000000000000000009")))

    assert isinstance(taken, EventTaken)
    assert taken.outcome == "unknown"
    assert row(world, payment_id).status == "pending"
    assert world.shop.db.commits == commits + 1  # the filing only
    assert world.shop.db.webhook_events["evt_1"].outcome == "unknown"


async def test_a_manual_payment_named_by_an_event_is_not_the_gateways_to_settle(world: World) -> None:
    order_id = await placed(world)
    paid = await world.shop.payments.record(PaymentCreate(order_id=order_id, method="cash"), actor=ACTOR)
    assert isinstance(paid, Success)

    taken = await take(world, envelope("payment_intent.payment_failed", intent("pi_1", paid.value.payment.id)))

    assert isinstance(taken, EventTaken)
    assert taken.outcome == "unknown"


async def test_a_type_the_shop_does_not_act_on_is_acknowledged_and_not_filed(world: World) -> None:
    taken = await take(world, envelope("customer.created", {"id": "cus_1", "object": "customer"}))

    assert isinstance(taken, EventTaken)
    assert taken.outcome == "ignored"
    assert world.shop.db.webhook_events == {}


async def test_charge_refunded_settles_a_pending_refund_named_by_its_metadata(world: World) -> None:
    order_id, _ = await card_paid(world)
    refund_id = await lost_refund(world, order_id)
    assert world.shop.db.orders[order_id].refunded_minor == 0

    taken = await take(world, envelope("charge.refunded", charge("pi_Other", [("re_2", refund_id)])))

    assert isinstance(taken, EventTaken)
    assert taken.outcome == "settled"
    assert row(world, refund_id).status == "succeeded"
    assert world.shop.db.orders[order_id].refunded_minor == 1000
    assert sum(world.gateway.refunded.values()) == 1000, "refunded once"


async def test_a_refund_event_without_metadata_settles_the_pending_refunds_of_the_payment_it_names(
    world: World,
) -> None:
    order_id, payment_id = await card_paid(world)
    refund_id = await lost_refund(world, order_id, 500)
    assert row(world, payment_id).gateway_reference == "pi_1"

    taken = await take(world, envelope("refund.updated", refund_object("re_Unknown", None, "pi_1")))

    assert isinstance(taken, EventTaken)
    assert [s.row.id for s in taken.settled] == [refund_id]
    assert row(world, refund_id).status == "succeeded"
    assert world.shop.db.orders[order_id].refunded_minor == 500


async def test_a_refund_event_never_touches_a_pending_payment(world: World) -> None:
    _, payment_id = await lost_charge(world)

    taken = await take(world, envelope("refund.updated", refund_object("re_1", None, "pi_1")))

    assert isinstance(taken, EventTaken)
    assert taken.outcome == "unknown"
    assert row(world, payment_id).status == "pending"


class MetadataGateway(FakeGateway):
    """Also keeps the metadata each refund request carried."""

    def __init__(self) -> None:
        super().__init__()
        self.refund_metadata: list[dict[str, str]] = []

    async def refund(
        self, payment_ref: str, amount_minor: int, idempotency_key: str, metadata: Mapping[str, str] | None = None
    ) -> RefundOutcome:
        self.refund_metadata.append(dict(metadata or {}))
        return await super().refund(payment_ref, amount_minor, idempotency_key, metadata)


async def test_the_refund_request_carries_the_refund_id_as_metadata() -> None:
    gateway = MetadataGateway()
    world = await card_world(gateway)
    order_id, _ = await card_paid(world)
    refund_id = await lost_refund(world, order_id)

    assert gateway.refund_metadata == [{"order_id": order_id, "refund_id": refund_id}]


async def test_an_event_arriving_while_the_shops_own_request_is_in_flight_leaves_the_row_to_it(
    world: World,
) -> None:
    order_id = await placed(world)
    world.gateway.gate = anyio.Event()
    outcome: list[object] = []

    async def pay() -> None:
        request = PaymentCreate(order_id=order_id, method="card", payment_method="pm_card_visa")
        outcome.append(await world.shop.payments.record(request, actor=ACTOR))

    taken: list[EventTaken | Unavailable] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(pay)
        await anyio.wait_all_tasks_blocked()  # the charge is at the gateway, its answer held
        assert sum(world.gateway.sent.values()) == 1
        payment_id = world.shop.db.payments[-1].id
        taken.append(await take(world, envelope("payment_intent.succeeded", intent("pi_1", payment_id))))
        world.gateway.gate.set()

    assert isinstance(taken[0], EventTaken)
    payment_id = world.shop.db.payments[-1].id
    assert [s.busy for s in taken[0].settled] == [True]
    assert "another request is asking" in world.shop.db.webhook_events["evt_1"].outcome
    assert isinstance(outcome[0], Success)
    assert row(world, payment_id).status == "succeeded"
    assert world.gateway.sent[f"shopkeeper-{payment_id}"] == 1, "the event sent nothing"


async def test_pending_rows_with_no_gateway_configured_are_unavailable_not_acknowledged(world: World) -> None:
    _, payment_id = await lost_charge(world)
    shop = world.shop
    without = PaymentService(FakeUnitOfWorkFactory(shop.db), shop.clock, shop.ids, shop.desk, ZoneInfo("UTC"))

    refused = await without.take_gateway_event(
        event_of(envelope("payment_intent.succeeded", intent("pi_1", payment_id))), actor=WEBHOOK
    )

    assert isinstance(refused, Unavailable)
    assert refused.remedy == "set SHOPKEEPER_STRIPE_SECRET_KEY"
    assert shop.db.webhook_events == {}


# -- the route, on fakes ---------------------------------------------------------------------------


def app_for(world: World, secret: str | None) -> Starlette:
    registry = services_of(world.shop)

    async def services() -> ServiceRegistry:
        return registry

    provider: Callable[[], Awaitable[ServiceRegistry]] = services
    return Starlette(routes=[stripe_webhook_route(provider, secret, FakeClock(datetime.fromtimestamp(NOW, UTC)))])


async def post(app: Starlette, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop.test") as client:
        return await client.post("/webhooks/stripe", content=body, headers=headers)


async def test_without_a_secret_the_route_answers_503_and_says_why_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_for(world, None)
    with caplog.at_level(logging.WARNING, logger="mcp_server.webhooks"):
        first = await post(app, BODY, {"Stripe-Signature": header()})
        second = await post(app, BODY, {"Stripe-Signature": header()})

    assert (first.status_code, second.status_code) == (503, 503)
    said = [r.getMessage() for r in caplog.records if "SHOPKEEPER_STRIPE_WEBHOOK_SECRET" in r.getMessage()]
    assert len(said) == 1


async def test_a_body_over_one_mebibyte_is_refused_before_it_is_checked(world: World) -> None:
    app = app_for(world, SECRET)
    big = b"x" * (MAX_BODY_BYTES + 1)
    response = await post(app, big, {"Stripe-Signature": header(big)})
    assert response.status_code == 413


async def test_the_route_settles_and_never_logs_the_secret(world: World, caplog: pytest.LogCaptureFixture) -> None:
    order_id, payment_id = await lost_charge(world)
    app = app_for(world, SECRET)
    body = envelope("payment_intent.succeeded", intent("pi_1", payment_id))
    with caplog.at_level(logging.DEBUG):
        refused = await post(app, body, {"Stripe-Signature": header(body, secret=OTHER_SECRET)})
        stale = await post(app, body, {"Stripe-Signature": header(body, at=NOW - 301)})
        assert world.shop.db.orders[order_id].status == "placed"
        taken = await post(app, body, {"Stripe-Signature": header(body)})
        again = await post(app, body, {"Stripe-Signature": header(body)})
        junk = b"not an event"
        unreadable = await post(app, junk, {"Stripe-Signature": header(junk)})

    assert (refused.status_code, stale.status_code, unreadable.status_code) == (400, 400, 400)
    assert (taken.status_code, taken.json()) == (200, {"received": True, "outcome": "settled"})
    assert (again.status_code, again.json()["outcome"]) == (200, "replayed")
    assert world.shop.db.orders[order_id].status == "paid"
    assert SECRET not in caplog.text
