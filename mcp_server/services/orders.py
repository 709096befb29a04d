"""Order use cases: price and place, look up, list, cancel (``services.cancellation``), ship, deliver."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo

from mcp_server.models.catalog import PRODUCT_ID_PREFIX, Product
from mcp_server.models.common import Page
from mcp_server.models.customers import CUSTOMER_ID_PREFIX, Customer
from mcp_server.models.errors import StorageUnavailableError
from mcp_server.models.events import OrderDelivered, OrderPlaced, OrderShipped
from mcp_server.models.orders import (
    ORDER_ID_PREFIX,
    LineProblem,
    Order,
    OrderCreate,
    OrderLine,
    OrderQuery,
    Shipment,
)
from mcp_server.models.payments import Payment
from mcp_server.models.suggestions import Suggestion
from mcp_server.services.approvals import Approval, ApprovalDesk, NeedsApproval
from mcp_server.services.cancellation import Cancellation, Cancelling
from mcp_server.services.cards import CardDesk
from mcp_server.services.order_lookup import load_order, not_an_order_id
from mcp_server.services.pagination import page_of, resume_after
from mcp_server.services.ports import Clock, IdFactory, PaymentGateway, UnitOfWork, UnitOfWorkFactory
from mcp_server.services.requests import (
    remember,
    replay,
    request_hash,
)
from mcp_server.services.results import (
    Conflict,
    IllegalTransition,
    Malformed,
    NotFound,
    Rejected,
    Success,
    Unavailable,
    unavailable_when_busy,
)
from mcp_server.services.suggestions import near_skus
from mcp_server.services.unit_of_work import with_events
from mcp_server.utils.ids import canonical_id
from mcp_server.utils.money import MAX_MINOR_UNITS

PLACE = "orders_place"
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
    unknown_skus: tuple[tuple[int, str], ...] = ()  # (line number, SKU as sent) of lines no product has
    suggestions: tuple[Suggestion, ...] = ()  # the SKUs those lines may have meant


@dataclass(frozen=True, slots=True)
class Placed:
    order: Order
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class OrderPage(Page[Order]):
    """A page of orders, with the names of their customers by id."""

    customer_names: dict[str, str]


@dataclass(frozen=True, slots=True)
class OrderDetail:
    order: Order
    customer: Customer | None
    payments: list[Payment]


class OrderService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdFactory,
        approvals: ApprovalDesk,
        timezone: tzinfo,
        gateway: PaymentGateway | None = None,
        *,
        cards: CardDesk | None = None,
    ) -> None:
        """``cards``: the process's one card desk (the entrypoint's); without it one is made on ``gateway``."""
        self._uow = with_events(uow, clock, ids)
        self._clock = clock
        self._ids = ids
        self._approvals = approvals
        self._timezone = timezone
        self._cancelling = Cancelling(uow, clock, ids, approvals, cards or CardDesk(uow, clock, ids, gateway))

    # -- placing ---------------------------------------------------------------------------

    @unavailable_when_busy
    async def quote(self, request: OrderCreate) -> Success[Quote] | NotFound | Rejected:
        """Price the order and check stock without writing anything (a dry run)."""
        async with self._uow(write=False) as uow:
            priced = await self._price(uow, request)
            if isinstance(priced, Success) and priced.value.unknown_skus:
                near = await _near_skus(uow, priced.value.unknown_skus)
                return Success(replace(priced.value, suggestions=near))
            return priced

    @unavailable_when_busy
    async def place(
        self, request: OrderCreate, *, actor: str, idempotency_key: str | None = None
    ) -> Success[Placed] | NotFound | Rejected | Conflict:
        """Reserve stock, snapshot prices and record the order, its audit entry and e-mail at once.

        Any bad line means nothing is reserved, and the result names every bad line; a line whose SKU
        no product has comes with the SKUs it may have meant (looked up after the write lock is let go).
        """
        placed = await self._place(request, actor=actor, idempotency_key=idempotency_key)
        if not isinstance(placed, _Unknown):
            return placed
        try:
            async with self._uow(write=False) as uow:
                return replace(placed.refused, suggestions=await _near_skus(uow, placed.skus))
        except StorageUnavailableError:  # the refusal stands without its suggestions
            return placed.refused

    async def _place(
        self, request: OrderCreate, *, actor: str, idempotency_key: str | None
    ) -> Success[Placed] | NotFound | Rejected | Conflict | _Unknown:
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
                refused = _bad_lines(quote.problems)
                return _Unknown(refused, quote.unknown_skus) if quote.unknown_skus else refused
            assert quote.currency is not None  # a quote without problems has at least one priced line
            now = self._clock.now()
            # In product order, so two orders for the same products lock their rows in one order (no deadlock).
            for line in sorted(quote.lines, key=lambda line: line.product_id):
                # Conditional decrement: under concurrency the database, not this check, has the last word.
                if await uow.products.adjust_stock(line.product_id, -line.quantity, now) is None:
                    product = await uow.products.get(line.product_id)
                    have = product.stock if product else 0
                    return _bad_lines([LineProblem(line.line_no, line.sku, _short_of(have, line.quantity))])
            order = Order.place(
                order_id=self._ids.new(ORDER_ID_PREFIX),
                customer_id=quote.customer.id,
                currency=quote.currency,
                lines=quote.lines,
                shipping_address=request.shipping_address.record() if request.shipping_address else None,
                at=now,
            )
            await uow.orders.add(order)
            uow.raise_event(OrderPlaced(actor, order, quote.customer))
            await remember(uow, PLACE, idempotency_key, digest, (order.id,), now)
            await uow.commit()
        return Success(Placed(order))

    async def _price(self, uow: UnitOfWork, request: OrderCreate) -> Success[Quote] | NotFound | Rejected:
        customer_id = canonical_id(request.customer_id, CUSTOMER_ID_PREFIX)
        if customer_id is None:
            return Malformed(
                f"'{request.customer_id[:80]}' is not a customer id (cus_ followed by 26 letters and digits)",
                field="customer_id",
            )
        customer = await uow.customers.get(customer_id)
        if customer is None:
            return NotFound("customer", f"id {customer_id}")
        problems: list[LineProblem] = []
        unknown: list[tuple[int, str]] = []
        priced: list[OrderLine] = []
        stock: dict[int, int] = {}
        seen: dict[str, int] = {}
        currency: str | None = None
        for number, wanted in enumerate(request.lines, start=1):
            label = wanted.sku or wanted.product_id or "?"
            product = await self._product_for(uow, wanted.sku, wanted.product_id)
            if isinstance(product, str):
                problems.append(LineProblem(number, label, product))
                if wanted.sku is not None and wanted.product_id is None:  # the only way a SKU alone fails
                    unknown.append((number, wanted.sku))
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
        return Success(Quote(customer, tuple(priced), currency, total, stock, tuple(problems), tuple(unknown)))

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
    async def list(self, query: OrderQuery) -> Success[OrderPage] | Rejected:
        given = customer_id = query.customer_id
        if given is not None:
            customer_id = canonical_id(given, CUSTOMER_ID_PREFIX)
            if customer_id is None:
                return Malformed(f"'{given[:80]}' is not a customer id", field="customer_id")
        if query.placed_from and query.placed_to and query.placed_from > query.placed_to:
            return Malformed("the first day (placed_from) is after the last day (placed_to)", field="placed_from")
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
            page = page_of(rows, query.limit, _CURSOR_KIND, filters, key=lambda o: o.id)
            # The page's customers' names in one batched read, not a join in the list's own query.
            names = await uow.customers.names({o.customer_id for o in page.items})
        return Success(OrderPage(items=page.items, next_cursor=page.next_cursor, customer_names=names))

    def day_start(self, day: date) -> datetime:
        """Midnight at the start of ``day`` in the shop's time zone."""
        return datetime.combine(day, time(0), self._timezone)

    # -- moving along the state machine ----------------------------------------------------

    async def preview_cancel(
        self, order_id: str
    ) -> Success[Cancellation] | NotFound | Rejected | IllegalTransition | Unavailable:
        """See ``Cancelling.preview_cancel``."""
        return await self._cancelling.preview_cancel(order_id)

    async def cancel(
        self,
        order_id: str,
        *,
        reason: str | None,
        actor: str,
        approval: Approval,
        may_give_money_back: bool = True,
    ) -> Success[Cancellation] | NeedsApproval[Cancellation] | NotFound | Rejected | IllegalTransition | Unavailable:
        """See ``Cancelling.cancel``."""
        return await self._cancelling.cancel(
            order_id, reason=reason, actor=actor, approval=approval, may_give_money_back=may_give_money_back
        )

    @unavailable_when_busy
    async def mark_shipped(
        self, order_id: str, shipment: Shipment, *, actor: str
    ) -> Success[Order] | NotFound | Rejected | IllegalTransition:
        async with self._uow(write=True) as uow:
            order = await load_order(uow, order_id, "ship")
            if not isinstance(order, Order):
                return order
            shipped = order.ship(shipment.carrier, shipment.tracking_number, self._clock.now())
            await uow.orders.update(shipped)
            uow.raise_event(OrderShipped(actor, order, shipped, await uow.customers.get(order.customer_id)))
            await uow.commit()
        return Success(shipped)

    @unavailable_when_busy
    async def mark_delivered(
        self, order_id: str, *, actor: str
    ) -> Success[Order] | NotFound | Rejected | IllegalTransition:
        async with self._uow(write=True) as uow:
            order = await load_order(uow, order_id, "deliver")
            if not isinstance(order, Order):
                return order
            delivered = order.deliver(self._clock.now())
            await uow.orders.update(delivered)
            uow.raise_event(OrderDelivered(actor, order, delivered))
            await uow.commit()
        return Success(delivered)


