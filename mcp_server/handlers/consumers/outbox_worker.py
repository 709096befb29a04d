"""The consumer door: a loop that asks the notification service to deliver what is due.

It runs inside the MCP server (started by the lifespan, without holding up ``initialize``)
or on its own as ``shopkeeper worker``. It has no logic of its own beyond when to ask again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from mcp_server.handlers.consumers.round_failures import RoundFailures
from mcp_server.handlers.mcp.context import BackendUnavailableError, ServiceRegistry
from mcp_server.services.results import Unavailable

logger = logging.getLogger("mcp_server.worker")

IDLE_SECONDS = 5.0
ERROR_SECONDS = 30.0


async def run_outbox_worker(
    services: Callable[[], Awaitable[ServiceRegistry]],
    *,
    idle_seconds: float = IDLE_SECONDS,
    stop_when_idle: bool = False,
    error_seconds: float = ERROR_SECONDS,
) -> Unavailable | None:
    """Deliver due e-mails until cancelled (or, with ``stop_when_idle``, until nothing is due, or the
    database refuses the round: that answer is returned for the door to report).

    After a round that handled something it goes again at once; when nothing was due it
    waits ``idle_seconds``. Failures are logged (stderr) and waited out, never raised: the
    MCP server must keep serving whatever happens to e-mail. A database that cannot take writes
    (busy, disk full, read-only) is waited out too; the storage layer logs that condition once.
    """
    failures = RoundFailures("delivering e-mails")
    while True:
        try:
            registry = await services()
            outcome = await registry.notifications.deliver_due()
        except BackendUnavailableError:
            if stop_when_idle:
                raise
            await anyio.sleep(error_seconds)
            continue
        except Exception as exc:
            if stop_when_idle:
                raise
            failures.failed(exc, error_seconds)
            await anyio.sleep(error_seconds)
            continue
        failures.worked()
        if isinstance(outcome, Unavailable):
            if stop_when_idle:
                return outcome
            await anyio.sleep(error_seconds)
            continue
        if outcome.lost:
            logger.warning("e-mails: %s left to another worker after this one's lease on them ran out", outcome.lost)
        if outcome.handled:
            logger.info("e-mails: %s sent, %s to retry, %s failed", outcome.sent, outcome.retrying, outcome.failed)
            continue
        if stop_when_idle:
            return None
        await anyio.sleep(idle_seconds)
