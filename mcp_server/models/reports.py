"""Sales reports: aggregated in the database, shaped here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from mcp_server.models.common import not_a_bool

MAX_REPORT_DAYS = 366
GroupBy = Literal["day", "product"]


class SalesQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    date_from: date
    date_to: date
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
