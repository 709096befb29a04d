"""A card-payment client for a Stripe-compatible REST API, over an injected ``httpx.AsyncClient``.

Requests are form-encoded, authenticated with ``Authorization: Bearer <secret key>``, and every
POST carries an ``Idempotency-Key`` the caller chooses, so the gateway runs each charge or
refund at most once however often it is sent. Transient failures (timeouts, connection
errors, 409, 429, 5xx) are retried here under the one in-process policy (``clients.retry``),
always with the same key; what is left is returned as an outcome value
(``mcp_server.models.payments_gateway``), never raised. Connect and read timeouts are the
injected client's.

The secret key lives only in the request header: it is in no outcome, exception or log line.
Every string taken from an answer is scrubbed of the configured secrets (any letter case, any
common encoding) and bounded in length; an id that is not shaped like one, or that spells a
secret, makes the answer unreadable rather than being stored and shown.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeGuard

import anyio
import httpx

from mcp_server.clients.retry import RetryPolicy, Sleep, TryAgain, with_retries
from mcp_server.models.payments_gateway import (
    CardDeclined,
    GatewayPayment,
    GatewayRefund,
    GatewayRejected,
    GatewayUnavailable,
    PaymentOutcome,
    RefundOutcome,
    RetrieveOutcome,
)
from mcp_server.utils.secrets import Scrubber

DEFAULT_API_BASE = "https://api.stripe.com"

logger = logging.getLogger(__name__)

KEY_MARKER = "[secret key]"
CODE_LIMIT = 100
MESSAGE_LIMIT = 300
_ID = re.compile(r"[a-z]{1,16}_[A-Za-z0-9]{1,240}")
"""A gateway object id as Stripe writes them (pi_…, ch_…, re_…, py_…): it is stored and sent back in URLs."""
_STATUS = re.compile(r"[a-z][a-z_]{0,63}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")


class StripePaymentGateway:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        secret_key: str,
        base_url: str = DEFAULT_API_BASE,
        retry: RetryPolicy | None = None,
        sleep: Sleep = anyio.sleep,
        also_hide: Mapping[str, str] | None = None,
    ) -> None:
        """``also_hide``: the shop's other secrets (e.g. the e-mail token), each with the marker that
        replaces it, blanked out of answers too."""
        if not secret_key.strip():
            raise ValueError("the payment gateway needs a secret key")
        self._http = http
        self._base = base_url.rstrip("/")
        self._secret = secret_key
        self._scrub = Scrubber({**(also_hide or {}), secret_key: KEY_MARKER})
        self._retry = retry or RetryPolicy()
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"StripePaymentGateway(base_url={self._base!r})"

    async def create_and_confirm_payment(
        self,
        amount_minor: int,
        currency: str,
        payment_method: str,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> PaymentOutcome:
        """Create a payment intent and confirm it in one request (``confirm=true``)."""
        _check_amount(amount_minor)
        if len(currency) != 3 or not currency.isalpha():
            raise ValueError("currency must be a three-letter ISO 4217 code")
        if not payment_method:
            raise ValueError("payment_method is required")
        form = {
            "amount": str(amount_minor),
            "currency": currency.lower(),
            "payment_method": payment_method,
            "confirm": "true",
        }
        for key, value in (metadata or {}).items():
            form[f"metadata[{key}]"] = value
        answer = await self._send("POST", "/v1/payment_intents", form, idempotency_key)
        if isinstance(answer, GatewayUnavailable):
            return answer
        if answer.status_code == 200:
            return self._payment(answer)
        return self._failure(answer)

    async def retrieve_payment(self, intent_id: str) -> RetrieveOutcome:
        if not intent_id or "/" in intent_id:
            raise ValueError("a payment intent id is required")
        answer = await self._send("GET", f"/v1/payment_intents/{intent_id}", None, None)
        if isinstance(answer, GatewayUnavailable):
            return answer
        if answer.status_code == 200:
            return self._payment(answer)
        failure = self._failure(answer)
        if isinstance(failure, CardDeclined):  # a GET is never declined; treat a stray 402 as a refusal
            return GatewayRejected(answer.status_code, failure.code, failure.message)
        return failure

    async def refund(
        self,
        payment_ref: str,
        amount_minor: int,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> RefundOutcome:
        """Refund ``amount_minor`` of a payment intent (``pi_...``) or a charge (``ch_...``)."""
        _check_amount(amount_minor)
        if not payment_ref:
            raise ValueError("a payment intent or charge id is required")
        form = {
            "charge" if payment_ref.startswith("ch_") else "payment_intent": payment_ref,
            "amount": str(amount_minor),
        }
        for key, value in (metadata or {}).items():
            form[f"metadata[{key}]"] = value
        answer = await self._send("POST", "/v1/refunds", form, idempotency_key)
        if isinstance(answer, GatewayUnavailable):
            return answer
        if answer.status_code == 200:
            data = _json(answer)
            refund_id, status, amount = self._id(data.get("id")), data.get("status"), data.get("amount")
            if refund_id is None or not self._is_status(status) or not _is_int(amount):
                return GatewayUnavailable("the payment gateway's answer could not be read")
            return GatewayRefund(refund_id, status, amount, self._ref_id(data.get("charge")))
        return self._failure(answer)

    # -- the wire ---------------------------------------------------------------------------------

    async def _send(
        self, method: str, path: str, form: dict[str, str] | None, idempotency_key: str | None
    ) -> httpx.Response | GatewayUnavailable:
        headers = {"Authorization": f"Bearer {self._secret}", "Accept": "application/json"}
        if method == "POST":
            if not idempotency_key or not idempotency_key.strip():
                raise ValueError("every POST to the payment gateway needs an idempotency key")
            headers["Idempotency-Key"] = idempotency_key
        url = self._base + path

        async def once() -> httpx.Response | GatewayUnavailable | TryAgain[GatewayUnavailable]:
            try:
                response = await self._http.request(method, url, data=form, headers=headers)
            except httpx.TimeoutException:
                return TryAgain(GatewayUnavailable("the payment gateway did not answer in time"))
            except httpx.TransportError as exc:
                return TryAgain(GatewayUnavailable(f"could not reach the payment gateway ({type(exc).__name__})"))
            should_retry = response.headers.get("Stripe-Should-Retry", "").lower()
            # 409: another request with this key is still running (e.g. a retry racing the first).
            transient = response.status_code in (409, 429) or response.status_code >= 500 or should_retry == "true"
            if not transient:
                return response
            retry_after = _retry_after(response)
            if response.status_code >= 500 and response.headers.get("Idempotent-Replayed", "").lower() == "true":
                # Stripe keeps a request's 500 for its key: every retry would get the same answer.
                return GatewayUnavailable(
                    f"the payment gateway answered {response.status_code} to this request and repeats that "
                    "answer for its idempotency key",
                    stored_failure=True,
                )
            outcome = GatewayUnavailable(f"the payment gateway answered {response.status_code}", retry_after)
            return outcome if should_retry == "false" else TryAgain(outcome, retry_after)

        def retrying(outcome: GatewayUnavailable, delay: float, attempt: int) -> None:
            logger.warning(
                "payment gateway %s %s failed (%s); retrying in %.2fs, attempt %d of %d, idempotency key %s",
                method,
                path,
                outcome.reason,
                delay,
                attempt,
                self._retry.attempts,
                idempotency_key or "-",
            )

        # The same headers, so the same Idempotency-Key, on every try.
        return await with_retries(self._retry, self._sleep, once, retrying)

    def _payment(self, response: httpx.Response) -> GatewayPayment | GatewayUnavailable:
        data = _json(response)
        intent_id = self._id(data.get("id"))
        status, amount, currency = data.get("status"), data.get("amount"), data.get("currency")
        if intent_id is None or not self._is_status(status) or not _is_int(amount):
            return GatewayUnavailable("the payment gateway's answer could not be read")
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            return GatewayUnavailable("the payment gateway's answer could not be read")
        charge_id = self._ref_id(data.get("latest_charge"))
        if charge_id is None:  # API versions before 2022-11-15 list charges instead
            charges = data.get("charges")
            listed = charges.get("data") if isinstance(charges, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if isinstance(listed, list) and listed:
                charge_id = self._ref_id(listed[0])  # pyright: ignore[reportUnknownArgumentType]
        return GatewayPayment(intent_id, status, amount, currency.upper(), charge_id)

    def _failure(self, response: httpx.Response) -> CardDeclined | GatewayRejected:
        error = _json(response).get("error")
        details: dict[str, object] = error if isinstance(error, dict) else {}  # pyright: ignore[reportUnknownVariableType]
        code = self._text(details.get("code"), CODE_LIMIT)
        if code is None and details.get("type") == "idempotency_error":
            code = "idempotency_error"  # Stripe names this one by its type
        text = self._text(details.get("message"), MESSAGE_LIMIT)
        if response.status_code == 402:
            return CardDeclined(
                code=code or "card_declined",
                message=text or "the card was declined",
                decline_code=self._text(details.get("decline_code"), CODE_LIMIT),
                payment_id=self._ref_id(details.get("payment_intent")),
                charge_id=self._ref_id(details.get("charge")),
            )
        return GatewayRejected(
            response.status_code, code, text or f"the payment gateway answered {response.status_code}"
        )

    # -- what is taken from an answer --------------------------------------------------------------

    def _text(self, value: object, limit: int) -> str | None:
        """A string from the gateway, scrubbed of every secret and bounded; None when there is none."""
        if not isinstance(value, str):
            return None
        return self._scrub(value, limit=limit) or None

    def _id(self, value: object) -> str | None:
        """An object id, or None when it is not shaped like one or spells a secret (it is stored, and sent back)."""
        if isinstance(value, str) and _ID.fullmatch(value) and not self._scrub.contains_secret(value):
            return value
        return None

    def _ref_id(self, value: object) -> str | None:
        """An id given either as a string or as an expanded object."""
        if isinstance(value, dict):
            return self._id(value.get("id"))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
        return self._id(value)

    def _is_status(self, value: object) -> TypeGuard[str]:
        """The gateway's word for a state (``succeeded``, ``requires_action``…); anything else is unreadable."""
        return (
            isinstance(value, str) and _STATUS.fullmatch(value) is not None and not self._scrub.contains_secret(value)
        )


def _check_amount(amount_minor: int) -> None:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError("amount_minor must be a positive whole number of minor units")


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        data: object = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}  # pyright: ignore[reportUnknownVariableType]
