"""Approvals: the use cases that need a person, and the one gate each of them passes.

A call that needs a person and carries no approval becomes an approval request (``apr_…``) and
changes nothing else. A person approves it with their approver passphrase (on the command line
or the approval page), or says yes in the client's own form, or at the shop's terminal. The
call is then repeated with the request's id: the change happens only if that request was
approved, for the same arguments, against the same state, before it expired, and never before;
it is marked used in the transaction that makes the change. No argument a model can send
approves anything by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from mcp_server.models.approvals import (
    APPROVAL_ID_PREFIX,
    MIN_PASSPHRASE_CHARS,
    ApprovalRequest,
    ApprovalStatus,
    Approver,
    approver_name,
)
from mcp_server.models.events import ApprovalDecided, ApprovalRequested, ApproverAdded, ApproverRemoved
from mcp_server.services.ports import Clock, IdFactory, Passphrases
from mcp_server.services.results import Conflict, NotFound, Rejected, Success
from mcp_server.services.unit_of_work import EventfulUnitOfWork, EventfulUnitOfWorkFactory
from mcp_server.utils.ids import canonical_id

T = TypeVar("T")

REFUND = "payments_refund"
CANCEL = "orders_cancel"  # of an order with money to give back
SETTLE = "payments_settle"
NEEDS_A_PERSON: frozenset[str] = frozenset({REFUND, CANCEL, SETTLE})
"""Every use case that moves money back or settles it by hand: a new one joins here, in one line."""

APPROVAL_TTL = timedelta(minutes=10)
MAX_PASSPHRASE_CHARS = 1024


@dataclass(frozen=True, slots=True)
class PersonConfirmed:
    """A person said yes just now, where no model can answer for them: the client's own form, or the
    shop's terminal (``seen``: the state digest of the preview they saw, when the door showed one)."""

    seen: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalGiven:
    """The caller repeats a call with the id of the approval request it made."""

    approval_id: str


@dataclass(frozen=True, slots=True)
class PreviewOnly:
    """Show what would happen (the terminal asks its person next); make no approval request."""


Approval = PersonConfirmed | ApprovalGiven | PreviewOnly | None


@dataclass(frozen=True, slots=True)
class NeedsApproval(Generic[T]):
    """Nothing was changed. ``request``: the approval request made (None when only a preview was asked
    for, or when no approver exists yet: ``approvers`` is then False)."""

    preview: T
    request: ApprovalRequest | None
    bound: str  # the state digest the preview was made against
    approvers: bool = True


@dataclass(frozen=True, slots=True)
class GoAhead:
    """The change may happen; ``actor`` is who the audit log names for it."""

    actor: str


@dataclass(frozen=True, slots=True)
class Asked:
    """What a use case tells the gate about the call that needs a person."""

    use_case: str
    arguments: str  # digest of the call's exact (normalised) arguments
    bound: str  # digest of the arguments and the state they were previewed against
    summary: str  # the preview in the shop's words
    subject_id: str
    actor: str


