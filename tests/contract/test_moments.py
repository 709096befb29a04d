"""Every repository hands moments back as the columns keep them: aware, in UTC, to the microsecond,
whatever offset they were written in."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from mcp_server.models.approvals import Approver
from mcp_server.models.requests import StoredRequest
from mcp_server.services.ports import UnitOfWorkFactory
from tests.contract.records import approval, at, customer, entry, message, order, payment, product, save, written

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

pytestmark = pytest.mark.anyio

KOLKATA = timezone(timedelta(hours=5, minutes=30))


def shifted(record: DataclassInstance) -> Any:
    """``record`` with every moment written in UTC+05:30 (the same instants)."""
    moments = {
        f.name: v.astimezone(KOLKATA) for f in fields(record) if isinstance(v := getattr(record, f.name), datetime)
    }
    return replace(record, **moments)


def moments_of(record: object) -> dict[str, datetime]:
    assert record is not None
    return {f.name: v for f in fields(record) if isinstance(v := getattr(record, f.name), datetime)}  # pyright: ignore[reportArgumentType]


async def test_every_moment_comes_back_in_utc(uow_factory: UnitOfWorkFactory) -> None:
    ada, mug = customer(1), product(1)
    placed = order(1, ada, [(mug, 1)], when=at(0.5))
    card = replace(payment(1, placed, 1250, status="pending", when=at(1)), lease_until=at(2), next_attempt_at=at(3))
    sent = replace(message(1), sent_at=at(4))
    decided = approval(1).decide(True, "person:grace", at(5))
    originals = [ada, mug, placed, card, entry(1, ada.id), sent, decided]
    await save(uow_factory, *(shifted(r) for r in originals))
    grace, request = Approver("grace", "hash$grace", at(6)), StoredRequest("h" * 64, ("ord_1",), at(7))
    await written(uow_factory, lambda w: w.requests.add_approver(shifted(grace)))
    await written(uow_factory, lambda w: w.requests.remember("orders_place", "k-1", shifted(request)))

    async with uow_factory(write=False) as work:
        audit = await work.audit.page_before(
            entity_type=None, entity_id=None, action=None, before_sequence=None, limit=1
        )
        read_back: list[object] = [
            await work.customers.get(ada.id),
            await work.products.get(mug.id),
            await work.orders.get(placed.id),
            await work.payments.get(card.id),
            audit[0],
            await work.outbox.get(sent.id),
            await work.requests.approval(decided.id),
            await work.requests.approver("grace"),
            await work.requests.find("orders_place", "k-1"),
        ]
    for original, got in zip([*originals, grace, request], read_back, strict=True):
        expected = moments_of(original)
        assert moments_of(got) == expected, type(original).__name__
        assert len(expected) >= 1
        for name, moment in moments_of(got).items():
            assert moment.utcoffset() == timedelta(0), f"{type(original).__name__}.{name}"
            assert moment.isoformat() == expected[name].astimezone(UTC).isoformat()
