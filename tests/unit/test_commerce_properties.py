"""Random sequences of orders, payments, refunds, cancellations, shipping and stock changes.

A small model of the shop predicts what each call must do (succeed, or fail with which kind
of failure); after every step the services' stored state is checked against the model and
against invariants that must hold whatever happened:

* for every order: 0 <= refunded <= paid <= total;
* stock is conserved (formula in ``stock_is_conserved``);
* a successful mutating call adds exactly one audit entry and commits once; a failed one
  (or a preview, or an idempotent replay) changes nothing at all;
* every order's status is the ``status`` of the last audit entry about it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from mcp_server.models.catalog import StockAdjustment
from mcp_server.models.orders import OrderCreate, OrderLineRequest, OrderStatus, Shipment
from mcp_server.models.payments import PaymentCreate, RefundCreate
from mcp_server.services.approvals import Approval, ApprovalGiven, NeedsApproval, PersonConfirmed
from mcp_server.services.results import Conflict, IllegalTransition, Rejected, Success
from tests.fakes import FakeDatabase
from tests.unit.commerce import ACTOR, add_customer, add_product, make_shop

R = TypeVar("R")

PRODUCTS = 3
KEYS = ("key-a", "key-b", "key-c")
Amount = Literal["all", "half", "one", "over"]
AMOUNTS: tuple[Amount, ...] = ("all", "half", "one", "over")
HowApproved = Literal["person", "approver"]
APPROVER, PASSPHRASE = "ada", "a long passphrase"


def snapshot(db: FakeDatabase) -> FakeDatabase:
    """A copy to compare with later. Shallow is enough: committed rows are immutable and a
    commit replaces the containers, so nothing changes inside these copies."""
    return replace(
        db,
        customers=dict(db.customers),
        products=dict(db.products),
        audit=list(db.audit),
        outbox=list(db.outbox),
        orders=dict(db.orders),
        payments=list(db.payments),
        idempotency=dict(db.idempotency),
        approvers=dict(db.approvers),
        approvals=dict(db.approvals),
    )


def pick_amount(how: Amount, available: int) -> int:
    wanted = {"all": available, "half": available // 2, "one": 1, "over": available + 1}[how]
    return max(wanted, 1)  # amounts are >= 1 by schema


@dataclass
class ModelOrder:
    status: OrderStatus
    total: int
    paid: int = 0
    refunded: int = 0
    out: dict[str, int] = field(default_factory=lambda: {})  # product id → units not (yet) back in stock


class CommerceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # One event loop per history (rules are synchronous); closed in teardown.
        self.loop = asyncio.Runner()
        self.shop = make_shop()
        self.customer = self.run(add_customer(self.shop))
        assert isinstance(self.run(self.shop.approvals.add_approver(APPROVER, PASSPHRASE, actor=ACTOR)), Success)
        self.products: list[str] = []
        self.prices: list[int] = []
        self.initial: dict[str, int] = {}
        self.adjusted: dict[str, int] = {}
        self.stock: dict[str, int] = {}  # the model's stock
        self.orders: dict[str, ModelOrder] = {}
        self.order_ids: list[str] = []
        self.keys: dict[str, tuple[OrderCreate, str]] = {}
        self.audits = len(self.shop.db.audit)

    # -- helpers ---------------------------------------------------------------------------

    def teardown(self) -> None:
        self.loop.close()

    def run(self, call: Awaitable[R]) -> R:
        """Run one service call to completion."""

        async def main() -> R:
            return await call

        return self.loop.run(main())

    def mutate(self, call: Awaitable[R], expect: type[Any]) -> R:
        """Run a mutating call; it must give ``expect``, and change exactly as much as it should."""
        before = snapshot(self.shop.db)
        result = self.run(call)
        outcome: object = result
        assert isinstance(outcome, expect), (expect, outcome)
        db = self.shop.db
        if isinstance(outcome, Success):
            assert len(db.audit) == len(before.audit) + 1, db.audit[len(before.audit) :]
            assert db.commits == before.commits + 1
            self.audits += 1
        else:
            assert db == before
        return result

    def unchanged(self, call: Awaitable[R]) -> R:
        before = snapshot(self.shop.db)
        result = self.run(call)
        assert self.shop.db == before
        return result

    def approve(self, before: FakeDatabase, asked: object) -> ApprovalGiven:
        """``asked`` made one approval request and changed nothing else; a person approves it."""
        db = self.shop.db
        assert isinstance(asked, NeedsApproval), asked
        assert asked.request is not None
        assert (db.orders, db.payments, db.products) == (before.orders, before.payments, before.products)
        assert list(db.approvals) == [*before.approvals, asked.request.id]
        decided = self.run(
            self.shop.approvals.decide(asked.request.id, approve=True, name=APPROVER, passphrase=PASSPHRASE)
        )
        assert isinstance(decided, Success), decided
        self.audits += 2  # approval.requested, approval.approved
        return ApprovalGiven(asked.request.id)

    def order(self, index: int, fit: bool, *statuses: str) -> tuple[str, ModelOrder]:
        """An order; with ``fit``, one in one of ``statuses`` if there is one (so long histories
        like place → pay → ship → refund happen often), else any (so illegal moves happen too)."""
        candidates = [o for o in self.order_ids if self.orders[o].status in statuses] if fit else []
        candidates = candidates or self.order_ids
        order_id = candidates[index % len(candidates)]
        return order_id, self.orders[order_id]

    def has_orders(self) -> bool:
        return bool(self.order_ids)

    def restock(self, model: ModelOrder) -> None:
        for product_id, units in model.out.items():
            self.stock[product_id] += units
            model.out[product_id] = 0

    # -- setup -----------------------------------------------------------------------------

    @initialize(
        stocks=st.lists(st.integers(0, 12), min_size=PRODUCTS, max_size=PRODUCTS),
        prices=st.lists(st.sampled_from([0, 1, 250, 1999]), min_size=PRODUCTS, max_size=PRODUCTS),
    )
    def seed(self, stocks: list[int], prices: list[int]) -> None:
        for n, (stock, price) in enumerate(zip(stocks, prices, strict=True)):
            product_id = self.run(add_product(self.shop, f"P-{n}", price_minor=price, stock=stock))
            self.products.append(product_id)
            self.prices.append(price)
            self.initial[product_id] = self.stock[product_id] = stock
            self.adjusted[product_id] = 0
        self.audits = len(self.shop.db.audit)

    # -- rules -----------------------------------------------------------------------------

    @rule(
        lines=st.lists(st.tuples(st.integers(0, PRODUCTS - 1), st.integers(1, 6)), min_size=1, max_size=3),
        key=st.none() | st.sampled_from(KEYS),
    )
    def place(self, lines: list[tuple[int, int]], key: str | None) -> None:
        request = OrderCreate(
            customer_id=self.customer,
            lines=[OrderLineRequest(sku=f"P-{n}", quantity=quantity) for n, quantity in lines],
        )
        if key is not None and key in self.keys:
            earlier, order_id = self.keys[key]
            result = self.unchanged(self.shop.orders.place(request, actor=ACTOR, idempotency_key=key))
            if request == earlier:
                assert isinstance(result, Success)
                assert (result.value.replayed, result.value.order.id) == (True, order_id)
            else:
                assert isinstance(result, Conflict)
            return
        wanted = [n for n, _ in lines]
        ok = len(set(wanted)) == len(wanted) and all(self.stock[self.products[n]] >= q for n, q in lines)
        result = self.mutate(
            self.shop.orders.place(request, actor=ACTOR, idempotency_key=key), Success if ok else Rejected
        )
        if isinstance(result, Success):
            order = result.value.order
            total = sum(self.prices[n] * q for n, q in lines)
            assert (order.total_minor, result.value.replayed) == (total, False)
            self.orders[order.id] = ModelOrder(
                status="paid" if total == 0 else "placed",
                total=total,
                out={self.products[n]: q for n, q in lines},
            )
            self.order_ids.append(order.id)
            for n, q in lines:
                self.stock[self.products[n]] -= q
            if key is not None:
                self.keys[key] = (request, order.id)

    @precondition(lambda self: bool(self.keys))
    @rule(index=st.integers(0, len(KEYS) - 1))
    def replay_place(self, index: int) -> None:
        key = sorted(self.keys)[index % len(self.keys)]
        request, order_id = self.keys[key]
        result = self.unchanged(self.shop.orders.place(request, actor=ACTOR, idempotency_key=key))
        assert isinstance(result, Success)
        assert (result.value.replayed, result.value.order.id) == (True, order_id)

    @precondition(has_orders)
    @rule(
        index=st.integers(0, 50),
        fit=st.booleans(),
        how=st.sampled_from(AMOUNTS),
    )
    def pay(self, index: int, fit: bool, how: Amount) -> None:
        order_id, model = self.order(index, fit, "placed")
        outstanding = model.total - model.paid if model.status == "placed" else 0
        amount = pick_amount(how, outstanding)
        if model.status != "placed":
            expect: type[Any] = IllegalTransition
        else:
            expect = Success if amount <= outstanding else Rejected
        request = PaymentCreate(order_id=order_id, amount=amount, method="cash")
        if isinstance(self.mutate(self.shop.payments.record(request, actor=ACTOR), expect), Success):
            model.paid += amount
            if model.paid == model.total:
                model.status = "paid"

    @precondition(has_orders)
    @rule(
        index=st.integers(0, 50),
        fit=st.booleans(),
        how=st.sampled_from(AMOUNTS),
        restock=st.booleans(),
        approved=st.sampled_from(["person", "approver"]),
    )
    def refund(self, index: int, fit: bool, how: Amount, restock: bool, approved: HowApproved) -> None:
        order_id, model = self.order(index, fit, "paid", "shipped", "delivered")
        refundable = model.paid - model.refunded
        amount = pick_amount(how, refundable)
        if model.status not in ("paid", "shipped", "delivered"):
            expect: type[Any] = IllegalTransition
        elif restock and model.status == "paid":
            expect = Rejected  # nothing has left the shop: cancel takes an unshipped order back
        else:
            expect = Success if amount <= refundable else Rejected
        request = RefundCreate(order_id=order_id, amount=amount, reason="property test", restock=restock)
        approval: Approval = PersonConfirmed()
        if approved == "approver":
            before = snapshot(self.shop.db)
            asked = self.run(self.shop.payments.refund(request, actor=ACTOR, approval=None))
            if expect is not Success:
                assert isinstance(asked, expect), (expect, asked)
                assert self.shop.db == before
                return
            approval = self.approve(before, asked)
        if isinstance(self.mutate(self.shop.payments.refund(request, actor=ACTOR, approval=approval), expect), Success):
            model.refunded += amount
            if model.refunded == model.paid:
                model.status = "refunded"
            if restock:
                self.restock(model)

    @precondition(has_orders)
    @rule(index=st.integers(0, 50), fit=st.booleans(), approved=st.sampled_from(["person", "approver"]))
    def cancel(self, index: int, fit: bool, approved: HowApproved) -> None:
        order_id, model = self.order(index, fit, "placed", "paid")
        expect = Success if model.status in ("placed", "paid") else IllegalTransition
        money_back = model.paid - model.refunded
        approval: Approval = PersonConfirmed()
        if approved == "approver":
            before = snapshot(self.shop.db)
            asked = self.run(self.shop.orders.cancel(order_id, reason=None, actor=ACTOR, approval=None))
            if expect is not Success or money_back == 0:
                # Nothing to approve: the call without approval is the real one.
                assert isinstance(asked, expect), (expect, asked)
                if isinstance(asked, Success):
                    self.audits += 1
                    self._cancelled(model)
                return
            assert isinstance(asked, NeedsApproval)
            assert asked.preview.refund_minor == money_back
            approval = self.approve(before, asked)
        cancel = self.shop.orders.cancel(order_id, reason=None, actor=ACTOR, approval=approval)
        if isinstance(self.mutate(cancel, expect), Success):
            self._cancelled(model)

    def _cancelled(self, model: ModelOrder) -> None:
        model.refunded = model.paid
        model.status = "cancelled"
        self.restock(model)

    @precondition(has_orders)
    @rule(index=st.integers(0, 50), fit=st.booleans())
    def ship(self, index: int, fit: bool) -> None:
        order_id, model = self.order(index, fit, "paid")
        expect = Success if model.status == "paid" else IllegalTransition
        shipment = Shipment(carrier="DHL", tracking_number=f"T-{index}")
        if isinstance(self.mutate(self.shop.orders.mark_shipped(order_id, shipment, actor=ACTOR), expect), Success):
            model.status = "shipped"

    @precondition(has_orders)
    @rule(index=st.integers(0, 50), fit=st.booleans())
    def deliver(self, index: int, fit: bool) -> None:
        order_id, model = self.order(index, fit, "shipped")
        expect = Success if model.status == "shipped" else IllegalTransition
        if isinstance(self.mutate(self.shop.orders.mark_delivered(order_id, actor=ACTOR), expect), Success):
            model.status = "delivered"

    @precondition(lambda self: bool(self.products))
    @rule(n=st.integers(0, PRODUCTS - 1), delta=st.integers(-6, 8).filter(bool))
    def adjust_stock(self, n: int, delta: int) -> None:
        product_id = self.products[n]
        expect = Success if self.stock[product_id] + delta >= 0 else Rejected
        adjustment = StockAdjustment(delta=delta, reason="correction")
        if isinstance(
            self.mutate(self.shop.catalog.adjust_stock(product_id, adjustment, actor=ACTOR), expect), Success
        ):
            self.stock[product_id] += delta
            self.adjusted[product_id] += delta

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def money_never_goes_out_of_bounds(self) -> None:
        for order_id, model in self.orders.items():
            stored = self.shop.db.orders[order_id]
            assert 0 <= stored.refunded_minor <= stored.paid_minor <= stored.total_minor
            assert (stored.status, stored.total_minor, stored.paid_minor, stored.refunded_minor) == (
                model.status,
                model.total,
                model.paid,
                model.refunded,
            )
            payments = [p for p in self.shop.db.payments if p.order_id == order_id]
            assert sum(p.amount_minor for p in payments if p.kind == "payment") == stored.paid_minor
            assert sum(p.amount_minor for p in payments if p.kind == "refund") == stored.refunded_minor
            assert all(0 <= p.refunded_minor <= p.amount_minor for p in payments)

    @invariant()
    def stock_is_conserved(self) -> None:
        """For every product p:

            stock(p) = initial(p) + Σ adjustments(p) - Σ_orders Σ_lines of p (quantity - restocked)

        i.e. initial + adjustments - units in orders that are not cancelled + units of those
        orders restocked by refunds; a cancelled order restocks everything not yet restocked,
        so every one of its lines has restocked == quantity and it contributes nothing.
        """
        db = self.shop.db
        held = dict.fromkeys(self.products, 0)
        for order_id, model in self.orders.items():
            stored = db.orders[order_id]
            for line in stored.lines:
                assert 0 <= line.restocked <= line.quantity
                assert line.quantity - line.restocked == model.out[line.product_id]
                if stored.status == "cancelled":
                    assert line.restocked == line.quantity
                held[line.product_id] += line.quantity - line.restocked
        for product_id in self.products:
            expected = self.initial[product_id] + self.adjusted[product_id] - held[product_id]
            assert db.products[product_id].stock == expected == self.stock[product_id]

    @invariant()
    def every_change_is_audited_and_status_follows_the_audit(self) -> None:
        db = self.shop.db
        assert len(db.audit) == self.audits
        for order_id in self.orders:
            history = [e for e in db.audit if e.entity_type == "order" and e.entity_id == order_id]
            assert history[0].action == "order.placed"
            assert history[-1].after is not None
            assert history[-1].after["status"] == db.orders[order_id].status


def test_commerce_services_keep_their_invariants_over_random_histories() -> None:
    run_state_machine_as_test(
        CommerceMachine,
        settings=settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
