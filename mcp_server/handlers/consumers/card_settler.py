"""The consumer door for card payments: a loop that asks the payment service to settle what the
gateway left pending (a charge or refund whose answer never arrived and that nobody retried).

Started beside the e-mail worker, inside the MCP server or by ``shopkeeper worker``; a no-op
when no payment gateway is configured. Like the e-mail loop, it has no logic of its own beyond
when to ask again, and it never raises: the server keeps serving whatever the gateway does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from mcp_server.handlers.consumers.round_failures import RoundFailures
from mcp_server.handlers.mcp.context import BackendUnavailableError, ServiceRegistry
from mcp_server.handlers.views import cards
from mcp_server.services.results import Unavailable

logger = logging.getLogger("mcp_server.worker")

SETTLE_EVERY_S = 30.0
ERROR_SECONDS = 30.0
ACTOR = "shopkeeper-worker"


async def run_card_settler(
    services: Callable[[], Awaitable[ServiceRegistry]],
    *,
    every_s: float = SETTLE_EVERY_S,
    once: bool = False,
    actor: str = ACTOR,
) -> Unavailable | None:
    """Every ``every_s`` seconds, settle card payments and refunds pending for over a minute (``once``:
    one round, returning the database's refusal if it refused it)."""
    failures = RoundFailures("settling pending card payments")
    while True:
        try:
            registry = await services()
            if not registry.payments.cards_available:
                return None
            outcome = await registry.payments.settle_pending(actor=actor)
        except BackendUnavailableError:
            if once:
                raise
            await anyio.sleep(ERROR_SECONDS)
            continue
        except Exception as exc:
            if once:
                raise
            failures.failed(exc, ERROR_SECONDS)
            await anyio.sleep(ERROR_SECONDS)
            continue
        failures.worked()
        from mcp_server.services.payments import SettleRound  # loaded with the database, after start-up

        if isinstance(outcome, SettleRound):
            for row in outcome.for_a_person:
                logger.warning("card payments: needs a person: %s", cards.stuck(row))
        if isinstance(outcome, SettleRound) and (outcome.handled or outcome.pending or outcome.busy):
            logger.info(
                "card payments: %s settled, %s failed, %s still pending at the gateway, %s left to the request "
                "asking the gateway about them now",
                outcome.succeeded,
                outcome.failed,
                outcome.pending,
                outcome.busy,
            )
        if once:
            return outcome if isinstance(outcome, Unavailable) else None
        await anyio.sleep(every_s)
