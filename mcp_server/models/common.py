"""Shapes shared by every domain: pages, list limits, response formats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from mcp_server.utils.time import supported_day

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

ResponseFormat = Literal["concise", "detailed"]


def not_a_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be a whole number, not true/false")
    return value


Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT), BeforeValidator(not_a_bool)]
Cursor = Annotated[str, Field(min_length=1, max_length=512)]
Day = Annotated[date, AfterValidator(supported_day)]
"""A calendar day a query names (YYYY-MM-DD), from 1970-01-01 to 9998-12-31: every date argument."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paginated list; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


class PartialUpdate(BaseModel):
    """Input for an update: only the fields the caller gave are applied (None may clear one)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def given(self) -> dict[str, Any]:
        """The fields the caller actually supplied, with their values."""
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}
