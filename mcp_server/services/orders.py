"""Order use cases: price and place, look up, list, cancel, ship, deliver."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo

from mcp_server.models.catalog import PRODUCT_ID_PREFIX, Product
from mcp_server.models.common import Page
from mcp_server.models.customers import CUSTOMER_ID_PREFIX, Customer
from mcp_server.models.orders import (
    ALLOWED_ACTIONS,
    ORDER_ID_PREFIX,
    LineProblem,
    Order,
    OrderAction,
    OrderCreate,
    OrderLine,
    OrderQuery,
    Shipment,
)
from mcp_server.models.outbox import NotificationKind, OutboxMessage
from mcp_server.models.payments import Payment
from mcp_server.services.audit import AuditRecorder
from mcp_server.services.cards import CardDesk
from mcp_server.services.ledger import (
    allocate,
    order_mail,
    pay_back,
    restock_all,
    returned,
    still_pending,
    units_to_restock,
)
from mcp_server.services.pagination import page_of, resume_after
from mcp_server.services.ports import Clock, IdFactory, PaymentGateway, UnitOfWork, UnitOfWorkFactory
from mcp_server.services.requests import (
    Approval,
    ConfirmationTokens,
    NeedsConfirmation,
    redeem,
    remember,
    replay,
    request_hash,
)
from mcp_server.services.results import (
    Conflict,
    IllegalTransition,
    NotFound,
    Rejected,
    Success,
    unavailable_when_busy,
)
from mcp_server.utils.ids import canonical_id
from mcp_server.utils.money import MAX_MINOR_UNITS

PLACE = "orders_place"
CANCEL = "orders_cancel"
_CURSOR_KIND = "orders"


@dataclass(frozen=True, slots=True)
class Quote:
    """An order priced against the catalog as it is now; ``problems`` say what stops placing it."""

    customer: Customer
    lines: tuple[OrderLine, ...]
    currency: str | None
    total_minor: int
    stock: dict[int, int]  # line number → units in stock now
    problems: tuple[LineProblem, ...]


@dataclass(frozen=True, slots=True)
class Placed:
    order: Order
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class OrderDetail:
    order: Order
    customer: Customer | None
    payments: list[Payment]


@dataclass(frozen=True, slots=True)
class Cancellation:
    """A cancellation, previewed or done: what goes back to stock and to the customer."""

    order: Order
    customer: Customer | None
    refund_minor: int
    restocked_units: int
    refunds: tuple[Payment, ...] = ()


class OrderService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdFactory,
        tokens: ConfirmationTokens,
        timezone: tzinfo,
        gateway: PaymentGateway | None = None,
        *,
        cards: CardDesk | None = None,
    ) -> None:
        """``cards``: the process's one card desk (the entrypoint's); without it one is made on ``gateway``."""
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._tokens = tokens
        self._timezone = timezone
        self._cards = cards or CardDesk(uow, clock, ids, gateway)
        self._audit = AuditRecorder(clock, ids)

    # -- placing ---------------------------------------------------------------------------

    @unavailable_when_busy
    async def quote(self, request: OrderCreate) -> Success[Quote] | NotFound | Rejected:
        """Price the order and check stock without writing anything (a dry run)."""
        async with self._uow(write=False) as uow:
            return await self._price(uow, request)

    @unavailable_when_busy
    async def place(
        self, request: OrderCreate, *, actor: str, idempotency_key: str | None = None
    ) -> Success[Placed] | NotFound | Rejected | Conflict:
        """Reserve stock, snapshot prices and record the order, its audit entry and e-mail at once.

        Any bad line means nothing is reserved, and the result names every bad line.
        """
        digest = request_hash(_normalised(request))
        async with self._uow(write=True) as uow:
            earlier = await replay(uow, PLACE, idempotency_key, digest)
            if isinstance(earlier, Conflict):
                return earlier
            if earlier is not None:
                order = await uow.orders.get(earlier[0])
                return Success(Placed(order, replayed=True)) if order else NotFound("order", f"id {earlier[0]}")
            priced = await self._price(uow, request)
            if not isinstance(priced, Success):
                return priced
            quote = priced.value
            if quote.problems:
                return _bad_lines(quote.problems)
            assert quote.currency is not None  # a quote without problems has at least one priced line
            now = self._clock.now()
            for line in quote.lines:
                # Conditional decrement: under concurrency the database, not this check, has the last word.
                if await uow.products.adjust_stock(line.product_id, -line.quantity, now) is None:
                    product = await uow.products.get(line.product_id)
                    have = product.stock if product else 0
                    return _bad_lines([LineProblem(line.line_no, line.sku, _short_of(have, line.quantity))])
            order = Order(
                id=self._ids.new(ORDER_ID_PREFIX),
                customer_id=quote.customer.id,
                status="paid" if quote.total_minor == 0 else "placed",
                currency=quote.currency,
                total_minor=quote.total_minor,
                paid_minor=0,
                refunded_minor=0,
                units=sum(line.quantity for line in quote.lines),
                lines=quote.lines,
                shipping_address=request.shipping_address.record() if request.shipping_address else None,
                carrier=None,
                tracking_number=None,
                placed_at=now,
                updated_at=now,
                line_count=len(quote.lines),
            )
            await uow.orders.add(order)
            await self._audit.record(
                uow,
                actor=actor,
                action="order.placed",
                entity_type="order",
                entity_id=order.id,
                before=None,
                after=order.audit_state()
                | {"customer_id": order.customer_id, "units": order.units, "lines": len(order.lines)},
            )
            await uow.outbox.add(self._mail("order_placed", quote.customer, order))
            await remember(uow, PLACE, idempotency_key, digest, (order.id,), now)
            await uow.commit()
        return Success(Placed(order))

    async def _price(self, uow: UnitOfWork, request: OrderCreate) -> Success[Quote] | NotFound | Rejected:
        customer_id = canonical_id(request.customer_id, CUSTOMER_ID_PREFIX)
        if customer_id is None:
            return Rejected(
                f"'{request.customer_id[:80]}' is not a customer id (cus_ followed by 26 letters and digits)",
                field="customer_id",
            )
        customer = await uow.customers.get(customer_id)
        if customer is None:
            return NotFound("customer", f"id {customer_id}")
        problems: list[LineProblem] = []
        priced: list[OrderLine] = []
        stock: dict[int, int] = {}
        seen: dict[str, int] = {}
        currency: str | None = None
        for number, wanted in enumerate(request.lines, start=1):
            label = wanted.sku or wanted.product_id or "?"
            product = await self._product_for(uow, wanted.sku, wanted.product_id)
            if isinstance(product, str):
                problems.append(LineProblem(number, label, product))
                continue
            label = product.sku
            if product.id in seen:
                problems.append(
                    LineProblem(number, label, f"repeats line {seen[product.id]}; put the whole quantity on one line")
                )
                continue
            seen[product.id] = number
            stock[number] = product.stock
            if not product.active:
                problems.append(LineProblem(number, label, "the product is inactive (not for sale)"))
            elif product.stock < wanted.quantity:
                problems.append(LineProblem(number, label, _short_of(product.stock, wanted.quantity)))
            if currency is None:
                currency = product.currency
            elif product.currency != currency:
                problems.append(
                    LineProblem(
                        number,
                        label,
                        f"is priced in {product.currency}, but the order is in {currency} (one currency per order)",
                    )
                )
            priced.append(
                OrderLine(
                    line_no=len(priced) + 1,
                    product_id=product.id,
                    sku=product.sku,
                    name=product.name,
                    quantity=wanted.quantity,
                    unit_price_minor=product.price_minor,
                )
            )
        total = sum(line.total_minor for line in priced)
        if total > MAX_MINOR_UNITS:
            problems.append(LineProblem(0, "total", "the order total is larger than this shop can record"))
        return Success(Quote(customer, tuple(priced), currency, total, stock, tuple(problems)))

    @staticmethod
    async def _product_for(uow: UnitOfWork, sku: str | None, product_id: str | None) -> Product | str:
        if (sku is None) == (product_id is None):
            return "give exactly one of sku or product_id"
        if product_id is not None:
            canonical = canonical_id(product_id, PRODUCT_ID_PREFIX)
            if canonical is None:
                return "not a product id (prd_ followed by 26 letters and digits)"
            return await uow.products.get(canonical) or f"no product with id {canonical}"
        assert sku is not None
        return await uow.products.find_by_sku(sku) or f"no product with SKU '{sku}'"

    # -- reading ---------------------------------------------------------------------------

    @unavailable_when_busy
    async def get(self, order_id: str) -> Success[OrderDetail] | NotFound | Rejected:
        canonical = canonical_id(order_id, ORDER_ID_PREFIX)
        if canonical is None:
            return not_an_order_id(order_id)
        async with self._uow(write=False) as uow:
            found = await uow.orders.detail(canonical)
        if found is None:
            return NotFound("order", f"id {canonical}")
        return Success(OrderDetail(*found))

    @unavailable_when_busy
    async def list(self, query: OrderQuery) -> Success[Page[Order]] | Rejected:
        customer_id = query.customer_id
        if customer_id is not None:
            customer_id = canonical_id(customer_id, CUSTOMER_ID_PREFIX)
            if customer_id is None:
                return Rejected(f"'{query.customer_id}' is not a customer id", field="customer_id")
        if query.placed_from and query.placed_to and query.placed_from > query.placed_to:
            return Rejected("the first day (placed_from) is after the last day (placed_to)", field="placed_from")
        filters = {
            "status": query.status,
            "customer_id": customer_id,
            "from": query.placed_from.isoformat() if query.placed_from else None,
            "to": query.placed_to.isoformat() if query.placed_to else None,
        }
        before = resume_after(query.cursor, _CURSOR_KIND, filters, str)
        if isinstance(before, Rejected):
            return before
        async with self._uow(write=False) as uow:
            rows = await uow.orders.page_before(
                status=query.status,
                customer_id=customer_id,
                placed_from=self.day_start(query.placed_from) if query.placed_from else None,
                placed_to=self.day_start(query.placed_to + timedelta(days=1)) if query.placed_to else None,
                before_id=before,
                limit=query.limit + 1,
            )
        return Success(page_of(rows, query.limit, _CURSOR_KIND, filters, key=lambda o: o.id))

    def day_start(self, day: date) -> datetime:
        """Midnight at the start of ``day`` in the shop's time zone."""
        return datetime.combine(day, time(0), self._timezone)

    # -- moving along the state machine ----------------------------------------------------

    @unavailable_when_busy
    async def preview_cancel(self, order_id: str) -> Success[Cancellation] | NotFound | Rejected | IllegalTransition:
        async with self._uow(write=False) as uow:
            found = await self._cancellable(uow, order_id)
            if not isinstance(found, tuple):
                return found
            order, customer, payments = found
            refund = sum(p.refundable_minor for p in payments)
            return Success(Cancellation(order, customer, refund, units_to_restock(order)))

    @unavailable_when_busy
    async def cancel(
        self, order_id: str, *, reason: str | None, actor: str, approval: Approval
    ) -> Success[Cancellation] | NeedsConfirmation[Cancellation] | NotFound | Rejected | IllegalTransition:
        """Cancel: restock every line and refund whatever was paid. When money goes back, a person
        must confirm first (``approval``); without one this returns a preview and a token.

        A card payment still pending at the gateway is settled first (it may turn out paid); while
        it cannot be, the order is not cancelled. Card refunds go to the gateway after the
        cancellation is committed; one it cannot be asked about stays pending, its money reserved,
        until the next refund of the order sends it again with the same key."""
        for _ in range(2):
            async with self._uow(write=True) as uow:
                found = await self._cancellable(uow, order_id)
                if not isinstance(found, tuple):
                    return found
                waiting = [p for p in found[2] if p.kind == "payment" and p.status == "pending"]
                if not waiting:
                    done = await self._cancel_in(uow, found, reason=reason, actor=actor, approval=approval)
                    break
            settled = await self._cards.resume(waiting, actor=actor)
            if any(s.pending for s in settled):
                first = next(s for s in settled if s.pending)
                later = (
                    f"a person must settle it first (shopkeeper payments settle {first.row.id})"
                    if first.needs_person
                    else "try again in a minute"
                )
                return Rejected(
                    f"card payment {first.row.id} of order {first.order.id} is still pending at the payment "
                    f"gateway ({first.note or 'no answer yet'}), so the order cannot be cancelled yet; "
                    f"nothing was changed: {later}",
                    field="pending_payment",
                )
        else:  # pragma: no cover - a settled payment cannot be pending again
            return Rejected("the order's card payments keep changing; try again", field="order_id")
        if not isinstance(done, Success) or not still_pending(list(done.value.refunds)):
            return done
        cancellation = done.value
        settled = {
            s.row.id: s.row for s in await self._cards.resume(still_pending(list(cancellation.refunds)), actor=actor)
        }
        async with self._uow(write=False) as uow:
            order = await uow.orders.get(cancellation.order.id) or cancellation.order
        return Success(
            replace(cancellation, order=order, refunds=tuple(settled.get(r.id, r) for r in cancellation.refunds))
        )

    async def _cancel_in(
        self,
        uow: UnitOfWork,
        found: tuple[Order, Customer | None, list[Payment]],
        *,
        reason: str | None,
        actor: str,
        approval: Approval,
    ) -> Success[Cancellation] | NeedsConfirmation[Cancellation] | Rejected:
        order, customer, payments = found
        # What the payments can still give back: a card refund pending at the gateway holds its share.
        refund = sum(p.refundable_minor for p in payments)
        digest = request_hash({"order_id": order.id, "reason": reason, "refundable": refund})
        if refund > 0:
            if approval is None:
                token, expires = self._tokens.issue(CANCEL, digest)
                preview = Cancellation(order, customer, refund, units_to_restock(order))
                return NeedsConfirmation(preview, token, expires)
            if refused := await redeem(uow, self._tokens, approval, CANCEL, digest):
                return refused
        now = self._clock.now()
        restocked, units = await restock_all(uow, order, now)
        refunds = await pay_back(
            uow, self._ids, allocate(payments, refund), reason=reason or "order cancelled", restock=True, at=now
        )
        # Card refunds count as returned once the gateway has made them (CardDesk books them).
        cancelled = replace(
            restocked, status="cancelled", refunded_minor=order.refunded_minor + returned(refunds), updated_at=now
        )
        await uow.orders.update(cancelled)
        await self._audit.record(
            uow,
            actor=actor,
            action="order.cancelled",
            entity_type="order",
            entity_id=order.id,
            before=order.audit_state(),
            after=cancelled.audit_state()
            | {"restocked_units": units, "refund_ids": " ".join(r.id for r in refunds) or None}
            | ({"reason": reason} if reason else {}),
        )
        if customer is not None:
            # Only money already returned: a card refund gets its own e-mail once the gateway makes it.
            await uow.outbox.add(self._mail("order_cancelled", customer, cancelled, refund_minor=returned(refunds)))
        await uow.commit()
        return Success(Cancellation(cancelled, customer, refund, units, tuple(refunds)))

    async def _cancellable(
        self, uow: UnitOfWork, order_id: str
    ) -> tuple[Order, Customer | None, list[Payment]] | NotFound | Rejected | IllegalTransition:
        loaded = await self._load(uow, order_id, "cancel")
        if not isinstance(loaded, Order):
            return loaded
        customer = await uow.customers.get(loaded.customer_id)
        return loaded, customer, await uow.payments.for_order(loaded.id)

    @unavailable_when_busy
    async def mark_shipped(
        self, order_id: str, shipment: Shipment, *, actor: str
    ) -> Success[Order] | NotFound | Rejected | IllegalTransition:
        async with self._uow(write=True) as uow:
            order = await self._load(uow, order_id, "ship")
            if not isinstance(order, Order):
                return order
            now = self._clock.now()
            shipped = replace(
                order,
                status="shipped",
                carrier=shipment.carrier,
                tracking_number=shipment.tracking_number,
                updated_at=now,
            )
            await uow.orders.update(shipped)
            await self._audit.record(
                uow,
                actor=actor,
                action="order.shipped",
                entity_type="order",
                entity_id=order.id,
                before={"status": order.status},
                after={"status": "shipped", "carrier": shipment.carrier, "tracking_number": shipment.tracking_number},
            )
            customer = await uow.customers.get(order.customer_id)
            if customer is not None:
                await uow.outbox.add(self._mail("order_shipped", customer, shipped))
            await uow.commit()
        return Success(shipped)

    @unavailable_when_busy
    async def mark_delivered(
        self, order_id: str, *, actor: str
    ) -> Success[Order] | NotFound | Rejected | IllegalTransition:
        async with self._uow(write=True) as uow:
            order = await self._load(uow, order_id, "deliver")
            if not isinstance(order, Order):
                return order
            delivered = replace(order, status="delivered", updated_at=self._clock.now())
            await uow.orders.update(delivered)
            await self._audit.record(
                uow,
                actor=actor,
                action="order.delivered",
                entity_type="order",
                entity_id=order.id,
                before={"status": order.status},
                after={"status": "delivered"},
            )
            await uow.commit()
        return Success(delivered)

    async def _load(
        self, uow: UnitOfWork, order_id: str, action: OrderAction
    ) -> Order | NotFound | Rejected | IllegalTransition:
        canonical = canonical_id(order_id, ORDER_ID_PREFIX)
        if canonical is None:
            return not_an_order_id(order_id)
        order = await uow.orders.get(canonical)
        if order is None:
            return NotFound("order", f"id {canonical}")
        if action not in ALLOWED_ACTIONS[order.status]:
            return IllegalTransition(order.id, order.status, action, order.allowed)
        return order

    def _mail(
        self, kind: NotificationKind, customer: Customer, order: Order, *, refund_minor: int = 0
    ) -> OutboxMessage:
        return order_mail(self._ids, kind, customer, order, self._clock.now(), refund_minor=refund_minor)


def not_an_order_id(value: str) -> Rejected:
    return Rejected(
        f"'{value[:80]}' is not an order id (order ids are ord_ followed by 26 letters and digits)", field="order_id"
    )


def _short_of(have: int, want: int) -> str:
    return f"insufficient stock: {have} in stock, {want} requested"


def _bad_lines(problems: tuple[LineProblem, ...] | list[LineProblem]) -> Rejected:
    count = len({problem.line for problem in problems})
    listed = "; ".join(problem.describe() for problem in problems)
    return Rejected(f"{count} line{'s' if count != 1 else ''} cannot be ordered: {listed}", field="lines")


def _normalised(request: OrderCreate) -> dict[str, object]:
    """The request as the key check compares it: ids and SKUs in any letter case are the same call."""
    data = request.model_dump(mode="json")
    data["customer_id"] = canonical_id(request.customer_id, CUSTOMER_ID_PREFIX) or request.customer_id
    for line, wanted in zip(data["lines"], request.lines, strict=True):
        if wanted.sku is not None:
            line["sku"] = wanted.sku.lower()
        if wanted.product_id is not None:
            line["product_id"] = canonical_id(wanted.product_id, PRODUCT_ID_PREFIX) or wanted.product_id
    return data
