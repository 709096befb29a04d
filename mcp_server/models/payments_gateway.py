"""What a card-payment gateway answered, as plain values.

The gateway client turns every answer (and every failure to get one) into one of these; it
never raises for a declined card, a rejected request or an unreachable gateway. None of them
carries the gateway's secret key.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GatewayPayment:
    """A payment intent as the gateway holds it (``status`` is the gateway's own word, e.g. ``succeeded``)."""

    id: str
    status: str
    amount_minor: int
    currency: str  # upper-case ISO 4217, as the rest of the shop spells it
    charge_id: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayRefund:
    id: str
    status: str
    amount_minor: int
    charge_id: str | None = None


@dataclass(frozen=True, slots=True)
class CardDeclined:
    """The card was refused (HTTP 402). Retrying with the same card will not help."""

    code: str
    message: str
    decline_code: str | None = None
    payment_id: str | None = None
    charge_id: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayRejected:
    """The gateway refused the request itself (a 4xx other than 402 and 429): fix the request, do not retry."""

    status: int
    code: str | None
    message: str


@dataclass(frozen=True, slots=True)
class GatewayUnavailable:
    """No answer could be had after the client's own retries: timeout, connection error, 429 or 5xx.

    The outcome of the request is unknown; repeating it later with the same idempotency key
    is safe and returns what the gateway did the first time, if it did anything.
    """

    reason: str
    retry_after_s: float | None = None
    stored_failure: bool = False
    """The gateway replays a server error it keeps for this key: asking again will never tell more."""


PaymentOutcome = GatewayPayment | CardDeclined | GatewayRejected | GatewayUnavailable
RefundOutcome = GatewayRefund | CardDeclined | GatewayRejected | GatewayUnavailable
RetrieveOutcome = GatewayPayment | GatewayRejected | GatewayUnavailable
