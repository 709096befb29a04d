"""What every command shares: exit codes, the terminal, the services, validating options, failures.

A command builds the same request model an MCP tool builds, calls the same service method,
and hands the result to ``check``: a success gives its value, anything else becomes one line on
stderr and an exit code. Commands have no business rules of their own.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NoReturn, TypeVar, cast

from pydantic import BaseModel, TypeAdapter, ValidationError

from mcp_server.handlers.mcp.context import ServiceRegistry
from mcp_server.handlers.views import cards
from mcp_server.handlers.views.actions import ActionNames, named, next_actions
from mcp_server.models.orders import IdempotencyKey, Order
from mcp_server.models.payments import Payment, unfinished_refunds
from mcp_server.models.suggestions import Suggestion
from mcp_server.services.cancellation import PaymentStillPending
from mcp_server.services.results import (
    Conflict,
    Failure,
    IllegalTransition,
    Malformed,
    NotFound,
    Rejected,
    Success,
    Unavailable,
)


class Exit(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    REFUSED = 4
    NOT_CONFIRMED = 5
    UNAVAILABLE = 6
    INTERRUPTED = 130


EXIT_CODES = """exit codes:
  0    done
  1    unexpected error, or the database could not be opened
  2    bad command line: unknown command or option, or an invalid value
  3    not found: no such customer, product, order, payment or notification
  4    refused by the shop's rules: e.g. a duplicate e-mail or SKU, not enough stock, an order
       status that does not allow it, an idempotency key reused with other arguments
  5    not confirmed: a refund, cancel or settle needs a yes (answered no, or stdin is not a terminal
       and --yes was not given); nothing was changed
  6    not done yet: the database is busy with another writer (nothing was changed, retry shortly),
       its disk is full or its file is read-only (nothing was changed; retry once that is fixed),
       or a card payment or refund is pending at the payment gateway (its outcome is not known yet;
       the worker, or the same command again later, settles it without charging or refunding twice)
  130  interrupted (Ctrl-C)"""

EXIT_CODES_SHORT = (
    "exit codes: 0 done, 1 unexpected error, 2 bad command line, 3 not found, 4 refused by the shop's rules, "
    "5 not confirmed, 6 not done yet: database busy, full or read-only, or a card payment pending "
    "(details: shopkeeper --help)"
)

# The use cases (the Order's action verbs) as this door's commands.
ACTION_COMMANDS: ActionNames = {
    "pay": "payments record",
    "cancel": "orders cancel",
    "ship": "orders ship",
    "deliver": "orders deliver",
    "refund": "payments refund",
}


_KEY: TypeAdapter[str] = TypeAdapter(IdempotencyKey)


class CommandError(Exception):
    """Stops a command: ``message`` goes to stderr as one line, ``code`` is the exit status."""

    def __init__(self, message: str, code: Exit) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _ask_on_stderr(question: str) -> str:
    """Ask on stderr (stdout carries results, e.g. JSON) and read one line; '' at end of input."""
    sys.stderr.write(question)
    sys.stderr.flush()
    return sys.stdin.readline()


def _secret_at_terminal(question: str) -> str:
    """Read a secret from the terminal itself (/dev/tty), not echoed; never from an argument or the environment."""
    return getpass.getpass(question)


@dataclass(frozen=True, slots=True)
class Terminal:
    """The person at the keyboard, if any; tests pass their own."""

    ask: Callable[[str], str] = _ask_on_stderr
    interactive: Callable[[], bool] = field(default=lambda: sys.stdin.isatty())
    secret: Callable[[str], str] = _secret_at_terminal


@dataclass(frozen=True, slots=True)
class Call:
    """What a command runs with: the services, who is acting, how to answer, and the terminal."""

    services: ServiceRegistry
    actor: str
    json: bool
    terminal: Terminal

    def show(self, data: BaseModel | Mapping[str, object], human: Callable[[], str]) -> int:
        """Print the result: the read model as JSON with --json, else the text for people."""
        if self.json:
            from mcp_server.handlers.cli.output import to_json

            print(to_json(data))
        else:
            print(human())
        return Exit.OK


Handler = Callable[[argparse.Namespace, Call], Awaitable[int]]


def default_actor() -> str:
    """Who the audit log names when SHOPKEEPER_ACTOR is not set: ``cli:<login name>``."""
    try:
        return f"cli:{getpass.getuser()}"[:200]
    except Exception:  # no login name (e.g. a container without a passwd entry)
        return "cli"


def option(field_name: str) -> str:
    """The option that sets a request field: ``price_minor`` → ``--price-minor``."""
    return "--" + field_name.replace("_", "-")


Model = TypeVar("Model", bound=BaseModel)
T = TypeVar("T")


def validated(
    model: type[Model], values: Mapping[str, Any], options: Mapping[str, str] | None = None, *, partial: bool = False
) -> Model:
    """``model`` built from ``values``, or a usage error naming the option.

    None values are left out (the model's default applies), except for a ``partial`` update,
    where the caller passes only what was given and None clears a field. ``options`` maps a
    field (dotted for nested ones) to its option where the names differ.
    """
    given = dict(values) if partial else {name: value for name, value in values.items() if value is not None}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        problems: list[str] = []
        for problem in exc.errors():
            names = [str(part) for part in problem["loc"] if not isinstance(part, int)]
            items = [part + 1 for part in problem["loc"] if isinstance(part, int)]
            dotted = ".".join(names)
            where = (options or {}).get(dotted) or (options or {}).get(names[0] if names else "") or option(dotted)
            where += f" (#{items[0]})" if items else ""
            message = str(problem["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
            message = "required" if problem["type"] == "missing" else message
            problems.append(f"{where}: {message}" if names else message)  # no names: about several options
        raise CommandError("; ".join(problems), Exit.USAGE) from None


def fail(message: str, code: Exit) -> NoReturn:
    raise CommandError(message, code)


def did_you_mean(message: str, suggestions: Sequence[Suggestion]) -> str:
    """``message`` and, on the same line, the near misses a failed lookup found ("Did you mean …?")."""
    if not suggestions:
        return message
    named = [
        f"{s.candidate.key} ({' '.join(s.candidate.name.split())}, {s.candidate.id})"
        + (f" for line {s.line}" if s.line else "")
        for s in suggestions
    ]
    return f"{message.rstrip('.')}. Did you mean {' or '.join(named)}?"


def check(result: Success[T] | Failure | object) -> T:
    """A success's value; any other result stops the command with its message and exit code.

    A result this door does not know yet (a new outcome a service adds) stops it too, in the
    result's own words (its ``message`` or ``reason``), with exit 4.
    """
    if isinstance(result, Success):
        return cast(Success[T], result).value
    match result:
        case NotFound():
            fail(did_you_mean(result.message, result.suggestions), Exit.NOT_FOUND)
        case IllegalTransition(order_id=order_id, status=status, action=action, allowed=allowed):
            commands = ", ".join(f"shopkeeper {name}" for name in named(allowed, ACTION_COMMANDS))
            now = f"; what applies now: {commands}" if commands else ", a final status"
            fail(f"order {order_id} is {status}, so it cannot {action}{now}. Nothing was changed.", Exit.REFUSED)
        case PaymentStillPending():
            fail(cards.still_pending(result), Exit.REFUSED)
        case Rejected(field="confirmation"):
            fail(f"{result.message}: run the command again for a fresh preview", Exit.REFUSED)
        case Rejected(field="cursor"):
            fail(f"{result.message}; run the command again without --cursor to start from the top", Exit.USAGE)
        case Malformed():
            fail(result.message, Exit.USAGE)
        case Rejected():
            fail(did_you_mean(result.message, result.suggestions), Exit.REFUSED)
        case Conflict():
            fail(result.message, Exit.REFUSED)
        case Unavailable(remedy=str(remedy)):
            fail(f"{result.message}. {remedy[:1].upper()}{remedy[1:]}, then run the command again.", Exit.UNAVAILABLE)
        case Unavailable():
            fail(result.message, Exit.UNAVAILABLE)
        case _:
            words = getattr(result, "message", None) or getattr(result, "reason", None)
            fail(str(words or "the shop refused this; nothing was changed"), Exit.REFUSED)


# -- building the parser ----------------------------------------------------------------------


class UsageError(Exception):
    """argparse found the command line wrong; the message is one line."""


class HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions to the terminal; text with line breaks of its own (the exit codes) stays as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (``shopkeeper: …``) instead of the usage block, exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


Subcommands = Any  # argparse's _SubParsersAction is private; its add_parser is what we use


def group(groups: Subcommands, name: str, *, summary: str, description: str) -> Subcommands:
    """A command group (``shopkeeper customers …``) and the subparsers for its commands."""
    parser = groups.add_parser(name, help=summary, description=description)
    commands = parser.add_subparsers(dest="command", metavar="<command>")
    commands.required = True
    return commands


def command(
    commands: Subcommands,
    name: str,
    handler: Handler,
    *,
    summary: str,
    description: str,
    aliases: tuple[str, ...] = (),
) -> argparse.ArgumentParser:
    """One command: its help, --json, the exit codes in its epilog, and the handler that runs it."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        aliases=list(aliases),
        help=summary,
        description=description,
        epilog=EXIT_CODES_SHORT,
        formatter_class=HelpFormatter,
    )
    # SUPPRESS: a --json given before the group (shopkeeper --json …) is not reset here.
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts")
    parser.set_defaults(handler=handler)
    return parser


