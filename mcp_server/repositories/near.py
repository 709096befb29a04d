"""Near misses: the rows whose text columns contain the most of a few pieces of a mistyped value.

One scan with a LIKE per piece and column, scored and cut to ``limit`` in the database, so a big shop
sends back only the best few hundred candidates for the service to rank.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, String, bindparam, case, func, literal, or_, select

from mcp_server.repositories.sql import like_escape


def near_statement(
    shown: Sequence[ColumnElement[Any]],
    searched: Sequence[ColumnElement[Any]],
    count: int,
    *,
    where: Sequence[ColumnElement[bool]] = (),
    order_key: ColumnElement[Any],
) -> Select[Any]:
    """``shown`` columns of rows with at least one of ``count`` pieces (binds p0, p1 …) in a ``searched``
    column, most pieces first, ties by ``order_key``; bind ``limit`` too."""
    terms: list[ColumnElement[Any]] = []
    for index in range(count):
        needle = bindparam(f"p{index}", type_=String)
        found = or_(*(column.contains(needle, autoescape=False, escape="\\") for column in searched))
        terms.append(case((found, 1), else_=0))
    score = functools.reduce(operator.add, terms, literal(0)).label("score")
    scored = select(*shown, order_key.label("order_key"), score).where(*where).subquery()
    columns: list[ColumnElement[Any]] = [scored.c[str(column.key)] for column in shown]
    return (
        select(*columns)
        .where(scored.c.score > 0)
        .order_by(scored.c.score.desc(), scored.c.order_key)
        .limit(bindparam("limit"))
    )


def starts_with(column: ColumnElement[Any]) -> ColumnElement[bool]:
    """``column`` begins with the character bound as ``first``: a cheap test that spares most rows the LIKEs."""
    return func.substr(column, 1, 1) == bindparam("first", type_=String)


def near_params(pieces: Sequence[str], limit: int, first: str | None = None) -> dict[str, Any]:
    params = {f"p{index}": like_escape(piece) for index, piece in enumerate(pieces)} | {"limit": limit}
    return params | ({"first": first} if first is not None else {})
