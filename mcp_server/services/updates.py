"""Partial updates: which fields may not be cleared, and which fields really changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mcp_server.services.results import Rejected


def cannot_clear(given: Mapping[str, object], required: Iterable[str]) -> Rejected | None:
    """Rejected if the caller passed null for a field that must always have a value."""
    for name in required:
        if name in given and given[name] is None:
            return Rejected(f"`{name}` cannot be cleared; give a new value instead", field=name)
    return None


def changed_fields(before: Mapping[str, object], after: Mapping[str, object]) -> tuple[str, ...]:
    """The keys of ``after`` whose values differ from ``before``, in ``after``'s order."""
    return tuple(name for name, value in after.items() if before.get(name) != value)
