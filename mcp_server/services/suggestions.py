"""Near misses ("did you mean …"): the products or customers closest to a SKU, e-mail or name that
found nothing.

The database keeps the CANDIDATES rows that share the most pieces (runs of 2-3 letters) with what was
typed; difflib ranks those in Python and the best SHOWN above the cutoff are the suggestions. A SKU or an
e-mail is first looked for among the rows that start with the same character (typos rarely hit the first
one, and that cheap test spares most rows the LIKEs); only if that finds nothing are all rows scored.
The cost is a scan of one table on a lookup that already failed; ranking is bounded however big the shop is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import anyio

from mcp_server.models.suggestions import Candidate, Suggestion
from mcp_server.services.ports import UnitOfWork
from mcp_server.utils.similarity import (
    Matcher,
    closest,
    email_pieces,
    email_similarity,
    key_similarity,
    pieces,
    text_similarity,
)

CANDIDATES = 500
"""Rows the prefilter sends back at most, those sharing the most pieces; difflib ranks them in ~10-40 ms."""
SHOWN = 3
INLINE = 50
"""Up to this many candidates are ranked on the event loop (a few milliseconds at most)."""

_Score = Callable[[Matcher, Candidate], float]


async def near_skus(uow: UnitOfWork, typed: str, *, active_only: bool, line: int = 0) -> tuple[Suggestion, ...]:
    """Products whose SKU is closest to ``typed`` (only those for sale with ``active_only``)."""
    wanted = pieces(typed)

    def score(m: Matcher, c: Candidate) -> float:
        return key_similarity(m, c.key)

    first = typed[:1].lower()
    found = await uow.products.near(wanted, names=False, active_only=active_only, limit=CANDIDATES, first=first)
    if near := await _ranked(typed, found, score, line):
        return near
    found = await uow.products.near(wanted, names=False, active_only=active_only, limit=CANDIDATES)
    return await _ranked(typed, found, score, line)


async def near_products(uow: UnitOfWork, text: str, *, active_only: bool) -> tuple[Suggestion, ...]:
    """Products whose name or SKU is closest to ``text`` (part of a name or SKU)."""
    found = await uow.products.near(pieces(text), names=True, active_only=active_only, limit=CANDIDATES)
    return await _ranked(text, found, lambda m, c: text_similarity(m, c.name, c.key))


async def near_emails(uow: UnitOfWork, typed: str) -> tuple[Suggestion, ...]:
    """Customers whose e-mail address is closest to ``typed``."""
    wanted = email_pieces(typed)

    def score(m: Matcher, c: Candidate) -> float:
        return email_similarity(m, c.key)

    found = await uow.customers.near(wanted, names=False, limit=CANDIDATES, first=typed[:1].lower())
    if near := await _ranked(typed, found, score):
        return near
    return await _ranked(typed, await uow.customers.near(wanted, names=False, limit=CANDIDATES), score)


async def near_customers(uow: UnitOfWork, text: str) -> tuple[Suggestion, ...]:
    """Customers whose name or e-mail is closest to ``text`` (part of either)."""
    found = await uow.customers.near(pieces(text), names=True, limit=CANDIDATES)
    return await _ranked(text, found, lambda m, c: text_similarity(m, c.name, c.key, c.key.partition("@")[0]))


async def _ranked(typed: str, found: list[Candidate], score: _Score, line: int = 0) -> tuple[Suggestion, ...]:
    rank = functools.partial(closest, typed, found, score, limit=SHOWN)
    # Hundreds of candidates take tens of milliseconds of difflib: off the event loop, so other calls go on.
    ranked = await anyio.to_thread.run_sync(rank) if len(found) > INLINE else rank()
    return tuple(Suggestion(c, typed, s, line) for c, s in ranked)
