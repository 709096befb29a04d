"""WebhookEventRepository: each gateway event id filed once, whoever files it first; and the
payments the gateway's ids name (``PaymentRepository.by_gateway_reference``), which webhooks ask for."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mcp_server.models.gateway_events import TakenEvent
from mcp_server.services.ports import UnitOfWorkFactory
from tests.contract.records import T0, at, customer, order, payment, product, read, save, written

pytestmark = pytest.mark.anyio

EVENT = TakenEvent("evt_1NfS3kLkdIwHu7ix", "payment_intent.succeeded", T0, "settled: pay_1 succeeded")


async def test_an_event_is_filed_once_and_comes_back_as_filed(uow_factory: UnitOfWorkFactory) -> None:
    assert await read(uow_factory, lambda w: w.webhooks.get(EVENT.event_id)) is None

    assert await written(uow_factory, lambda w: w.webhooks.add(EVENT)) is True
    again = replace(EVENT, event_type="charge.refunded", received_at=at(5), outcome="replayed")
    assert await written(uow_factory, lambda w: w.webhooks.add(again)) is False

    assert await read(uow_factory, lambda w: w.webhooks.get(EVENT.event_id)) == EVENT, "the first one stays"
    assert await read(uow_factory, lambda w: w.webhooks.get("evt_1nfs3klkdiwhu7ix")) is None, "ids match exactly"


async def test_a_refused_second_filing_leaves_the_rest_of_its_unit_of_work_to_commit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    other = replace(EVENT, event_id="evt_other")
    await written(uow_factory, lambda w: w.webhooks.add(EVENT))

    async with uow_factory(write=True) as work:
        assert await work.webhooks.add(EVENT) is False
        assert await work.webhooks.add(other) is True  # on PostgreSQL too: the conflict aborted nothing
        await work.commit()

    assert await read(uow_factory, lambda w: w.webhooks.get(other.event_id)) == other


async def test_a_long_outcome_is_cut_to_what_the_column_holds(uow_factory: UnitOfWorkFactory) -> None:
    long = replace(EVENT, outcome="settled: " + "x" * 400)
    await written(uow_factory, lambda w: w.webhooks.add(long))
    got = await read(uow_factory, lambda w: w.webhooks.get(EVENT.event_id))
    assert got is not None
    assert got.outcome == long.outcome[:200]


async def test_rows_are_found_by_the_gateway_id_they_carry(uow_factory: UnitOfWorkFactory) -> None:
    ada, mug = customer(1), product(1, "MUG-01", price_minor=1000)
    first, second = order(1, ada, [(mug, 3)]), order(2, ada, [(mug, 1)])
    paid = replace(payment(1, first, 3000), method="card", gateway_reference="pi_Shared")
    refund = replace(payment(2, first, 500, kind="refund", refund_of=paid, when=at(1)), gateway_reference="re_One")
    other = replace(payment(3, second, 1000, when=at(2)), gateway_reference="pi_Other")
    await save(uow_factory, ada, mug, first, second, paid, refund, other)

    found = await read(uow_factory, lambda w: w.payments.by_gateway_reference("pi_Shared"))
    assert [p.id for p in found] == [paid.id]
    assert [p.id for p in await read(uow_factory, lambda w: w.payments.by_gateway_reference("re_One"))] == [refund.id]
    assert await read(uow_factory, lambda w: w.payments.by_gateway_reference("pi_shared")) == []
    assert await read(uow_factory, lambda w: w.payments.by_gateway_reference("pi_missing")) == []
