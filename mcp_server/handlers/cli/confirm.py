"""A person at the shop's terminal says yes before money goes back (refunds, cancelling a paid
order, settling by hand): the terminal is the person, so no approval request is made.

The service decides whether a person is needed: asked for a preview only, it either does the job
(nothing to approve) or changes nothing and answers ``NeedsApproval`` with a preview bound to the
state it showed. The command shows the preview, asks (or takes ``--yes``), and repeats the call as
the person's yes for that state, so what happens is what the person saw.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from mcp_server.handlers.cli.common import Call, Exit, fail
from mcp_server.services.approvals import Approval, NeedsApproval, PersonConfirmed, PreviewOnly

P = TypeVar("P")
R = TypeVar("R")

YES = ("y", "yes")


async def with_confirmation(
    call: Call,
    attempt: Callable[[Approval], Awaitable[R | NeedsApproval[P]]],
    describe: Callable[[P], str],
    *,
    yes: bool,
) -> R:
    """The service's answer once a person (or --yes) agreed; stops with exit 5 when nobody did."""
    first = await attempt(PreviewOnly())
    if not isinstance(first, NeedsApproval):
        return first
    needed = cast(NeedsApproval[P], first)
    preview = describe(needed.preview)
    if not yes:
        if not call.terminal.interactive():
            sys.stderr.write(f"{preview}\n")
            fail(
                "this needs a person's yes: run it again with --yes to go ahead. Nothing was changed.",
                Exit.NOT_CONFIRMED,
            )
        try:
            answer = call.terminal.ask(f"{preview}\nProceed? [y/N] ")
        except (EOFError, KeyboardInterrupt):
            answer = ""
        if answer.strip().lower() not in YES:
            fail("not confirmed. Nothing was changed.", Exit.NOT_CONFIRMED)
    done = await attempt(PersonConfirmed(seen=needed.bound))
    if isinstance(done, NeedsApproval):  # pragma: no cover - a person's yes is an approval
        fail("the confirmation was not accepted. Nothing was changed.", Exit.ERROR)
    return done
