"""``shopkeeper audit list`` and ``shopkeeper notifications list|retry``: what happened, what was sent."""

from __future__ import annotations

import argparse

from mcp_server.handlers.cli import output
from mcp_server.handlers.cli.common import Call, Subcommands, check, command, group, paging, validated
from mcp_server.models.audit import AuditEntryRead, AuditPageRead, AuditQuery
from mcp_server.models.outbox import (
    NOTIFICATION_STATUSES,
    NotificationPageRead,
    NotificationQuery,
    NotificationRead,
    OutboxMessage,
)
from mcp_server.utils.time import isoformat_utc


async def audit_list(args: argparse.Namespace, call: Call) -> int:
    values = {"entity_type": args.entity_type, "entity_id": args.entity_id, "action": args.action}
    query = validated(AuditQuery, values | {"limit": args.limit, "cursor": args.cursor})
    found = check(await call.services.audit.list(query))
    entries = [AuditEntryRead.from_record(e, detailed=args.detailed) for e in found.items]
    rows = [[e.occurred_at, e.actor, e.action, e.entity_id, e.summary()] for e in found.items]
    return call.show(
        AuditPageRead(entries=entries, next_cursor=found.next_cursor),
        lambda: output.page(
            "audit entries", ["when (UTC)", "actor", "action", "entity", "what changed"], rows, found.next_cursor
        ),
    )


def _when(m: OutboxMessage) -> str:
    if m.sent_at is not None:
        return isoformat_utc(m.sent_at)
    return "-" if m.status == "failed" else f"next try {isoformat_utc(m.next_attempt_at)}"


async def notifications_list(args: argparse.Namespace, call: Call) -> int:
    query = validated(NotificationQuery, {"status": args.status, "limit": args.limit, "cursor": args.cursor})
    found = check(await call.services.notifications.list(query))
    rows = [[m.id, m.kind, m.recipient, m.status, m.attempts, _when(m), m.last_error] for m in found.items]
    headers = ["id", "kind", "to", "status", "attempts", "sent / next", "last error"]
    return call.show(
        NotificationPageRead(
            notifications=[NotificationRead.from_record(m) for m in found.items], next_cursor=found.next_cursor
        ),
        lambda: output.page("notifications", headers, rows, found.next_cursor),
    )


async def notifications_retry(args: argparse.Namespace, call: Call) -> int:
    message = check(await call.services.notifications.retry(args.notification_id, actor=call.actor))
    return call.show(
        NotificationRead.from_record(message),
        lambda: (
            f"Re-queued {message.id} ({message.kind} to {message.recipient}); attempts start again from 0. "
            "The worker sends it soon (or run 'shopkeeper worker --once')."
        ),
    )


def register(groups: Subcommands) -> None:
    audit = group(groups, "audit", summary="who changed what, and when", description="The audit log.")
    list_ = command(
        audit,
        "list",
        audit_list,
        summary="list changes, newest first",
        description="Every change any door made, newest first: who, what, and the fields that changed. "
        "Filter by --entity-id for one record's history (an order's payments and refunds are filed under it).",
    )
    list_.add_argument("--entity-type", help="only this kind of entity, e.g. customer, product, order")
    list_.add_argument("--entity-id", metavar="ID", help="only changes to this entity, e.g. cus_...")
    list_.add_argument("--action", help="only this action, e.g. customer.updated")
    list_.add_argument("--detailed", action="store_true", help="with --json: include the before/after values")
    paging(list_)

    notifications = group(
        groups, "notifications", summary="queued e-mails and how delivery went", description="The e-mail outbox."
    )
    listed = command(
        notifications,
        "list",
        notifications_list,
        summary="list queued, sent and failed e-mails, oldest first",
        description="E-mails the shop queued and how delivery went, oldest first. '--status failed' shows the "
        "ones that gave up, with the reason.",
    )
    listed.add_argument("--status", choices=NOTIFICATION_STATUSES, help="only this status")
    paging(listed)
    retry = command(
        notifications,
        "retry",
        notifications_retry,
        summary="re-queue a failed e-mail",
        description="Put a failed e-mail back in the queue with a fresh set of attempts. Fix the cause first "
        "(e.g. the address with 'shopkeeper customers update').",
    )
    retry.add_argument("notification_id", metavar="ID", help="the failed notification's id (ntf_...)")
