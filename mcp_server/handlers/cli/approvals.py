"""``shopkeeper approvers add|list|remove`` and ``shopkeeper approvals list|show|approve|deny``.

Approvers are people who may let money go back; each has a passphrase, typed at the terminal
(twice when set), never given as an argument or through the environment. An approval request is
made by an assistant's call that needs a person; an approver decides it here (or on the approval
page), with their name and passphrase.
"""

from __future__ import annotations

import argparse

from mcp_server.handlers.cli import output
from mcp_server.handlers.cli.common import Call, CommandError, Exit, Subcommands, check, command, group
from mcp_server.models.approvals import ApprovalRequest
from mcp_server.services.approvals import ApprovalRead
from mcp_server.utils.time import isoformat_utc


def _passphrase(call: Call, question: str) -> str:
    if not call.terminal.interactive():
        raise CommandError(
            "this asks for a passphrase at the terminal; run it in a terminal (never pass a passphrase as an "
            "argument or in the environment). Nothing was changed.",
            Exit.USAGE,
        )
    try:
        return call.terminal.secret(question)
    except (EOFError, KeyboardInterrupt):
        raise CommandError("no passphrase given. Nothing was changed.", Exit.NOT_CONFIRMED) from None


async def approvers_add(args: argparse.Namespace, call: Call) -> int:
    first = _passphrase(call, f"Passphrase for approver {args.name}: ")
    again = _passphrase(call, "The same passphrase again: ")
    if first != again:
        raise CommandError("the two passphrases differ. Nothing was changed.", Exit.USAGE)
    approver = check(await call.services.approvals.add_approver(args.name, first, actor=call.actor))
    return call.show(
        {"name": approver.name, "created_at": isoformat_utc(approver.created_at)},
        lambda: f"Approver {approver.name} added. They approve with `shopkeeper approvals approve apr_…`.",
    )


async def approvers_list(args: argparse.Namespace, call: Call) -> int:
    del args
    found = await call.services.approvals.approvers()
    rows = [[a.name, isoformat_utc(a.created_at)] for a in found]
    return call.show(
        {"approvers": [{"name": a.name, "created_at": isoformat_utc(a.created_at)} for a in found]},
        lambda: (
            output.page("approvers", ["name", "added (UTC)"], rows, None)
            if found
            else "No approvers yet: add one with `shopkeeper approvers add NAME`."
        ),
    )


async def approvers_remove(args: argparse.Namespace, call: Call) -> int:
    name = check(await call.services.approvals.remove_approver(args.name, actor=call.actor))
    return call.show({"removed": name}, lambda: f"Approver {name} removed.")


def _json(read: ApprovalRead) -> dict[str, object]:
    r = read.request
    return {
        "id": r.id,
        "status": read.status,
        "use_case": r.use_case,
        "summary": r.summary,
        "subject_id": r.subject_id,
        "asked_by": r.actor,
        "created_at": isoformat_utc(r.created_at),
        "expires_at": isoformat_utc(r.expires_at),
        "decided_by": r.decided_by,
    }


def _text(read: ApprovalRead) -> str:
    r: ApprovalRequest = read.request
    lines = [
        f"{r.id}: {read.status}",
        f"  what: {r.summary}",
        f"  asked by: {r.actor}, {isoformat_utc(r.created_at)} (open until {isoformat_utc(r.expires_at)})",
    ]
    if r.decided_by:
        lines.append(f"  decided by: {r.decided_by}")
    return "\n".join(lines)


async def approvals_list(args: argparse.Namespace, call: Call) -> int:
    found = await call.services.approvals.requests(waiting_only=not args.all)
    rows = [
        [a.request.id, a.status, a.request.actor, isoformat_utc(a.request.expires_at), a.request.summary] for a in found
    ]
    return call.show(
        {"approvals": [_json(a) for a in found]},
        lambda: (
            output.page("approval requests", ["id", "status", "asked by", "open until (UTC)", "what"], rows, None)
            if found
            else ("No approval requests." if args.all else "Nothing waits for approval.")
        ),
    )


async def approvals_show(args: argparse.Namespace, call: Call) -> int:
    found = check(await call.services.approvals.get(args.approval_id))
    return call.show(_json(found), lambda: _text(found))


async def _decide(args: argparse.Namespace, call: Call, *, approve: bool) -> int:
    found = check(await call.services.approvals.get(args.approval_id))
    if found.status != "pending":
        raise CommandError(
            f"{found.request.id} is {found.status}: only a pending request can be decided.", Exit.REFUSED
        )
    if not call.json:
        print(_text(found))
    name = args.approver or (call.terminal.ask("Approver name: ").strip() if call.terminal.interactive() else "")
    if not name:
        raise CommandError("give your approver name (--as NAME). Nothing was decided.", Exit.USAGE)
    passphrase = _passphrase(call, f"Passphrase of {name}: ")
    decided = check(
        await call.services.approvals.decide(found.request.id, approve=approve, name=name, passphrase=passphrase)
    )
    verb = "Approved" if approve else "Denied"
    after = (
        " The assistant can now finish it (the same call with approval_id); it works once."
        if approve
        else " Nothing will be done."
    )
    return call.show(_json(decided), lambda: f"{verb} {decided.request.id} as {decided.request.decided_by}.{after}")


async def approvals_approve(args: argparse.Namespace, call: Call) -> int:
    return await _decide(args, call, approve=True)


async def approvals_deny(args: argparse.Namespace, call: Call) -> int:
    return await _decide(args, call, approve=False)


def register(groups: Subcommands) -> None:
    approvers = group(
        groups,
        "approvers",
        summary="the people who may let money go back (each with a passphrase)",
        description="Approvers decide approval requests: refunds, cancelling a paid order, settling by hand. "
        "Their passphrases are typed at the terminal and only a slow hash is kept.",
    )
    add = command(
        approvers,
        "add",
        approvers_add,
        summary="add an approver; asks for their passphrase twice",
        description="Add an approver. The passphrase (at least 8 characters) is asked for twice at the terminal, "
        "never taken from an argument or the environment.",
    )
    add.add_argument("name", help="1-40 letters, digits, '.', '_' or '-' (kept in lower case)")
    command(approvers, "list", approvers_list, summary="list approvers", description="Every approver, by name.")
    remove = command(
        approvers, "remove", approvers_remove, summary="remove an approver", description="Remove an approver."
    )
    remove.add_argument("name")

    approvals = group(
        groups,
        "approvals",
        summary="approve or deny what an assistant asked to do with money",
        description="Approval requests (apr_…) are made by an assistant's refund or cancel that needs a person. "
        "An approver approves or denies each with their name and passphrase; the assistant then finishes it once.",
    )
    list_ = command(
        approvals,
        "list",
        approvals_list,
        summary="list what waits for approval",
        description="Pending approval requests, newest first (--all: every request, whatever its status).",
    )
    list_.add_argument("--all", action="store_true", help="every request, not only those waiting")
    show = command(approvals, "show", approvals_show, summary="show one request", description="One approval request.")
    show.add_argument("approval_id", metavar="APPROVAL_ID")
    for name, handler, verb in (("approve", approvals_approve, "Approve"), ("deny", approvals_deny, "Deny")):
        decide = command(
            approvals,
            name,
            handler,
            summary=f"{verb.lower()} a request (asks for your approver name and passphrase)",
            description=f"{verb} a pending approval request as an approver: shows it, then asks for your "
            "passphrase at the terminal.",
        )
        decide.add_argument("approval_id", metavar="APPROVAL_ID")
        decide.add_argument("--as", dest="approver", metavar="NAME", help="your approver name (asked if not given)")
