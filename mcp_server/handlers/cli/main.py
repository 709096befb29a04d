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
from collections.abc import Awaitable, Callable, Generator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio

from mcp_server import __version__
from mcp_server.handlers.cli import activity, approvals, catalog, customers, orders, payments, reports, tokens
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
    check,
    default_actor,
)
from mcp_server.handlers.mcp.context import BackendUnavailableError, ServiceRegistry
from mcp_server.services.results import Unavailable

logger = logging.getLogger("mcp_server.cli")


@dataclass(frozen=True, slots=True)
class SchemaState:
    """What ``db init`` / ``db upgrade`` did: the revision now, whether a migration ran, whether the shop is new."""

    revision: str
    upgraded: bool
    new: bool


@dataclass(frozen=True, slots=True)
class BackupMade:
    """A checked copy: where it went, its pages and tables."""

    path: Path
    pages: int
    tables: int


@dataclass(frozen=True, slots=True)
class CopyMade:
    """A shop copied into a database server: the target (password hidden) and each table's rows, counts checked."""

    target: str
    tables: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class CliActions:
    """What the CLI can do, wired by the entrypoint. The database commands raise CommandError (one line, a code)."""

    upgrade_database: Callable[[], Awaitable[SchemaState]]
    """Create the database if it is missing (directories too), then upgrade its schema."""
    database_label: str
    run_worker: Callable[[bool], Awaitable[Unavailable | None]] | None = None
    """Deliver queued e-mails; True: one round and stop, False: until interrupted."""
    backup_database: Callable[[str], BackupMade] | None = None
    """Copy the database to a new file (or into a directory); what was written."""
    open_services: Callable[[], AbstractAsyncContextManager[ServiceRegistry]] | None = None
    """The services for one command, opened (and the database migrated) on entry, closed on exit.
    A missing database is never created here: BackendUnavailableError names it and ``db init``."""
    actor: str | None = None
    """SHOPKEEPER_ACTOR; the audit log names ``cli:<login name>`` when it is not set."""
    init_database: Callable[[], Awaitable[SchemaState]] | None = None
    """Create a new, empty shop; refuses (CommandError, REFUSED) when one is already there."""
    copy_database: Callable[[str], Awaitable[CopyMade]] | None = None
    """Copy the shop into the empty PostgreSQL database at the URL given; what was copied."""


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
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    groups = parser.add_subparsers(dest="group", metavar="<group>")
    groups.required = True
    for domain in (customers, catalog, orders, payments, reports, activity, approvals, tokens):
        domain.register(groups)
    db = groups.add_parser("db", help="database maintenance", description="Database maintenance.")
    db_commands = db.add_subparsers(dest="command", metavar="<command>")
    db_commands.required = True
    db_commands.add_parser(
        "init",
        help="create a new, empty shop database (the other commands never create one)",
        description="Create a new, empty shop database at SHOPKEEPER_DATABASE_URL (or the default in your data "
        "directory), with any missing directories, private to you. Refuses if one is already there.",
    )
    db_commands.add_parser(
        "upgrade",
        help="create the database or upgrade its schema to the newest revision",
        description="Create the database (SHOPKEEPER_DATABASE_URL, or the default in your data directory) "
        "or upgrade its schema. Safe to run any number of times.",
    )
    backup = db_commands.add_parser(
        "backup",
        help="copy the database to a new file, consistently, while servers keep running",
        description="Write a consistent copy of the database (SQLite's online backup) to PATH, which must not "
        "exist yet, or into the directory PATH under a dated name. The copy is checked (integrity, tables) "
        "before it gets its name, and is private to you.",
    )
    backup.add_argument("path", help="where to write the copy: a new file, or an existing directory")
    copy = db_commands.add_parser(
        "copy",
        help="move the shop into an empty PostgreSQL database, for the day it outgrows the file",
        description="Copy every table of the shop's SQLite file, ids unchanged, into the empty PostgreSQL "
        "database at URL (it must exist: createdb shop), in one transaction, and check each table's row count; "
        "a database that already holds a shop is refused, never overwritten. The file is only read. Stop "
        "Shopkeeper first: what it writes to the file after the copy began is not copied.",
    )
    copy.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="the target, e.g. postgresql://user@host:5432/shop; a password left out of the URL is read from "
        "PGPASSWORD or ~/.pgpass (and stays out of your shell's history)",
    )
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
    with _answer_speaks(args):
        if handler is not None:
            return _run_command(handler, args, actions, terminal or Terminal())
        return _maintenance(args, actions)