class ApprovalDesk:
    """The gate every use case in ``NEEDS_A_PERSON`` passes, inside the unit of work of its change."""

    def __init__(self, clock: Clock, ids: IdFactory, *, ttl: timedelta = APPROVAL_TTL, required: bool = True) -> None:
        self._clock = clock
        self._ids = ids
        self._ttl = ttl
        self.required = required

    async def gate(
        self, uow: EventfulUnitOfWork, asked: Asked, approval: Approval, preview: T
    ) -> GoAhead | NeedsApproval[T] | Rejected:
        """GoAhead, or why not: a request made (committed here), or a refusal. Nothing else is changed."""
        if asked.use_case not in NEEDS_A_PERSON:
            return GoAhead(asked.actor)
        match approval:
            case PreviewOnly():
                return NeedsApproval(preview, None, asked.bound)
            case PersonConfirmed(seen=seen):
                if seen is not None and seen != asked.bound:
                    return Rejected(
                        "what the preview showed has changed since (another payment, refund or cancel): nothing was "
                        "done; look at the new preview and decide again",
                        field="confirmation",
                    )
                return GoAhead(asked.actor)
            case ApprovalGiven(approval_id=approval_id):
                return await self._redeem(uow, asked, approval_id)
            case None:
                if not self.required:
                    return GoAhead(_noted(asked.actor, "(SHOPKEEPER_APPROVALS=none)"))
                if not await uow.requests.approvers():
                    return NeedsApproval(preview, None, asked.bound, approvers=False)
                now = self._clock.now()
                waiting = await self._same_request_waiting(uow, asked, now)
                if waiting is not None:  # the same caller asked again before the person decided: one request
                    return NeedsApproval(preview, waiting, asked.bound)
                request = ApprovalRequest(
                    id=self._ids.new(APPROVAL_ID_PREFIX),
                    use_case=asked.use_case,
                    arguments_digest=asked.arguments,
                    state_digest=asked.bound,
                    summary=asked.summary,
                    subject_id=asked.subject_id,
                    actor=asked.actor,
                    created_at=now,
                    expires_at=now + self._ttl,
                )
                await uow.requests.add_approval(request)
                uow.raise_event(ApprovalRequested(asked.actor, request))
                await uow.commit()
                return NeedsApproval(preview, request, asked.bound)

    @staticmethod
    async def _same_request_waiting(uow: EventfulUnitOfWork, asked: Asked, now: datetime) -> ApprovalRequest | None:
        for request in await uow.requests.approvals(status="pending", limit=100):
            same = (request.use_case, request.arguments_digest, request.state_digest, request.actor) == (
                asked.use_case,
                asked.arguments,
                asked.bound,
                asked.actor,
            )
            if same and request.status_at(now) == "pending":
                return request
        return None

    async def _redeem(self, uow: EventfulUnitOfWork, asked: Asked, approval_id: str) -> GoAhead | Rejected:
        wanted = canonical_id(approval_id, APPROVAL_ID_PREFIX)
        request = await uow.requests.approval(wanted) if wanted else None
        if request is None:
            return Rejected(
                f"there is no approval request {approval_id[:60]!r}: call again without approval_id to ask for one",
                field="approval_id",
            )
        if request.use_case != asked.use_case or request.arguments_digest != asked.arguments:
            return Rejected(
                f"approval request {request.id} was made for a different call: repeat exactly the call that made it "
                "(same tool, same arguments), or call without approval_id to ask for a new one",
                field="approval_id",
            )
        now = self._clock.now()
        match request.status_at(now):
            case "pending":
                return Rejected(
                    f"approval request {request.id} is still waiting for a person: nothing was done",
                    field="approval_id",
                )
            case "denied":
                return Rejected(
                    f"approval request {request.id} was denied by {request.decided_by}: nothing was done; do not "
                    "ask again unless the person says so",
                    field="approval_id",
                )
            case "expired":
                return Rejected(
                    f"approval request {request.id} expired at {request.expires_at:%Y-%m-%d %H:%M} UTC before it was "
                    "used: call again without approval_id to ask for a new one",
                    field="approval_id",
                )
            case "used":
                return Rejected(
                    f"approval request {request.id} was already used: each approval works once", field="approval_id"
                )
            case "approved":
                pass
        if request.state_digest != asked.bound:
            return Rejected(
                f"the order changed since approval request {request.id} was made (another payment, refund or "
                "cancel): nothing was done; call again without approval_id for a new preview and approval",
                field="approval_id",
            )
        if not await uow.requests.move_approval(request.use(now), was="approved"):
            return Rejected(
                f"approval request {request.id} was already used: each approval works once", field="approval_id"
            )
        return GoAhead(_noted(asked.actor, f"(approved by {request.decided_by} in {request.id})"))


MAX_ACTOR_CHARS = 200


def _noted(actor: str, note: str) -> str:
    """``actor`` with how the change was approved, within the audit log's 200 characters for an actor."""
    return f"{actor[: MAX_ACTOR_CHARS - len(note) - 1]} {note}"


@dataclass(frozen=True, slots=True)
class ApprovalRead:
    """An approval request as a person deciding sees it (its status read now)."""

    request: ApprovalRequest
    status: ApprovalStatus


