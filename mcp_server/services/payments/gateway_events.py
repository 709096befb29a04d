"""Taking the payment gateway's webhook events: pending card rows settle as soon as the gateway says
something happened, instead of when the background settler next asks.

An event is a hint, never a booking: it names rows of the shop (by the ``payment_id`` /
``refund_id`` metadata sent with each request, or by the gateway's ids the rows carry), and each
named row that is still pending is asked about again exactly as the background settler asks
(``CardDesk.resume``: the row's own key, or a look-up of the payment the gateway named). So an event
that arrives late or out of order cannot book a state the gateway no longer holds, and a settled row
is never changed by one. Each event id is filed once, after it was taken: a replay is acknowledged
and ignored; an event the gateway could not be asked about is not filed, so its redelivery tries again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mcp_server.models.gateway_events import GatewayEvent, TakenEvent
from mcp_server.models.payments import Payment
from mcp_server.services.card_booking import Settled
from mcp_server.services.payments.base import UseCase
from mcp_server.services.ports import UnitOfWork
from mcp_server.services.results import Unavailable, unavailable_when_busy

EventOutcome = Literal["settled", "unchanged", "unknown", "ignored", "replayed"]
"""settled: pending rows were asked about; unchanged: the rows it names were settled already;
unknown: it names no card row of the shop; ignored: a type the shop does not act on (not filed);
replayed: filed before, nothing done."""

OUTCOME_CHARS = 200


@dataclass(frozen=True, slots=True)
class EventTaken:
    """What taking one gateway event did."""

    event: GatewayEvent
    outcome: EventOutcome
    settled: tuple[Settled, ...] = ()  # the pending rows asked about, as they are now
    first: TakenEvent | None = None  # replayed: the event as it was filed the first time

    @property
    def summary(self) -> str:
        """A few words on what happened, as filed with the event."""
        if self.outcome != "settled":
            return self.outcome
        parts = [f"{s.row.id} {_state(s)}" for s in self.settled]
        return ("settled: " + ", ".join(parts))[:OUTCOME_CHARS]


class GatewayEvents(UseCase):
    @unavailable_when_busy
    async def take_event(self, event: GatewayEvent, *, actor: str) -> EventTaken | Unavailable:
        """Settle the pending card payments or refunds a verified gateway event names, by asking the
        gateway about each (as the background settler does), then file the event's id.

        Unavailable, with nothing filed, when the gateway could not be asked (the gateway sends the
        event again later) or the database cannot take the work.
        """
        async with self._uow(write=False) as uow:
            first = await uow.webhooks.get(event.id)
            if first is not None:
                return EventTaken(event, "replayed", first=first)
            if event.subject is None:
                return EventTaken(event, "ignored")
            rows = await _rows_named(uow, event)
        pending = [r for r in rows if r.status == "pending"]
        if not rows:
            taken = EventTaken(event, "unknown")
        elif not pending:
            taken = EventTaken(event, "unchanged")
        elif not self._cards.available:
            return Unavailable(
                f"the gateway event {event.id} names pending card rows ({_ids(pending)}), but no payment gateway "
                "is configured to ask about them; nothing was changed",
                remedy="set SHOPKEEPER_STRIPE_SECRET_KEY",
            )
        else:
            settled = await self._cards.resume(pending, actor=actor)
            unanswered = [s for s in settled if s.unanswered]
            if unanswered:
                notes = "; ".join(f"{s.row.id}: {s.note}" for s in unanswered)
                return Unavailable(
                    f"the payment gateway could not be asked about {notes}; the event was not taken, so the "
                    "gateway sends it again"
                )
            taken = EventTaken(event, "settled", tuple(settled))
        async with self._uow(write=True) as uow:
            await uow.webhooks.add(TakenEvent(event.id, event.type, self._clock.now(), taken.summary))
            await uow.commit()  # a delivery racing this one may have filed it first: both took it
        return taken


async def _rows_named(uow: UnitOfWork, event: GatewayEvent) -> list[Payment]:
    """The shop's card rows the event may settle, oldest first: payments for a payment event; for a
    refund event, the refunds it names and the pending refunds of the payments it names."""
    named: dict[str, Payment] = {}
    for row_id in (*event.payment_ids, *event.refund_ids):
        row = await uow.payments.get(row_id)
        if row is not None:
            named[row.id] = row
    for reference in event.references:
        for row in await uow.payments.by_gateway_reference(reference):
            named[row.id] = row
    cards = [r for r in named.values() if r.method == "card"]
    if event.subject == "payment":
        chosen = {r.id: r for r in cards if r.kind == "payment"}
    else:
        chosen = {r.id: r for r in cards if r.kind == "refund"}
        for paid in (r for r in cards if r.kind == "payment"):
            for row in await uow.payments.for_order(paid.order_id):
                if (
                    row.kind == "refund"
                    and row.payment_id == paid.id
                    and row.method == "card"
                    and row.status == "pending"
                ):
                    chosen.setdefault(row.id, row)
    return sorted(chosen.values(), key=lambda r: r.sequence)


def _state(settled: Settled) -> str:
    if not settled.pending:
        return settled.row.status
    if settled.busy:
        return "pending (another request is asking)"
    return "pending (needs a person)" if settled.needs_person else "pending"


def _ids(rows: Sequence[Payment]) -> str:
    return ", ".join(r.id for r in rows)
