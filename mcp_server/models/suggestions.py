"""Near misses ("did you mean …"): the records a near-miss lookup reads and the suggestions it answers with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from mcp_server.models.common import Page

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A product or customer that may be the one meant: its id, its key (SKU or e-mail) and its name."""

    id: str
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Suggestion:
    """``candidate`` is close to ``typed`` (``score`` 0-1); ``line`` is the order line it is for (0: none)."""

    candidate: Candidate
    typed: str
    score: float
    line: int = 0


@dataclass(frozen=True, slots=True)
class SearchPage(Page[T]):
    """A page of a text search; when it found nothing, ``suggestions`` are the closest near misses."""

    suggestions: tuple[Suggestion, ...] = ()