class ApprovalService:
    """Approvers (added and removed at the shop's terminal) and their decisions on approval requests."""

    def __init__(self, uow: EventfulUnitOfWorkFactory, clock: Clock, passphrases: Passphrases) -> None:
        self._uow = uow
        self._clock = clock
        self._passphrases = passphrases

    async def add_approver(self, name: str, passphrase: str, *, actor: str) -> Success[Approver] | Rejected | Conflict:
        filed = approver_name(name)
        if filed is None:
            return Rejected(
                "an approver's name is 1 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit",
                field="name",
            )
        if not MIN_PASSPHRASE_CHARS <= len(passphrase) <= MAX_PASSPHRASE_CHARS:
            return Rejected(
                f"a passphrase needs {MIN_PASSPHRASE_CHARS} to {MAX_PASSPHRASE_CHARS} characters", field="passphrase"
            )
        approver = Approver(filed, await self._passphrases.hash(passphrase), self._clock.now())
        async with self._uow(write=True) as uow:
            if not await uow.requests.add_approver(approver):
                return Conflict(f"there is already an approver named {filed!r}", entity="approver", existing_id=filed)
            uow.raise_event(ApproverAdded(actor, approver))
            await uow.commit()
        return Success(approver)

    async def approvers(self) -> list[Approver]:
        async with self._uow(write=False) as uow:
            return await uow.requests.approvers()

    async def remove_approver(self, name: str, *, actor: str) -> Success[str] | NotFound:
        filed = approver_name(name) or name
        async with self._uow(write=True) as uow:
            if not await uow.requests.remove_approver(filed):
                return NotFound("approver", f"name {filed!r}")
            uow.raise_event(ApproverRemoved(actor, filed))
            await uow.commit()
        return Success(filed)

    async def requests(self, *, waiting_only: bool, limit: int = 50) -> list[ApprovalRead]:
        """Approval requests, newest first (``waiting_only``: those a person can still decide)."""
        now = self._clock.now()
        async with self._uow(write=False) as uow:
            found = await uow.requests.approvals(status="pending" if waiting_only else None, limit=limit)
        reads = [ApprovalRead(r, r.status_at(now)) for r in found]
        return [r for r in reads if r.status == "pending"] if waiting_only else reads

    async def get(self, approval_id: str) -> Success[ApprovalRead] | NotFound:
        wanted = canonical_id(approval_id, APPROVAL_ID_PREFIX)
        async with self._uow(write=False) as uow:
            found = await uow.requests.approval(wanted) if wanted else None
        if found is None:
            return NotFound("approval request", f"id {approval_id[:60]!r}")
        return Success(ApprovalRead(found, found.status_at(self._clock.now())))

    async def decide(
        self, approval_id: str, *, approve: bool, name: str, passphrase: str
    ) -> Success[ApprovalRead] | NotFound | Rejected:
        """Approve or deny as the approver ``name``, who proves it with their passphrase."""
        filed = approver_name(name)
        async with self._uow(write=False) as uow:
            approver = await uow.requests.approver(filed) if filed else None
        # Hash even for an unknown name, so the time taken does not tell which names exist.
        known = await self._passphrases.verify(
            passphrase[:MAX_PASSPHRASE_CHARS], approver.passphrase_hash if approver else ""
        )
        if approver is None or not known:
            return Rejected("that approver name and passphrase do not match: nothing was decided", field="passphrase")
        wanted = canonical_id(approval_id, APPROVAL_ID_PREFIX)
        async with self._uow(write=True) as uow:
            request = await uow.requests.approval(wanted) if wanted else None
            if request is None:
                return NotFound("approval request", f"id {approval_id[:60]!r}")
            now = self._clock.now()
            status = request.status_at(now)
            if status != "pending":
                return Rejected(
                    f"approval request {request.id} is {status}: only a pending request can be decided",
                    field="approval_id",
                )
            decided = request.decide(approve, f"person:{approver.name}", now)
            if not await uow.requests.move_approval(decided, was="pending"):
                return Rejected(f"approval request {request.id} was decided meanwhile", field="approval_id")
            uow.raise_event(ApprovalDecided(decided.decided_by or "", request, decided))
            await uow.commit()
        return Success(ApprovalRead(decided, decided.status))