@dataclass(frozen=True, slots=True)
class BadLines(Rejected):
    """Placing (or pricing) refused because of ``problems``; nothing was reserved."""

    problems: tuple[LineProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class _Unknown:
    """Placing refused with lines whose SKU no product has: their suggestions are still to be found."""

    refused: BadLines
    skus: tuple[tuple[int, str], ...]


SUGGESTED_LINES = 5
"""Lines with an unknown SKU that get suggestions: each is one scan of the catalog."""


async def _near_skus(uow: UnitOfWork, unknown: tuple[tuple[int, str], ...]) -> tuple[Suggestion, ...]:
    found: list[Suggestion] = []
    for line, sku in unknown[:SUGGESTED_LINES]:
        found += await near_skus(uow, sku, active_only=True, line=line)
    return tuple(found)


def _short_of(have: int, want: int) -> str:
    return f"insufficient stock: {have} in stock, {want} requested"


def _bad_lines(problems: tuple[LineProblem, ...] | list[LineProblem]) -> BadLines:
    count = len({problem.line for problem in problems})
    listed = "; ".join(problem.describe() for problem in problems)
    message = f"{count} line{'s' if count != 1 else ''} cannot be ordered: {listed}"
    return BadLines(message, field="lines", problems=tuple(problems))


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
