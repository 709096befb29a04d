"""The payment-gateway client against localstripe, through a proxy that injects network faults.

Every charge test counts what reached localstripe (its own list of payment intents, and the
proxy's count of POSTs forwarded per idempotency key): retries must never charge twice.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from mcp_server.clients.payment_gateway import RetryPolicy, StripePaymentGateway
from mcp_server.models.payments_gateway import (
    CardDeclined,
    GatewayPayment,
    GatewayRefund,
    GatewayRejected,
    GatewayUnavailable,
)
from tests.integration.stripe_standin import (
    BASE_DELAY_S,
    SECRET,
    Fault,
    FaultProxy,
    LocalStripe,
    Sleeps,
)

pytestmark = pytest.mark.anyio


def make_gateway(http: httpx.AsyncClient, base_url: str, sleeps: Sleeps) -> StripePaymentGateway:
    return StripePaymentGateway(
        http,
        secret_key=SECRET,
        base_url=base_url,
        retry=RetryPolicy(attempts=3, base_delay_s=BASE_DELAY_S, max_delay_s=2.0),
        sleep=sleeps,
    )


@pytest.fixture
def gateway(gateway_http: httpx.AsyncClient, proxy: FaultProxy, sleeps: Sleeps) -> StripePaymentGateway:
    return make_gateway(gateway_http, proxy.url, sleeps)


async def charge(gateway: StripePaymentGateway, key: str, *, method: str = "pm_card_visa", amount: int = 1250):
    return await gateway.create_and_confirm_payment(amount, "EUR", method, key, {"order_id": f"ord_{key}"})


def intents_for(localstripe: LocalStripe, key: str) -> list[dict[str, object]]:
    return [pi for pi in localstripe.list("payment_intents") if pi["metadata"] == {"order_id": f"ord_{key}"}]


async def test_a_visa_card_is_charged_once(
    gateway: StripePaymentGateway, proxy: FaultProxy, localstripe: LocalStripe
) -> None:
    outcome = await charge(gateway, "k-visa")

    assert isinstance(outcome, GatewayPayment)
    assert (outcome.status, outcome.amount_minor, outcome.currency) == ("succeeded", 1250, "EUR")
    assert outcome.charge_id is not None
    assert outcome.charge_id.startswith("ch_")
    [intent] = intents_for(localstripe, "k-visa")
    assert (intent["id"], intent["amount"], intent["currency"], intent["status"]) == (
        outcome.id,
        1250,
        "eur",
        "succeeded",
    )
    [request] = proxy.seen
    assert (request.method, request.path, request.idempotency_key) == ("POST", "/v1/payment_intents", "k-visa")
    assert request.authorization == f"Bearer {SECRET}"
    assert b"confirm=true" in request.body
    assert b"currency=eur" in request.body


async def test_retrieve_reads_back_the_payment_and_retries_a_get(
    gateway: StripePaymentGateway, proxy: FaultProxy
) -> None:
    created = await charge(gateway, "k-read")
    assert isinstance(created, GatewayPayment)
    proxy.inject("503")

    assert await gateway.retrieve_payment(created.id) == created
    assert [s.fault for s in proxy.seen] == [None, "503", None]

    missing = await gateway.retrieve_payment("pi_doesnotexist")
    assert isinstance(missing, GatewayRejected)
    assert missing.status == 404


async def test_a_declined_card_is_reported_not_retried(
    gateway: StripePaymentGateway, proxy: FaultProxy, localstripe: LocalStripe
) -> None:
    outcome = await charge(gateway, "k-declined", method="pm_card_chargeCustomerFail")

    assert isinstance(outcome, CardDeclined)
    assert outcome.code == "card_declined"
    assert outcome.message == "Your card was declined."
    assert outcome.charge_id is not None
    assert outcome.charge_id.startswith("ch_")
    assert len(proxy.seen) == 1
    [intent] = intents_for(localstripe, "k-declined")
    assert intent["status"] == "requires_payment_method"


@pytest.mark.parametrize("fault", ["reset", "timeout", "409", "429", "500", "503", "lost"])
async def test_one_fault_is_retried_with_the_same_key_and_charges_once(
    fault: Fault, gateway: StripePaymentGateway, proxy: FaultProxy, localstripe: LocalStripe, sleeps: Sleeps
) -> None:
    key = f"k-once-{fault}"
    proxy.inject(fault)

    outcome = await charge(gateway, key)

    assert isinstance(outcome, GatewayPayment)
    assert outcome.status == "succeeded"
    assert [s.fault for s in proxy.seen] == [fault, None]
    assert all(s.idempotency_key == key for s in proxy.seen if s.method == "POST")
    assert proxy.seen[-1].idempotency_key == key
    [intent] = intents_for(localstripe, key)
    assert intent["id"] == outcome.id
    assert proxy.upstream_posts == {key: 1}
    assert proxy.seen[-1].replayed is (fault in ("timeout", "lost"))  # the first try had already charged
    assert sleeps.delays == [1.0 if fault == "429" else BASE_DELAY_S]  # Retry-After: 1 is honoured


@pytest.mark.parametrize("fault", ["reset", "timeout", "503", "lost"])
async def test_when_retries_run_out_a_later_call_with_the_key_gets_the_same_single_charge(
    fault: Fault, gateway: StripePaymentGateway, proxy: FaultProxy, localstripe: LocalStripe, sleeps: Sleeps
) -> None:
    key = f"k-exhausted-{fault}"
    proxy.inject(fault, fault, fault)

    first = await charge(gateway, key)

    assert isinstance(first, GatewayUnavailable)
    assert len(proxy.seen) == 3
    assert proxy.pending_faults == 0
    assert sleeps.delays == [BASE_DELAY_S, BASE_DELAY_S * 2]
    charged_before = intents_for(localstripe, key)
    assert len(charged_before) == (1 if fault in ("timeout", "lost") else 0)

    later = await charge(gateway, key)

    assert isinstance(later, GatewayPayment)
    assert later.status == "succeeded"
    [intent] = intents_for(localstripe, key)
    assert intent["id"] == later.id
    if charged_before:
        assert charged_before[0]["id"] == later.id
    assert proxy.upstream_posts == {key: 1}
    assert {s.idempotency_key for s in proxy.seen if s.method == "POST"} == {key}


async def test_a_long_retry_after_is_reported_instead_of_waited_for(
    gateway: StripePaymentGateway, proxy: FaultProxy, localstripe: LocalStripe, sleeps: Sleeps
) -> None:
    proxy.retry_after = "120"
    proxy.inject("429")

    outcome = await charge(gateway, "k-slow-down")

    assert outcome == GatewayUnavailable("the payment gateway answered 429", 120.0)
    assert len(proxy.seen) == 1
    assert sleeps.delays == []
    assert intents_for(localstripe, "k-slow-down") == []


async def test_an_unreachable_gateway_is_unavailable_after_bounded_retries(
    gateway_http: httpx.AsyncClient, sleeps: Sleeps, unreachable_url: str
) -> None:
    gateway = make_gateway(gateway_http, unreachable_url, sleeps)

    outcome = await charge(gateway, "k-nowhere")

    assert outcome == GatewayUnavailable("could not reach the payment gateway (ConnectError)")
    assert sleeps.delays == [BASE_DELAY_S, BASE_DELAY_S * 2]


async def test_refunds_are_replayed_per_key_and_never_exceed_the_charge(
    gateway: StripePaymentGateway, proxy: FaultProxy, localstripe: LocalStripe
) -> None:
    payment = await charge(gateway, "k-refunded", amount=1000)
    assert isinstance(payment, GatewayPayment)
    assert payment.charge_id is not None

    proxy.inject("lost")
    first = await gateway.refund(payment.id, 400, "r-1")
    again = await gateway.refund(payment.id, 400, "r-1")
    rest = await gateway.refund(payment.charge_id, 600, "r-2")

    assert isinstance(first, GatewayRefund)
    assert (first.status, first.amount_minor, first.charge_id) == ("succeeded", 400, payment.charge_id)
    assert again == first
    assert isinstance(rest, GatewayRefund)
    assert rest.amount_minor == 600
    assert proxy.upstream_posts["r-1"] == 1
    refunds = [r for r in localstripe.list("refunds") if r["charge"] == payment.charge_id]
    assert len(refunds) == 2
    assert {r["id"] for r in refunds} == {first.id, rest.id}
    assert localstripe.get("charges", payment.charge_id)["amount_refunded"] == 1000


async def test_a_refund_the_gateway_refuses_is_rejected(gateway: StripePaymentGateway) -> None:
    declined = await charge(gateway, "k-declined-refund", method="pm_card_chargeCustomerFail")
    assert isinstance(declined, CardDeclined)
    assert declined.charge_id is not None

    outcome = await gateway.refund(declined.charge_id, 100, "r-declined")

    assert outcome == GatewayRejected(400, None, "Cannot refund a failed payment.")


async def test_the_secret_key_appears_in_no_outcome_or_log(
    gateway: StripePaymentGateway, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    proxy.inject("echo_401")
    rejected = await charge(gateway, "k-echo")
    proxy.inject("lost", "lost", "lost")
    unavailable = await charge(gateway, "k-secret-lost")
    declined = await charge(gateway, "k-secret-declined", method="pm_card_chargeCustomerFail")
    paid = await charge(gateway, "k-secret-paid")
    assert isinstance(paid, GatewayPayment)
    refunded = await gateway.refund(paid.id, 100, "r-secret")

    assert isinstance(rejected, GatewayRejected)
    assert rejected.status == 401
    assert rejected.message == "Invalid API Key provided: [secret key]"
    assert isinstance(unavailable, GatewayUnavailable)
    assert isinstance(declined, CardDeclined)
    assert isinstance(refunded, GatewayRefund)
    everything = [rejected, unavailable, declined, paid, refunded, gateway]
    assert not [o for o in everything if SECRET in repr(o) or SECRET in str(o)]
    assert "retrying" in caplog.text
    assert SECRET not in caplog.text
    with pytest.raises(ValueError, match="idempotency key") as raised:
        await gateway.create_and_confirm_payment(100, "EUR", "pm_card_visa", "")
    assert SECRET not in str(raised.value)
