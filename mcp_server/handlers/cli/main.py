"""`shopkeeper` command line: parses arguments, runs one command over the services the entrypoint hands it.

Each group of commands lives in its own module (customers, catalog, orders, payments, reports,
activity for audit and notifications); this one builds the parser, runs the chosen command in
one event loop with the services open, and turns what went wrong into one line and an exit code.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

import anyio

from mcp_server.handlers.cli import activity, catalog, customers, orders, payments, reports
from mcp_server.handlers.cli.common import (
    EXIT_CODES,
    Call,
    CommandError,
    Exit,
    Handler,
    HelpFormatter,
    Parser,
    Terminal,
    UsageError,
    default_actor,
)
from mcp_server.handlers.mcp.context import BackendUnavailableError, ServiceRegistry

logger = logging.getLogger("mcp_server.cli")


@dataclass(frozen=True, slots=True)
class CliActions:
    """What the CLI can do, wired by the entrypoint. ``upgrade_database`` returns (revision, upgraded)."""

    upgrade_database: Callable[[], Awaitable[tuple[str, bool]]]
    database_label: str
    run_worker: Callable[[bool], Awaitable[None]] | None = None
    """Deliver queued e-mails; True: one round and stop, False: until interrupted."""
    backup_database: Callable[[Path], int] | None = None
    """Copy the database to a new file; returns the pages copied."""
    open_services: Callable[[], AbstractAsyncContextManager[ServiceRegistry]] | None = None
    """The services for one command, opened (and the database migrated) on entry, closed on exit."""
    actor: str | None = None
    """SHOPKEEPER_ACTOR; the audit log names ``cli:<login name>`` when it is not set."""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="shopkeeper",
        description="Shopkeeper's command line: the shop's customers, catalog, orders, payments, reports, "
        "audit log and e-mails, and database maintenance. (The MCP server itself is 'shopkeeper-mcp'.) "
        "Every command has --help; --json prints what the MCP tools return, for scripts.",
        epilog=EXIT_CODES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")
    groups = parser.add_subparsers(dest="group", metavar="<group>")
    groups.required = True
    for domain in (customers, catalog, orders, payments, reports, activity):
        domain.register(groups)
    db = groups.add_parser("db", help="database maintenance", description="Database maintenance.")
    db_commands = db.add_subparsers(dest="command", metavar="<command>")
    db_commands.required = True
    db_commands.add_parser(
        "upgrade",
        help="create the database or upgrade its schema to the newest revision",
        description="Create the database (SHOPKEEPER_DATABASE_URL, or the default in your data directory) "
        "or upgrade its schema. Safe to run any number of times.",
    )
    backup = db_commands.add_parser(
        "backup",
        help="copy the database to a new file, consistently, while servers keep running",
        description="Write a consistent copy of the database (SQLite's online backup) to PATH, "
        "which must not exist yet.",
    )
    backup.add_argument("path", type=Path, help="where to write the copy (a new file)")
    worker = groups.add_parser(
        "worker",
        help="deliver queued e-mails and settle card payments left pending (the MCP server does this too, "
        "unless SHOPKEEPER_WORKER=off)",
        description="Deliver queued e-mails from the outbox, and ask the payment gateway again about card payments "
        "and refunds left pending for over a minute, until interrupted (Ctrl-C), or once with --once. Safe to run "
        "beside the MCP server: two workers never send the same message at the same time, and a card is never "
        "charged or refunded twice.",
    )
    worker.add_argument("--once", action="store_true", help="do what is due now, then exit")
    return parser


def run(argv: Sequence[str], actions: CliActions, terminal: Terminal | None = None) -> int:
    """Run one command line; the exit status (see EXIT_CODES). Nothing is raised."""
    try:
        args = build_parser().parse_args(list(argv))
    except UsageError as exc:
        return _say(str(exc), Exit.USAGE)
    except SystemExit as exc:  # --help printed its text
        return exc.code if isinstance(exc.code, int) else Exit.USAGE
    handler: Handler | None = getattr(args, "handler", None)
    if handler is not None:
        return _run_command(handler, args, actions, terminal or Terminal())
    return _maintenance(args, actions)


def _say(message: str, code: int) -> int:
    sys.stderr.write(f"shopkeeper: {' '.join(message.split())}\n")
    return code


def _run_command(handler: Handler, args: argparse.Namespace, actions: CliActions, terminal: Terminal) -> int:
    open_services = actions.open_services
    if open_services is None:  # pragma: no cover - the entrypoint always wires it
        return _say("this command is not available here", Exit.ERROR)

    async def go() -> int:
        async with open_services() as services:
            call = Call(services, actions.actor or default_actor(), bool(args.json), terminal)
            return await handler(args, call)

    try:
        return anyio.run(go)
    except CommandError as exc:
        return _say(exc.message, exc.code)
    except BackendUnavailableError as exc:
        return _say(f"the shop's database is not available: {exc.public_message}", Exit.ERROR)
    except KeyboardInterrupt:
        return _say("interrupted", Exit.INTERRUPTED)
    except BrokenPipeError:  # e.g. `shopkeeper orders list | head -1`: the reader has what it wanted
        _discard_stdout()
        return Exit.OK
    except Exception:
        incident = secrets.token_hex(4)
        logger.debug("command failed (incident %s)", incident, exc_info=True)
        return _say(
            f"unexpected internal error (incident {incident}); check 'shopkeeper audit list' before retrying, "
            "and run with SHOPKEEPER_LOG_LEVEL=DEBUG for details",
            Exit.ERROR,
        )


def _discard_stdout() -> None:
    """Point stdout at the null device, so Python's flush at exit does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file (e.g. captured in a test)
        pass


def _maintenance(args: argparse.Namespace, actions: CliActions) -> int:
    """``worker``, ``db backup`` and ``db upgrade``."""
    if args.group == "worker":
        if actions.run_worker is None:  # pragma: no cover - the entrypoint always wires it
            return 2
        try:
            anyio.run(actions.run_worker, bool(args.once))
        except KeyboardInterrupt:
            return 130
        return 0
    if (args.group, getattr(args, "command", None)) == ("db", "backup"):
        if actions.backup_database is None:  # pragma: no cover - the entrypoint always wires it
            return 2
        target: Path = args.path
        try:
            pages = actions.backup_database(target)
        except FileExistsError:
            return _say(f"{target} already exists; choose a new file name", Exit.REFUSED)
        except Exception as exc:  # one clear line for a person
            sys.stderr.write(f"shopkeeper: could not back up {actions.database_label}: {type(exc).__name__}\n")
            return 1
        print(f"{actions.database_label}: backed up to {target} ({pages:,} pages)")
        return 0
    if (args.group, getattr(args, "command", None)) == ("db", "upgrade"):
        try:
            revision, upgraded = anyio.run(actions.upgrade_database)
        except Exception as exc:  # one clear line for a person; details are not theirs to debug here
            sys.stderr.write(f"shopkeeper: could not upgrade {actions.database_label}: {type(exc).__name__}\n")
            return 1
        state = "upgraded to" if upgraded else "already at"
        print(f"{actions.database_label}: schema {state} revision {revision}")
        return 0
    return Exit.USAGE  # pragma: no cover - argparse rejects unknown commands before this
