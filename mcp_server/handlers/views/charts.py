"""The sales summary's daily revenue as a PNG chart, drawn once for every door (MCP image, CLI file).

matplotlib is imported inside ``draw`` only: starting the server, listing tools or a report without a
chart never loads it (about a second and tens of MB). Drawing blocks, so a door runs it in a worker
thread; one lock serialises drawings, as matplotlib's global state (rcParams, font cache) is not
thread-safe.
"""

from __future__ import annotations

import io
import math
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from mcp_server.models.reports import SalesSummary
from mcp_server.utils.money import CURRENCY_EXPONENTS

WIDTH_PX = 800
HEIGHT_PX = 400
DPI = 100  # WIDTH_PX x HEIGHT_PX exactly: the figure is saved at this dpi, never cropped to its contents
MAX_CURRENCIES = 3  # one panel per currency; more would leave each too thin to read
MAX_DATE_LABELS = 8  # ISO dates side by side in 800 px
MIN_DAY_SLOTS = 7
MIME_TYPE = "image/png"
REVENUE_COLOUR = "#2f6f9f"
REFUNDS_COLOUR = "#d9822b"  # drawn below zero: money that went back

_drawing = threading.Lock()


@dataclass(frozen=True, slots=True)
class Series:
    """One currency's revenue and refunds per day, in major units (12.5 for 1250 EUR cents)."""

    currency: str
    revenue: list[float]
    refunds: list[float]


@dataclass(frozen=True, slots=True)
class Chart:
    png: bytes
    currencies: tuple[str, ...]
    """Drawn, one panel each (the highest revenue first)."""
    left_out: tuple[str, ...]
    """Currencies with sales that did not fit (more than MAX_CURRENCIES)."""

    @property
    def caption(self) -> str:
        """What the picture shows, for the doors' text: "revenue per day in EUR (PNG, 800x400)"."""
        shown = (
            f"revenue per day in {' and '.join(self.currencies)}"
            if self.currencies
            else "revenue per day, no sales in this period"
        )
        if self.left_out:
            shown += f"; not drawn: {', '.join(self.left_out)} (the table has them)"
        return f"{shown} (PNG, {WIDTH_PX}x{HEIGHT_PX})"


def every_day(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def daily_series(summary: SalesSummary) -> tuple[list[date], list[Series], tuple[str, ...]]:
    """Every day of the report (days without sales count zero), a series per currency (highest
    revenue first, at most MAX_CURRENCIES), and the currencies left out."""
    days = every_day(summary.date_from, summary.date_to)
    index = {day: n for n, day in enumerate(days)}
    figures: dict[str, tuple[list[float], list[float]]] = {}
    for row in summary.days:
        if row.day not in index:
            continue
        unit = 10 ** CURRENCY_EXPONENTS.get(row.currency, 2)
        revenue, refunds = figures.setdefault(row.currency, ([0.0] * len(days), [0.0] * len(days)))
        revenue[index[row.day]] += row.revenue_minor / unit
        refunds[index[row.day]] += row.refunds_minor / unit
    ranked = sorted(figures.items(), key=lambda item: (-sum(item[1][0]), item[0]))
    series = [Series(currency, revenue, refunds) for currency, (revenue, refunds) in ranked]
    return days, series[:MAX_CURRENCIES], tuple(s.currency for s in series[MAX_CURRENCIES:])


def date_labels(days: list[date]) -> list[tuple[int, str]]:
    """Where to label the x axis: every ``step``-th day, so that at most MAX_DATE_LABELS fit."""
    step = max(1, math.ceil(len(days) / MAX_DATE_LABELS))
    return [(n, days[n].isoformat()) for n in range(0, len(days), step)]


def _amount(value: float, _position: object = None) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _empty(panel: Any, message: str) -> None:
    panel.set_ylim(0, 1)
    panel.set_yticks([0])
    panel.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, color="#666666", transform=panel.transAxes)


def draw(summary: SalesSummary) -> Chart:
    """The report's revenue per day (refunds below zero) as an 800x400 PNG; blocks for ~0.1 s (a
    second more the first time, importing matplotlib)."""
    days, series, left_out = daily_series(summary)
    with _drawing:
        png = _render(summary, days, series)
    return Chart(png=png, currencies=tuple(s.currency for s in series), left_out=left_out)


def _render(summary: SalesSummary, days: list[date], series: list[Series]) -> bytes:
    # Imported here, not at the top: see the module's docstring. Agg draws into memory: no display,
    # no pyplot (whose global figure registry is not for servers), and only matplotlib's own fonts.
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    def bars(values: list[float], color: str, label: str) -> PolyCollection:
        # One collection, not a patch per day (Axes.bar): 186 days draw in a fraction of the time.
        half = 0.4
        shapes = [[(x - half, 0.0), (x - half, v), (x + half, v), (x + half, 0.0)] for x, v in enumerate(values) if v]
        return PolyCollection(shapes, facecolors=color, edgecolors="none", label=label)

    with matplotlib.style.context("default"):  # the same picture whatever a matplotlibrc on this machine says
        # Any: matplotlib's stubs leave most keyword arguments untyped, which strict pyright rejects.
        figure: Any = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        panels: list[Any] = list(figure.subplots(max(1, len(series)), 1, sharex=True, squeeze=False)[:, 0])
        figure.suptitle(
            f"Revenue per day, {summary.date_from.isoformat()} to {summary.date_to.isoformat()} ({summary.timezone})",
            fontsize=11,
        )
        for panel, one in zip(panels, series, strict=False):
            panel.add_collection(bars(one.revenue, REVENUE_COLOUR, "revenue"))
            panel.add_collection(bars([-r for r in one.refunds], REFUNDS_COLOUR, "refunds"))
            panel.autoscale_view()
            if not any(one.revenue) and not any(one.refunds):
                _empty(panel, f"No sales in {one.currency} in this period")
            panel.axhline(0, color="#444444", linewidth=0.6)
            panel.set_ylabel(f"Revenue ({one.currency})", fontsize=9)
            panel.yaxis.set_major_formatter(FuncFormatter(_amount))
        if not series:
            _empty(panels[0], "No sales in this period")
            panels[0].set_ylabel("Revenue", fontsize=9)
        if any(any(one.refunds) for one in series):
            figure.legend(*panels[0].get_legend_handles_labels(), loc="outside right upper", fontsize=8, frameon=False)
        pad = max(0, MIN_DAY_SLOTS - len(days)) / 2  # a day or two: bars as wide as in a week's chart
        for panel in panels:
            panel.tick_params(labelsize=8)
            panel.grid(axis="y", color="#dddddd", linewidth=0.6)
            panel.set_axisbelow(True)
            panel.set_xlim(-0.6 - pad, len(days) - 0.4 + pad)
            panel.spines[["top", "right"]].set_visible(False)
        labels = date_labels(days)
        panels[-1].set_xticks([n for n, _ in labels], [text for _, text in labels])
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
