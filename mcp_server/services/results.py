"""Result objects: what a use case can come back with.

Expected outcomes are values, not exceptions, so each door (MCP, CLI) decides how
to show them and what to suggest next.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, ParamSpec, TypeVar

from mcp_server.models.errors import (
    StorageBusyError,
    StorageFullError,
    StorageOfflineError,
    StorageReadOnlyError,
    StorageUnavailableError,
)
from mcp_server.models.suggestions import Suggestion

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Success(Generic[T]):
    value: T


@dataclass(frozen=True, slots=True)
class NotFound:
    """No ``entity`` matches ``key`` (e.g. entity="customer", key="id cus_…"); ``suggestions``: the
    closest ones, when what was typed (a SKU, an e-mail) may be a typo."""

    entity: str
    key: str
    suggestions: tuple[Suggestion, ...] = ()

    @property
    def message(self) -> str:
        return f"No {self.entity} with {self.key}."


@dataclass(frozen=True, slots=True)
class Conflict:
    """The change would break a rule about existing data (e.g. a duplicate e-mail)."""

    message: str
    entity: str
    existing_id: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """The request itself is not acceptable; ``field`` names the argument at fault; ``suggestions``: what
    a mistyped value (an order line's SKU) may have meant."""

    message: str
    field: str | None = None
    suggestions: tuple[Suggestion, ...] = ()


@dataclass(frozen=True, slots=True)
class Malformed(Rejected):
    """An argument has the wrong shape (an id without its prefix, days in the wrong order): the caller's
    mistake, which no state of the shop would accept; doors treat it as a bad argument."""


@dataclass(frozen=True, slots=True)
class IllegalTransition:
    """The order's status does not allow the action; ``allowed`` are the actions it does allow."""

    order_id: str
    status: str
    action: str
    allowed: tuple[str, ...]

    @property
    def message(self) -> str:
        if not self.allowed:
            return f"order {self.order_id} is {self.status}, a final status, so it cannot {self.action}"
        allowed = ", ".join(self.allowed)
        return f"order {self.order_id} is {self.status}, so it cannot {self.action}. Allowed now: {allowed}"


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Something the use case needs is not reachable right now; trying later may work.

    ``remedy`` is set when waiting alone will not help: what a person must do first, in words
    every door can use ("free space on the disk that holds the shop's database").
    """

    message: str
    remedy: str | None = None


Failure = NotFound | Conflict | Rejected | IllegalTransition | Unavailable


BUSY = Unavailable("the shop's database is busy with another writer; nothing was changed, retry in a few seconds")
DISK_FULL = Unavailable(
    "the disk that holds the shop's database is full; nothing was changed",
    remedy="free space on that disk",
)
OFFLINE = Unavailable(
    "the shop's database server could not be reached; nothing was changed, retry in a minute",
    remedy="check that the database server is running and reachable from Shopkeeper",
)
READ_ONLY = Unavailable(
    "the shop's database file is read-only; nothing was changed (reading still works)",
    remedy="make the database file and its folder writable for the user running Shopkeeper "
    "(and restart Shopkeeper if it was started while they were read-only)",
)


def storage_unavailable(error: StorageUnavailableError) -> Unavailable:
    """The answer for a database that cannot take the work: busy, full or read-only."""
    match error:
        case StorageFullError():
            return DISK_FULL
        case StorageReadOnlyError():
            return READ_ONLY
        case StorageOfflineError():
            return OFFLINE
        case StorageBusyError() | _:
            return BUSY


def unavailable_when_busy(use_case: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | Unavailable]]:
    """A use case that answers Unavailable, instead of raising, when the database cannot take the
    work: locked by another writer, its disk full, or its file read-only."""

    @functools.wraps(use_case)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Unavailable:
        try:
            return await use_case(*args, **kwargs)
        except StorageUnavailableError as exc:
            return storage_unavailable(exc)

    return wrapper
