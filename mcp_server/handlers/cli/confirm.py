"""A person at the terminal confirms before money goes back (refunds, cancelling a paid order).

The service decides whether a confirmation is needed: asked without an approval it either does
the job (nothing to confirm) or changes nothing and answers ``NeedsConfirmation`` with a preview
and a token bound to exactly what was previewed. The command shows the preview, asks (or takes
``--yes``), and repeats the call with that token, so what happens is what the person saw.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from mcp_server.handlers.cli.common import Call, Exit, fail
from mcp_server.services.requests import Approval, NeedsConfirmation, TokenConfirmation

P = TypeVar("P")
R = TypeVar("R")

YES = ("y", "yes")


async def with_confirmation(
    call: Call,
    attempt: Callable[[Approval], Awaitable[R | NeedsConfirmation[P]]],
    describe: Callable[[P], str],
    *,
    yes: bool,
) -> R:
    """The service's answer once a person (or --yes) agreed; stops with exit 5 when nobody did."""
    first = await attempt(None)
    if not isinstance(first, NeedsConfirmation):
        return first
    needed = cast(NeedsConfirmation[P], first)
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
    done = await attempt(TokenConfirmation(needed.token))
    if isinstance(done, NeedsConfirmation):  # pragma: no cover - a token is an approval
        fail("the confirmation was not accepted. Nothing was changed.", Exit.ERROR)
    return done
