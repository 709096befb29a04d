"""What the payment gateway's webhooks tell the shop, read from Stripe's event JSON.

An event is only a hint: it names the shop's rows (the ``payment_id`` / ``refund_id`` metadata the
shop sends with each request, and the gateway's own ids, which the shop stores once it has them).
The use case asks the gateway itself about those rows before it settles anything, so nothing in
an event's object (a status, an amount) is ever booked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

EventSubject = Literal["payment", "refund"]

SUBJECTS: dict[str, EventSubject] = {
    "payment_intent.succeeded": "payment",
    "payment_intent.payment_failed": "payment",
    "payment_intent.canceled": "payment",
    "charge.refunded": "refund",
    "charge.refund.updated": "refund",
    "refund.created": "refund",
    "refund.updated": "refund",
    "refund.failed": "refund",
}
"""The event types the shop acts on, and which of its rows each may settle; others are acknowledged only."""

_EVENT_ID = re.compile(r"[A-Za-z0-9_]{1,255}")
_EVENT_TYPE = re.compile(r"[a-z0-9_.]{1,100}")
_GATEWAY_ID = re.compile(r"[a-z]{1,16}_[A-Za-z0-9]{1,240}")  # pi_…, re_…, ch_…, as the gateway client takes them
_SHOP_ID = re.compile(r"[a-z]{3}_[0-9A-Za-z]{1,40}")
_MAX_LISTED = 100  # refunds listed on one charge that are looked at


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """One verified gateway event, reduced to what names the shop's rows."""

    id: str
    type: str
    subject: EventSubject | None  # None: a type the shop does not act on
    object_id: str | None = None
    payment_ids: tuple[str, ...] = ()  # metadata payment_id (pay_…)
    refund_ids: tuple[str, ...] = ()  # metadata refund_id (ref_…)
    references: tuple[str, ...] = ()  # the gateway's ids that a row may carry (pi_…, re_…)


@dataclass(frozen=True, slots=True)
class TakenEvent:
    """A gateway event the webhook door has taken, filed once by its id."""

    event_id: str
    event_type: str
    received_at: datetime
    outcome: str  # what taking it did, in a few words


def parse_stripe_event(body: bytes) -> GatewayEvent | None:
    """The event in a webhook's body; None when it is not a Stripe event (no id or type)."""
    try:
        data: object = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    envelope = _dict(data)  # pyright: ignore[reportUnknownArgumentType]
    event_id, event_type = envelope.get("id"), envelope.get("type")
    if not (isinstance(event_id, str) and _EVENT_ID.fullmatch(event_id)):
        return None
    if not (isinstance(event_type, str) and _EVENT_TYPE.fullmatch(event_type)):
        return None
    obj = _dict(_dict(envelope.get("data")).get("object"))
    kind = obj.get("object")
    payments: list[str] = []
    refunds: list[str] = []
    references: list[str] = []
    object_id = _gateway_id(obj.get("id"))
    _add(payments, _shop_id(_dict(obj.get("metadata")).get("payment_id"), "pay_"))
    if kind == "payment_intent":
        _add(references, object_id)
    elif kind == "charge":
        _add(references, _gateway_id(obj.get("payment_intent")))
        listed = _dict(obj.get("refunds")).get("data")
        items: list[object] = listed[:_MAX_LISTED] if isinstance(listed, list) else []  # pyright: ignore[reportUnknownVariableType]
        for item in items:
            refund = _dict(item)
            _add(refunds, _shop_id(_dict(refund.get("metadata")).get("refund_id"), "ref_"))
            _add(references, _gateway_id(refund.get("id")))
    elif kind == "refund":
        _add(refunds, _shop_id(_dict(obj.get("metadata")).get("refund_id"), "ref_"))
        _add(references, object_id)
        _add(references, _gateway_id(obj.get("payment_intent")))
    return GatewayEvent(
        id=event_id,
        type=event_type,
        subject=SUBJECTS.get(event_type),
        object_id=object_id,
        payment_ids=tuple(payments),
        refund_ids=tuple(refunds),
        references=tuple(references),
    )


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}  # pyright: ignore[reportUnknownVariableType]


def _gateway_id(value: object) -> str | None:
    """A gateway id given as a string or as an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return value if isinstance(value, str) and _GATEWAY_ID.fullmatch(value) else None


def _shop_id(value: object, prefix: str) -> str | None:
    if isinstance(value, str) and value.startswith(prefix) and _SHOP_ID.fullmatch(value):
        return value
    return None


def _add(found: list[str], value: str | None) -> None:
    if value is not None and value not in found:
        found.append(value)
