"""Sales reports over local calendar days (the shop's time zone), aggregated by the database."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from mcp_server.models.reports import MAX_DAILY_ROWS_DAYS, MAX_REPORT_DAYS, DayWindow, SalesQuery, SalesSummary
from mcp_server.services.ports import UnitOfWorkFactory
from mcp_server.services.results import Rejected, Success, unavailable_when_busy


def local_midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def day_bounds(first: date | None, last: date | None, zone: tzinfo) -> tuple[datetime | None, datetime | None]:
    """The UTC interval ``[start, end)`` covering local days ``first`` to ``last`` inclusive."""
    start = local_midnight(first, zone) if first else None
    end = local_midnight(last + timedelta(days=1), zone) if last else None
    return start, end


def day_windows(first: date, last: date, zone: tzinfo) -> list[DayWindow]:
    days = (last - first).days + 1
    return [
        DayWindow(day, local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone))
        for day in (first + timedelta(days=n) for n in range(days))
    ]


class ReportService:
    def __init__(self, uow: UnitOfWorkFactory, timezone: tzinfo) -> None:
        self._uow = uow
        self._timezone = timezone

    @property
    def timezone_name(self) -> str:
        return str(self._timezone)

    @unavailable_when_busy
    async def sales_summary(self, query: SalesQuery) -> Success[SalesSummary] | Rejected:
        if query.date_from > query.date_to:
            return Rejected("the first day (date_from) is after the last day (date_to)", field="date_from")
        if (query.date_to - query.date_from).days + 1 > MAX_REPORT_DAYS:
            return Rejected(f"the range is longer than {MAX_REPORT_DAYS} days; split it", field="date_to")
        if query.group_by == "day" and (query.date_to - query.date_from).days + 1 > MAX_DAILY_ROWS_DAYS:
            return Rejected(
                f"a day-by-day report covers at most {MAX_DAILY_ROWS_DAYS} days; split the range, or use "
                f"group_by='product' for up to {MAX_REPORT_DAYS} days",
                field="date_to",
            )
        windows = day_windows(query.date_from, query.date_to, self._timezone)
        async with self._uow(write=False) as uow:
            days = await uow.reports.sales_by_day(windows) if query.group_by == "day" else []
            limit = 100 if query.group_by == "product" else query.top
            products = await uow.reports.sales_by_product(windows[0].start, windows[-1].end, limit)
        return Success(
            SalesSummary(
                date_from=query.date_from,
                date_to=query.date_to,
                timezone=self.timezone_name,
                group_by=query.group_by,
                days=days,
                products=products if query.group_by == "product" else [],
                top=products[: query.top],
            )
        )
