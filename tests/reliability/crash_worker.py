"""A shop worker the crash test kills with SIGKILL: a burst of writes through the real services.

It opens the services exactly as the ``shopkeeper`` command line does (``entrypoint.bootstrap``:
engine, migrations check, repositories, services), prints ``ready``, then writes without pause:
places orders (racing other workers for the last units), records payments, refunds and cancels
(a person lets the money go back: half the time at the terminal, as the CLI's --yes does, half the
time through an approval request the seeded approver approves), ships, delivers and adjusts stock.

Its journal is one JSON object per line, each fsync'ed before the next call: an ``intent`` before
a write, then ``done`` (the service returned success: a confirmed write) or ``no`` (it refused).
A write whose intent has neither was in flight when the process died; the next worker of the same
name sends it again first, with the same idempotency key where it has one, so the test can check
that a retry after a crash never doubles anything. Each keyed write carries its key in a column
the test can read (an order's shipping name, a payment's reference, a refund's reason).

    python -m tests.reliability.crash_worker DB_PATH JOURNAL_PATH SEED
"""

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import anyio

from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap
from mcp_server.handlers.mcp.context import ServiceRegistry
from mcp_server.models.catalog import ProductCreate, StockAdjustment
from mcp_server.models.customers import CustomerCreate
from mcp_server.models.orders import Order, OrderCreate, OrderLineRequest, OrderQuery, Shipment, ShippingAddress
from mcp_server.models.payments import PaymentCreate, RefundCreate
from mcp_server.services.approvals import Approval, ApprovalGiven, NeedsApproval, PersonConfirmed, PreviewOnly
from mcp_server.services.results import Success

Record = dict[str, Any]
ACTOR = "crash-test"
APPROVER, PASSPHRASE = "crash-approver", "crash test passphrase"
R = TypeVar("R")


def settings_env(db_path: Path) -> dict[str, str]:
    return {
        "SHOPKEEPER_DATABASE_URL": f"sqlite+aiosqlite:///{db_path}",
        "SHOPKEEPER_ACTOR": ACTOR,
        "SHOPKEEPER_LOG_LEVEL": "WARNING",
    }


@asynccontextmanager
async def open_services(db_path: Path) -> AsyncGenerator[ServiceRegistry]:
    """The services as the CLI door builds them (the entrypoint's own wiring)."""
    actions = bootstrap(load_settings(settings_env(db_path))).cli_actions()
    assert actions.open_services is not None
    async with actions.open_services() as services:
        yield services


# --- seeding ------------------------------------------------------------------------------------


async def seed(db_path: Path, *, customers: int, stocks: list[int]) -> Record:
    """A shop with ``customers`` customers and one product per entry of ``stocks`` (its initial stock)."""
    await bootstrap(load_settings(settings_env(db_path))).cli_actions().upgrade_database()  # `shopkeeper db upgrade`
    async with open_services(db_path) as services:
        approver = await services.approvals.add_approver(APPROVER, PASSPHRASE, actor=ACTOR)
        assert isinstance(approver, Success), approver
        customer_ids: list[str] = []
        for n in range(customers):
            made = await services.customers.register(
                CustomerCreate(name=f"Customer {n}", email=f"customer{n}@example.com"), actor=ACTOR
            )
            assert isinstance(made, Success), made
            customer_ids.append(made.value.id)
        products: dict[str, int] = {}
        for n, stock in enumerate(stocks):
            created = await services.catalog.create_product(
                ProductCreate(
                    sku=f"SKU-{n}", name=f"Product {n}", price_minor=100 * (n + 3), currency="EUR", stock=stock
                ),
                actor=ACTOR,
            )
            assert isinstance(created, Success), created
            products[created.value.id] = stock
    return {"customers": customer_ids, "products": products}


# --- the journal --------------------------------------------------------------------------------


