"""The sales chart (views/charts.py): the promised size for any number of days, bars where the sales are."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from mcp_server.handlers.views import charts
from mcp_server.models.reports import DaySales, SalesSummary
from tests.png import pixels_of, png_size

FIRST = date(2026, 3, 1)


def summary(days: int, sales: dict[int, tuple[int, int]], currency: str = "EUR") -> SalesSummary:
    """``days`` days from FIRST; ``sales`` maps a day's number to its (revenue, refunds) in minor units."""
    rows = [
        DaySales(FIRST + timedelta(days=n), currency, 1, 1, revenue, refunds, 0)
        for n, (revenue, refunds) in sorted(sales.items())
    ]
    return SalesSummary(FIRST, FIRST + timedelta(days=days - 1), "Europe/Berlin", "day", rows, [], [])


@pytest.mark.parametrize(
    ("days", "sales"),
    [
        (1, {}),  # no sales at all
        (1, {0: (1250, 0)}),
        (30, {}),
        (90, {n: (1000 + 37 * n, 500 if n % 7 == 0 else 0) for n in range(0, 90, 2)}),
        (186, {n: (99_999_00, 0) for n in range(186)}),  # the longest day-by-day report, big figures
    ],
    ids=["1-day-empty", "1-day", "30-days-empty", "90-days", "186-days"],
)
def test_every_chart_is_800_by_400(days: int, sales: dict[int, tuple[int, int]]) -> None:
    drawn = charts.draw(summary(days, sales))

    assert png_size(drawn.png) == (charts.WIDTH_PX, charts.HEIGHT_PX) == (800, 400)
    assert drawn.caption.endswith("(PNG, 800x400)")


def test_bars_show_revenue_and_refunds_and_nothing_without_sales() -> None:
    empty = charts.draw(summary(30, {}))
    one_day = charts.draw(summary(1, {0: (1250, 0)}))
    with_refunds = charts.draw(summary(90, {n: (5000, 1000) for n in range(0, 90, 3)}))

    assert pixels_of(empty.png, charts.REVENUE_COLOUR) == 0
    assert empty.currencies == ()
    assert empty.caption == "revenue per day, no sales in this period (PNG, 800x400)"
    # One day's bar: a week's slot wide (about 800/7 * 0.8 px) and most of the plot's height.
    assert pixels_of(one_day.png, charts.REVENUE_COLOUR) > 70 * 250
    assert pixels_of(one_day.png, charts.REFUNDS_COLOUR) == 0
    assert one_day.caption == "revenue per day in EUR (PNG, 800x400)"
    assert pixels_of(with_refunds.png, charts.REVENUE_COLOUR) > 0
    assert pixels_of(with_refunds.png, charts.REFUNDS_COLOUR) > 0


def test_days_without_sales_count_zero_and_every_day_has_its_place() -> None:
    days, series, left_out = charts.daily_series(summary(5, {1: (1250, 0), 3: (500, 250)}))

    assert days == [FIRST + timedelta(days=n) for n in range(5)]
    assert [(s.currency, s.revenue, s.refunds) for s in series] == [
        ("EUR", [0.0, 12.5, 0.0, 5.0, 0.0], [0.0, 0.0, 0.0, 2.5, 0.0])
    ]
    assert left_out == ()


def test_currencies_get_a_panel_each_highest_revenue_first_and_the_rest_are_named() -> None:
    rows = [
        DaySales(FIRST, currency, 1, 1, revenue, 0, 0)
        for currency, revenue in [("EUR", 100), ("JPY", 5000), ("USD", 300), ("GBP", 200)]
    ]
    many = SalesSummary(FIRST, FIRST + timedelta(days=2), "UTC", "day", rows, [], [])

    drawn = charts.draw(many)

    assert drawn.currencies == ("JPY", "USD", "GBP")  # 5000 yen, 3.00 USD, 2.00 GBP, 1.00 EUR
    assert drawn.left_out == ("EUR",)
    assert "not drawn: EUR" in drawn.caption
    assert png_size(drawn.png) == (800, 400)


@pytest.mark.parametrize(("days", "labels"), [(1, 1), (8, 8), (9, 5), (31, 8), (90, 8), (186, 8)])
def test_date_labels_are_thinned_to_at_most_eight(days: int, labels: int) -> None:
    every = charts.every_day(FIRST, FIRST + timedelta(days=days - 1))

    shown = charts.date_labels(every)

    assert len(shown) == labels
    assert shown[0] == (0, FIRST.isoformat())
    assert all(text == every[n].isoformat() for n, text in shown)
