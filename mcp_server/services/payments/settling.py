"""Settling in the background: asking the gateway again about card rows nobody came back for."""

from __future__ import annotations

from datetime import timedelta

from mcp_server.services.cards import KEY_LIFETIME
from mcp_server.services.payments.base import UseCase
from mcp_server.services.payments.outcomes import SettleRound
from mcp_server.services.results import unavailable_when_busy

SETTLE_AFTER = timedelta(minutes=1)
SETTLE_BATCH = 20


class Settling(UseCase):
    """The background round of the worker: pending card rows settle without anyone asking."""

    @unavailable_when_busy
    async def settle_pending(
        self, *, actor: str, min_age: timedelta = SETTLE_AFTER, limit: int = SETTLE_BATCH
    ) -> SettleRound:
        """Ask the gateway again about card payments and refunds left pending for at least
        ``min_age`` (nobody called again after the gateway did not answer), with their first
        keys, so they settle without anyone asking. Rows older than the gateway remembers keys
        are left for a person; rows another request is asking the gateway about are left to it (``busy``)."""
        if not self._cards.available:
            return SettleRound()
        now = self._clock.now()
        async with self._uow(write=False) as uow:
            rows = await uow.payments.pending_between(now - KEY_LIFETIME, now - min_age, limit * 5)
        due = self._cards.due([r for r in rows if r.method == "card"])[:limit]
        settled = await self._cards.resume(due, actor=actor)
        statuses = [s.row.status for s in settled if not s.busy]
        stuck = tuple(s for s in settled if s.needs_person)
        busy = sum(s.busy for s in settled)
        return SettleRound(
            statuses.count("succeeded"), statuses.count("failed"), statuses.count("pending"), stuck, busy
        )
