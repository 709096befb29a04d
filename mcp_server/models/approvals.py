"""Approvals: a person, never the assistant, lets money go back.

An approver is a person with a passphrase (only its slow hash is kept). An approval request
(``apr_…``) is made by a call that needs a person; it is bound to that call's exact arguments and
to the state it was previewed against, expires, and is used at most once, in the transaction that
makes the change. Its life: pending → approved → used, or pending → denied; pending or approved
past ``expires_at`` reads as expired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

APPROVAL_ID_PREFIX = "apr"
APPROVER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
MIN_PASSPHRASE_CHARS = 8

StoredStatus = Literal["pending", "approved", "denied", "used"]
ApprovalStatus = Literal["pending", "approved", "denied", "expired", "used"]


def approver_name(name: str) -> str | None:
    """``name`` as approvers are filed (lower case), or None when it is not a valid approver name."""
    folded = name.strip().lower()
    return folded if APPROVER_NAME.match(folded) else None


@dataclass(frozen=True, slots=True)
class Approver:
    name: str
    passphrase_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    id: str
    use_case: str
    arguments_digest: str  # the exact (normalised) arguments of the call that asked
    state_digest: str  # the arguments and the state they were previewed against (amounts, status)
    summary: str  # the preview in the shop's words, for the person deciding
    subject_id: str  # the order (or payment) it is about
    actor: str  # who asked
    created_at: datetime
    expires_at: datetime
    status: StoredStatus = "pending"
    decided_by: str | None = None  # "person:NAME"
    decided_at: datetime | None = None
    used_at: datetime | None = None

    def status_at(self, now: datetime) -> ApprovalStatus:
        if self.status in ("pending", "approved") and now >= self.expires_at:
            return "expired"
        return self.status

    def decide(self, approve: bool, by: str, now: datetime) -> ApprovalRequest:
        """Approved or denied by ``by``; only a pending request that has not expired can be decided."""
        if self.status_at(now) != "pending":
            raise ValueError(f"approval request {self.id} is {self.status_at(now)}, not pending")
        return replace(self, status="approved" if approve else "denied", decided_by=by, decided_at=now)

    def use(self, now: datetime) -> ApprovalRequest:
        if self.status_at(now) != "approved":
            raise ValueError(f"approval request {self.id} is {self.status_at(now)}, not approved")
        return replace(self, status="used", used_at=now)
