"""Sales reports: aggregated in the database, shaped here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from mcp_server.models.common import Day, not_a_bool

MAX_REPORT_DAYS = 366
MAX_DAILY_ROWS_DAYS = 186  # one table row per day (and currency) keeps the answer well under 25,000 tokens
GroupBy = Literal["day", "product"]


class SalesQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    date_from: Day
    date_to: Day
    group_by: GroupBy = "day"
    top: Annotated[int, Field(ge=1, le=100), BeforeValidator(not_a_bool)] = 5


@dataclass(frozen=True, slots=True)
class DayWindow:
    """One local calendar day as a UTC interval ``[start, end)``."""

    day: date
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class DaySales:
    day: date
    currency: str
    orders: int
    units: int
    revenue_minor: int
    refunds_minor: int
    cancelled: int


@dataclass(frozen=True, slots=True)
class ProductSales:
    product_id: str
    sku: str
    name: str
    currency: str
    orders: int
    units: int
    revenue_minor: int


@dataclass(frozen=True, slots=True)
class SalesSummary:
    date_from: date
    date_to: date
    timezone: str
    group_by: GroupBy
    days: list[DaySales]
    products: list[ProductSales]
    top: list[ProductSales]


class DaySalesRead(BaseModel):
    day: date
    currency: str
    orders: int
    units: int
    revenue_minor: int
    refunds_minor: int
    net_minor: int
    cancelled: int


class ProductSalesRead(BaseModel):
    product_id: str
    sku: str
    name: str
    currency: str
    orders: int
    units: int
    revenue_minor: int


class SalesSummaryRead(BaseModel):
    date_from: date
    date_to: date
    timezone: str
    group_by: GroupBy
    days: list[DaySalesRead]
    products: list[ProductSalesRead]
    top_products: list[ProductSalesRead]

    @classmethod
    def from_record(cls, s: SalesSummary) -> SalesSummaryRead:
        def product(p: ProductSales) -> ProductSalesRead:
            return ProductSalesRead(
                product_id=p.product_id,
                sku=p.sku,
                name=p.name,
                currency=p.currency,
                orders=p.orders,
                units=p.units,
                revenue_minor=p.revenue_minor,
            )

        return cls(
            date_from=s.date_from,
            date_to=s.date_to,
            timezone=s.timezone,
            group_by=s.group_by,
            days=[
                DaySalesRead(
                    day=d.day,
                    currency=d.currency,
                    orders=d.orders,
                    units=d.units,
                    revenue_minor=d.revenue_minor,
                    refunds_minor=d.refunds_minor,
                    net_minor=d.revenue_minor - d.refunds_minor,
                    cancelled=d.cancelled,
                )
                for d in s.days
            ],
            products=[product(p) for p in s.products],
            top_products=[product(p) for p in s.top],
        )
