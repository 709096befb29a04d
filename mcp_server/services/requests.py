"""Safe retries for calls that move money or stock (a person's approval: ``services.approvals``).

Idempotency keys: the first call with a key stores a hash of its arguments and the ids of
what it made, in the same transaction as the change. A retry with the same key and
arguments gets those things back and changes nothing; the same key with other arguments is
a conflict. Failed calls store nothing, so they can be retried with the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime

from mcp_server.models.requests import StoredRequest
from mcp_server.services.ports import UnitOfWork
from mcp_server.services.results import Conflict


def request_hash(arguments: Mapping[str, object]) -> str:
    """A stable fingerprint of a call's (validated, normalised) arguments."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def replay(uow: UnitOfWork, tool: str, key: str | None, digest: str) -> tuple[str, ...] | Conflict | None:
    """The ids an earlier call with ``key`` made, a Conflict if it had other arguments, or None."""
    if key is None:
        return None
    stored = await uow.requests.find(tool, key)
    if stored is None:
        return None
    if stored.request_hash != digest:
        return Conflict(
            f"the idempotency_key '{key[:60]}' was already used at {stored.created_at:%Y-%m-%d %H:%M:%S} UTC "
            "with different arguments",
            entity="idempotency_key",
            existing_id=stored.result_ids[0] if stored.result_ids else None,
        )
    return stored.result_ids


async def remember(
    uow: UnitOfWork, tool: str, key: str | None, digest: str, result_ids: tuple[str, ...], at: datetime
) -> None:
    if key is not None:
        await uow.requests.remember(tool, key, StoredRequest(digest, result_ids, at))