class Journal:
    """Append-only JSON lines, each on disk (fsync) before the call that follows it."""

    def __init__(self, path: Path) -> None:
        self.entries = read_journal(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, entry: Record) -> None:
        os.write(self._fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
        os.fsync(self._fd)

    def next_number(self) -> int:
        return max((int(e["n"]) for e in self.entries), default=0) + 1

    def unfinished(self) -> Record | None:
        """The last intent, if the process that wrote it died before its outcome."""
        if not self.entries or self.entries[-1]["t"] != "intent":
            return None
        return self.entries[-1]


def read_journal(path: Path) -> list[Record]:
    """Every complete line (a line cut by the kill, without its newline, was never confirmed)."""
    if not path.exists():
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    return [cast(Record, json.loads(line)) for line in complete.splitlines() if line]


# --- the burst ----------------------------------------------------------------------------------


class Worker:
    def __init__(self, services: ServiceRegistry, journal: Journal, rng: random.Random, shop: Record) -> None:
        self.s = services
        self.journal = journal
        self.rng = rng
        self.customers: list[str] = shop["customers"]
        self.products: list[str] = sorted(shop["products"])
        self.n = journal.next_number()
        self.name = f"{os.getpid()}"

    async def run(self, steps: int | None = None) -> None:
        """Write until killed (or for ``steps`` rounds of picking an operation)."""
        pending = self.journal.unfinished()
        if pending is not None and "key" in pending:
            await self.attempt(pending, retry=True)
        ops: list[tuple[Callable[[list[Order]], Record | None], int]] = [
            (self.place, 40),
            (self.pay, 20),
            (self.refund, 10),
            (self.cancel, 8),
            (self.ship, 8),
            (self.deliver, 4),
            (self.adjust, 10),
        ]
        choose, weights = [op for op, _ in ops], [w for _, w in ops]
        while steps is None or steps > 0:
            steps = None if steps is None else steps - 1
            listed = await self.s.orders.list(OrderQuery(limit=30))
            orders = listed.value.items if isinstance(listed, Success) else []
            intent = self.rng.choices(choose, weights)[0](orders)
            if intent is not None:
                await self.attempt(intent, retry=False)

    def _key(self, op: str) -> str:
        return f"crash-{op}-{self.name}-{self.n}"

    def place(self, orders: list[Order]) -> Record | None:
        del orders
        picked = self.rng.sample(self.products, self.rng.choice((1, 1, 2)))
        lines = [[product, self.rng.randint(1, 3)] for product in picked]
        return {"op": "place", "key": self._key("place"), "customer": self.rng.choice(self.customers), "lines": lines}

    def pay(self, orders: list[Order]) -> Record | None:
        target = self._pick(orders, "placed")
        if target is None:
            return None
        amount = None if self.rng.random() < 0.6 else max(1, target.outstanding_minor // 2)
        return {"op": "pay", "key": self._key("pay"), "order": target.id, "amount": amount}

    def refund(self, orders: list[Order]) -> Record | None:
        target = self._pick(orders, "paid", "shipped", "delivered")
        if target is None or target.refundable_minor <= 0:
            return None
        restock = target.status != "paid" and self.rng.random() < 0.5
        amount = self.rng.randint(1, target.refundable_minor)
        key, via = self._key("refund"), self._via()
        return {"op": "refund", "key": key, "order": target.id, "amount": amount, "restock": restock, "via": via}

    def _via(self) -> str:
        """How a person lets money go back: at the terminal, or by approving an approval request."""
        return self.rng.choice(("terminal", "approval"))

    def cancel(self, orders: list[Order]) -> Record | None:
        target = self._pick(orders, "placed", "paid")
        return None if target is None else {"op": "cancel", "order": target.id, "via": self._via()}

    def ship(self, orders: list[Order]) -> Record | None:
        target = self._pick(orders, "paid")
        return None if target is None else {"op": "ship", "order": target.id}

    def deliver(self, orders: list[Order]) -> Record | None:
        target = self._pick(orders, "shipped")
        return None if target is None else {"op": "deliver", "order": target.id}

    def adjust(self, orders: list[Order]) -> Record | None:
        del orders
        delta = self.rng.choice((4, 3, 2, -1, -2))
        return {"op": "adjust", "product": self.rng.choice(self.products), "delta": delta}

    def _pick(self, orders: list[Order], *statuses: str) -> Order | None:
        fitting = [o for o in orders if o.status in statuses]
        return self.rng.choice(fitting) if fitting else None

    async def attempt(self, intent: Record, *, retry: bool) -> None:
        if not retry:
            intent = {"t": "intent", "n": self.n, **intent}
            self.journal.write(intent)
            self.n += 1
        outcome = await self.perform(intent)
        if isinstance(outcome, dict):
            self.journal.write({"t": "done", "n": intent["n"], "op": intent["op"], "retry": retry, **outcome})
        else:
            self.journal.write({"t": "no", "n": intent["n"], "op": intent["op"], "retry": retry, "why": outcome})

    async def with_a_person(self, via: str, call: Callable[[Approval], Awaitable[R]]) -> R:
        """``call`` as a person lets it through: at the terminal (a preview, then the yes that
        `shopkeeper payments refund --yes` gives for that state) or through an approval request the
        seeded approver approves, then redeemed. A call that needs nobody is done by the first try."""
        if via == "terminal":
            asked = await call(PreviewOnly())
            needed = _needs_approval(asked)
            return asked if needed is None else await call(PersonConfirmed(seen=needed.bound))
        asked = await call(None)
        needed = _needs_approval(asked)
        if needed is None or needed.request is None:
            return asked
        approval_id = needed.request.id
        decided = await self.s.approvals.decide(approval_id, approve=True, name=APPROVER, passphrase=PASSPHRASE)
        # Another worker asking the same of the same order at the same state gets the same request (one
        # for the person to decide) and may have had it approved already: redeeming says who got it.
        assert isinstance(decided, Success) or getattr(decided, "field", None) == "approval_id", decided
        return await call(ApprovalGiven(approval_id))

    async def perform(self, intent: Record) -> Record | str:
        """The confirmed write's outcome, or the name of the result that refused it."""
        s, op = self.s, intent["op"]
        if op == "place":
            key = str(intent["key"])
            request = OrderCreate(
                customer_id=intent["customer"],
                lines=[OrderLineRequest(product_id=p, quantity=q) for p, q in intent["lines"]],
                # The key rides along in the order, so the test can count orders per key.
                shipping_address=ShippingAddress(
                    name=key, line1="1 Test St", postal_code="1000", city="X", country="BE"
                ),
            )
            placed = await s.orders.place(request, actor=ACTOR, idempotency_key=key)
            if not isinstance(placed, Success):
                return type(placed).__name__
            order = placed.value.order
            lines = [[line.product_id, line.quantity] for line in order.lines]
            return {"order": order.id, "lines": lines, "total": order.total_minor, "replayed": placed.value.replayed}
        if op == "pay":
            key = str(intent["key"])
            request = PaymentCreate(order_id=intent["order"], amount=intent["amount"], method="cash", reference=key)
            paid = await s.payments.record(request, actor=ACTOR, idempotency_key=key)
            if not isinstance(paid, Success):
                return type(paid).__name__
            payment = paid.value.payment
            return {"payment": payment.id, "order": payment.order_id, "amount": payment.amount_minor}
        if op == "refund":
            key = str(intent["key"])
            request = RefundCreate(
                order_id=intent["order"], amount=intent["amount"], reason=key, restock=intent["restock"]
            )
            asked = await self.with_a_person(
                intent["via"],
                lambda approval: s.payments.refund(request, actor=ACTOR, approval=approval, idempotency_key=key),
            )
            if not isinstance(asked, Success):
                return type(asked).__name__
            refunds = [r.id for r in asked.value.refunds]
            return {"order": asked.value.order.id, "refunds": refunds, "amount": asked.value.amount_minor}
        if op == "cancel":
            cancelled = await self.with_a_person(
                intent["via"],
                lambda approval: s.orders.cancel(intent["order"], reason=None, actor=ACTOR, approval=approval),
            )
            if not isinstance(cancelled, Success):
                return type(cancelled).__name__
            return {"order": cancelled.value.order.id, "refunds": [r.id for r in cancelled.value.refunds]}
        if op == "ship":
            tracking = f"T{intent['n']}"
            shipped = await s.orders.mark_shipped(
                intent["order"], Shipment(carrier="Crash Post", tracking_number=tracking), actor=ACTOR
            )
            return {"order": shipped.value.id} if isinstance(shipped, Success) else type(shipped).__name__
        if op == "deliver":
            delivered = await s.orders.mark_delivered(intent["order"], actor=ACTOR)
            return {"order": delivered.value.id} if isinstance(delivered, Success) else type(delivered).__name__
        assert op == "adjust", intent
        reason = "restock" if intent["delta"] > 0 else "damage"
        adjusted = await s.catalog.adjust_stock(
            intent["product"], StockAdjustment(delta=intent["delta"], reason=reason), actor=ACTOR
        )
        if not isinstance(adjusted, Success):
            return type(adjusted).__name__
        return {
            "product": adjusted.value.product.id,
            "before": adjusted.value.before,
            "after": adjusted.value.product.stock,
        }


def _needs_approval(result: object) -> NeedsApproval[object] | None:
    return cast(NeedsApproval[object], result) if isinstance(result, NeedsApproval) else None


async def work(db_path: Path, journal_path: Path, seed_value: str, shop: Record) -> None:
    async with open_services(db_path) as services:
        worker = Worker(services, Journal(journal_path), random.Random(seed_value), shop)  # noqa: S311 - seeded, so a run repeats; nothing secret
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await worker.run()


def main(argv: list[str]) -> None:
    db_path, journal_path, seed_value, shop_path = Path(argv[0]), Path(argv[1]), argv[2], Path(argv[3])
    shop = cast(Record, json.loads(shop_path.read_text()))
    anyio.run(work, db_path, journal_path, seed_value, shop)


if __name__ == "__main__":
    main(sys.argv[1:])
