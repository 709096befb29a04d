"""Opaque keyset cursors.

A cursor carries the sort key of the last row a page showed and a fingerprint
of the filters that page was asked with, so a cursor cannot be replayed under
different filters. It is base64url JSON: opaque to agents, not a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

MAX_CURSOR_LENGTH = 512


class CursorError(ValueError):
    """The cursor is malformed or belongs to another query."""


def fingerprint(kind: str, filters: Mapping[str, object]) -> str:
    canonical = json.dumps({"kind": kind, "filters": filters}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(kind: str, filters: Mapping[str, object], after: list[str | int]) -> str:
    payload = {"k": kind, "f": fingerprint(kind, filters), "a": after}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, filters: Mapping[str, object], arity: int) -> list[str | int]:
    """Return the sort key after which the next page starts, or raise CursorError."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise CursorError("the cursor is too long to be one this server issued")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload: Any = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise CursorError("the cursor is not one this server issued") from exc
    if not isinstance(payload, dict):
        raise CursorError("the cursor is not one this server issued")
    data: dict[str, Any] = payload  # pyright: ignore[reportUnknownVariableType]
    after = data.get("a")
    if data.get("f") is None or not isinstance(after, list):
        raise CursorError("the cursor is not one this server issued")
    keys: list[Any] = after  # pyright: ignore[reportUnknownVariableType]
    if len(keys) != arity or not all(isinstance(k, str | int) and not isinstance(k, bool) for k in keys):
        raise CursorError("the cursor is not one this server issued")
    if data.get("k") != kind:
        raise CursorError(f"the cursor belongs to another list ({data.get('k')!s:.20}), not this one; start over")
    if data["f"] != fingerprint(kind, filters):
        raise CursorError("the cursor belongs to a list with different filters; repeat the same filters or start over")
    return [k for k in keys if isinstance(k, str | int)]
