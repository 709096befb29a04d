"""``POST /webhooks/stripe``: the consumer door that hears the payment gateway.

The route reads the raw body (at most 1 MiB), checks ``Stripe-Signature`` against the endpoint's
signing secret (``utils.stripe_signature``), reads the event, and hands it to
``PaymentService.take_gateway_event``, which settles what the event names by asking the gateway
itself. The answer is a status code for the gateway: 200 taken (or replayed, or nothing of the
shop's, or a type the shop does not act on); 400 a bad, missing or stale signature, or not an event,
and nothing changed; 413 too large; 503 the gateway could not be asked, the database is busy or away,
or no signing secret is set, so the gateway sends the event again later (it retries for three days).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_server.handlers.mcp.context import BackendUnavailableError, ServiceRegistry
from mcp_server.handlers.views import cards
from mcp_server.models.gateway_events import parse_stripe_event
from mcp_server.services.payments import EventTaken
from mcp_server.services.ports import Clock
from mcp_server.services.results import Unavailable
from mcp_server.utils import stripe_signature

logger = logging.getLogger("mcp_server.webhooks")

PATH = "/webhooks/stripe"
MAX_BODY_BYTES = 1024 * 1024
ACTOR = "webhook:stripe"
UNCONFIGURED = (
    "gateway webhooks are refused (503) until SHOPKEEPER_STRIPE_WEBHOOK_SECRET is set to the endpoint's "
    "signing secret (whsec_…); the gateway keeps sending them meanwhile"
)


def stripe_webhook_route(
    services: Callable[[], Awaitable[ServiceRegistry]], secret: str | None, clock: Clock, *, path: str = PATH
) -> Route:
    """The route the HTTP door mounts. ``secret``: the endpoint's signing secret (None: not set, so
    every call is answered 503 and the first one logs why); ``clock`` says how old a signature is."""
    return Route(path, _StripeWebhook(services, secret, clock).receive, methods=["POST"], name="stripe_webhook")


class _StripeWebhook:
    def __init__(self, services: Callable[[], Awaitable[ServiceRegistry]], secret: str | None, clock: Clock) -> None:
        self._services = services
        self._secret = secret or None
        self._clock = clock
        self._said_no_secret = False

    async def receive(self, request: Request) -> JSONResponse:
        if self._secret is None:
            if not self._said_no_secret:
                self._said_no_secret = True
                logger.warning("%s", UNCONFIGURED)
            return _answer(503, error="webhooks are not configured")
        body = await _bounded_body(request)
        if body is None:
            return _answer(413, error=f"the body is larger than {MAX_BODY_BYTES} bytes")
        header = request.headers.get("stripe-signature")
        refused = stripe_signature.verify(body, header, self._secret, now=self._clock.now().timestamp())
        if refused is not None:
            logger.warning("gateway webhook refused: signature %s", refused.replace("_", " "))
            return _answer(400, error="invalid signature")
        event = parse_stripe_event(body)
        if event is None:
            logger.warning("gateway webhook refused: a valid signature, but the body is not an event")
            return _answer(400, error="not an event")
        try:
            registry = await self._services()
            taken = await registry.payments.take_gateway_event(event, actor=ACTOR)
        except BackendUnavailableError as exc:
            logger.warning("gateway event %s not taken: %s", event.id, exc.public_message)
            return _answer(503, error="the shop's database is not available")
        except Exception:
            logger.exception("gateway event %s (%s) failed", event.id, event.type)
            return _answer(500, error="internal error")
        if isinstance(taken, Unavailable):
            logger.warning("gateway event %s (%s) not taken: %s", event.id, event.type, taken.message)
            return _answer(503, error="not taken now; send it again later")
        _log(taken)
        return _answer(200, outcome=taken.outcome)


async def _bounded_body(request: Request) -> bytes | None:
    """The raw body, or None once it is over ``MAX_BODY_BYTES`` (nothing more is read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def _log(taken: EventTaken) -> None:
    event = taken.event
    match taken.outcome:
        case "replayed":
            logger.info("gateway event %s (%s) was taken before: ignored", event.id, event.type)
        case "ignored":
            logger.debug("gateway event %s (%s): a type the shop does not act on", event.id, event.type)
        case "unknown":
            logger.info(
                "gateway event %s (%s) about %s names no card payment or refund of this shop: acknowledged",
                event.id,
                event.type,
                event.object_id or "an object without an id",
            )
        case "unchanged":
            logger.info("gateway event %s (%s): already settled, nothing changed", event.id, event.type)
        case "settled":
            logger.info("gateway event %s (%s): %s", event.id, event.type, taken.summary)
            for settled in taken.settled:
                if settled.pending and settled.needs_person:
                    logger.warning("card payments: needs a person: %s", cards.stuck(settled))


def _answer(status: int, *, outcome: str | None = None, error: str | None = None) -> JSONResponse:
    content: dict[str, object] = {"received": True, "outcome": outcome} if status == 200 else {"error": error}
    return JSONResponse(content, status_code=status, headers={"Cache-Control": "no-store"})