# What these log (a full disk, a read-only file, a schema just created) a command says in its own
# one line; a long-running worker has no such line, so it keeps them.
_SAID_BY_THE_ANSWER = ("mcp_server.storage", "mcp_server.adapters.database")


@contextmanager
def _answer_speaks(args: argparse.Namespace) -> Generator[None]:
    """Quiet the storage loggers for one command (not DEBUG, not a long-running worker), then restore them."""
    long_running = args.group == "worker" and not getattr(args, "once", False)
    if long_running or logging.getLogger("mcp_server").getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    loggers = [logging.getLogger(name) for name in _SAID_BY_THE_ANSWER]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)


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

    return _one_line(lambda: anyio.run(go))


def _one_line(command: Callable[[], int]) -> int:
    """Run a command; whatever goes wrong becomes one line on stderr and an exit status."""
    try:
        return command()
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
    """``worker``, ``db init``, ``db upgrade``, ``db backup`` and ``db copy``."""
    command = (args.group, getattr(args, "command", None))
    label = actions.database_label
    run_worker, backup, init = actions.run_worker, actions.backup_database, actions.init_database
    if command == ("db", "copy") and actions.copy_database is not None:
        copy_database = actions.copy_database

        def move() -> int:
            made = anyio.run(copy_database, str(args.to))
            print(_copied(label, made))
            return Exit.OK

        return _one_line(move)
    if args.group == "worker" and run_worker is not None:

        def work() -> int:
            refused = anyio.run(run_worker, bool(args.once))
            if refused is not None:
                check(refused)  # --once could not do its work: say why, exit 6
            return Exit.OK

        return _one_line(work)
    if command == ("db", "backup") and backup is not None:

        def copy() -> int:
            made = backup(str(args.path))
            print(f"{label}: backed up to {made.path} ({made.pages:,} pages, {made.tables} tables, checked)")
            return Exit.OK

        return _one_line(copy)
    if command in (("db", "upgrade"), ("db", "init")):
        prepare = actions.upgrade_database if command == ("db", "upgrade") else init

        def schema() -> int:
            assert prepare is not None
            state = anyio.run(prepare)
            if state.new:
                print(f"{label}: made a new, empty shop; schema upgraded to revision {state.revision}")
            else:
                print(f"{label}: schema {'upgraded to' if state.upgraded else 'already at'} revision {state.revision}")
            return Exit.OK

        return _say("this command is not available here", Exit.ERROR) if prepare is None else _one_line(schema)
    return Exit.USAGE  # pragma: no cover - argparse rejects unknown commands before this


def _copied(label: str, made: CopyMade) -> str:
    """What ``db copy`` did, table by table, and what the person does next."""
    width = max(len(name) for name, _ in made.tables)
    rows = sum(count for _, count in made.tables)
    lines = [f"{label}: copied to {made.target}, every table's row count checked:"]
    lines += [f"  {name:<{width}}  {count:>9,}" for name, count in made.tables]
    lines.append(f"  {'total':<{width}}  {rows:>9,} rows in {len(made.tables)} tables")
    password = " (with the password in place of ***)" if ":***@" in made.target else ""
    lines.append(
        f"Next: set SHOPKEEPER_DATABASE_URL={made.target}{password} and restart Shopkeeper; keep {label} as a backup."
    )
    return "\n".join(lines)