def paging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, help="rows per page, 1-100 (default 20)")
    parser.add_argument("--cursor", help="the cursor printed under the previous page (same filters)")


def yes_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes", "-y", action="store_true", help="go ahead without asking (for scripts); the result says what was done"
    )


def given(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """For a partial update: the options given, and None for each ``--clear-<name>`` given."""
    values = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    return values | {name: None for name in names if getattr(args, f"clear_{name}", False)}


def changed(name: str, fields: tuple[str, ...]) -> str:
    if fields:
        return f"Updated {name}: changed {', '.join(fields)}."
    return f"Nothing changed for {name}: the values given are the current ones."


def money_back_exit(refunds: Sequence[Payment]) -> Exit:
    """A refund or cancel whose card refunds are not all made: 6 while pending, 4 when refused."""
    match unfinished_refunds(refunds):
        case "pending":
            return Exit.UNAVAILABLE
        case "refused":
            return Exit.REFUSED
        case None:
            return Exit.OK


def next_commands(order: Order) -> list[str]:
    """What can move the order on from its status, as commands of this door."""
    return [f"shopkeeper {name}" for name in named(next_actions(order), ACTION_COMMANDS)]


def idempotency_option(parser: argparse.ArgumentParser, repeat: str) -> None:
    parser.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help=f"any unique string (e.g. a UUID) that makes retrying safe: {repeat} and changes nothing",
    )


def idempotency_key(args: argparse.Namespace) -> str | None:
    key: str | None = args.idempotency_key
    if key is None:
        return None
    try:
        return _KEY.validate_python(key)
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"])
        raise CommandError(f"--idempotency-key: {message}", Exit.USAGE) from None
