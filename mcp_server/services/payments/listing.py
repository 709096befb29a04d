"""The ledger, page by page: payments and refunds, of one order or of some days."""

from __future__ import annotations

from mcp_server.models.common import Page
from mcp_server.models.orders import ORDER_ID_PREFIX
from mcp_server.models.payments import Payment, PaymentQuery
from mcp_server.services.order_lookup import not_an_order_id
from mcp_server.services.pagination import page_of, resume_after
from mcp_server.services.payments.base import UseCase
from mcp_server.services.reports import day_bounds
from mcp_server.services.results import Malformed, Rejected, Success, unavailable_when_busy
from mcp_server.utils.ids import canonical_id

_CURSOR_KIND = "payments"


class Listing(UseCase):
    """``payments_list``: the ledger, keyset-paginated."""

    @unavailable_when_busy
    async def list(self, query: PaymentQuery) -> Success[Page[Payment]] | Rejected:
        order_id = query.order_id
        if order_id is not None:
            order_id = canonical_id(order_id, ORDER_ID_PREFIX)
            if order_id is None:
                return not_an_order_id(query.order_id or "")
        if query.date_from and query.date_to and query.date_from > query.date_to:
            return Malformed("the first day (date_from) is after the last day (date_to)", field="date_from")
        filters = {
            "order_id": order_id,
            "from": query.date_from.isoformat() if query.date_from else None,
            "to": query.date_to.isoformat() if query.date_to else None,
        }
        after = resume_after(query.cursor, _CURSOR_KIND, filters, int)
        if isinstance(after, Rejected):
            return after
        start, end = day_bounds(query.date_from, query.date_to, self._timezone)
        async with self._uow(write=False) as uow:
            rows = await uow.payments.page_after(
                order_id=order_id, created_from=start, created_to=end, after_sequence=after, limit=query.limit + 1
            )
        return Success(page_of(rows, query.limit, _CURSOR_KIND, filters, key=lambda p: p.sequence))
