"""`shopkeeper` command line. It parses arguments and calls what the entrypoint hands it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio


@dataclass(frozen=True, slots=True)
class CliActions:
    """What the CLI can do, wired by the entrypoint. ``upgrade_database`` returns (revision, upgraded)."""

    upgrade_database: Callable[[], Awaitable[tuple[str, bool]]]
    database_label: str
    run_worker: Callable[[bool], Awaitable[None]] | None = None
    """Deliver queued e-mails; True: one round and stop, False: until interrupted."""
    backup_database: Callable[[Path], int] | None = None
    """Copy the database to a new file; returns the pages copied."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shopkeeper",
        description="Shopkeeper's command line: manage the shop's database and data. "
        "(The MCP server itself is 'shopkeeper-mcp'.)",
    )
    groups = parser.add_subparsers(dest="group", metavar="<group>")
    groups.required = True
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
        help="deliver queued e-mails (the MCP server does this too, unless SHOPKEEPER_WORKER=off)",
        description="Deliver queued e-mails from the outbox until interrupted (Ctrl-C), or once with --once. "
        "Safe to run beside the MCP server: two workers never send the same message at the same time.",
    )
    worker.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    return parser


def run(argv: Sequence[str], actions: CliActions) -> int:
    args = build_parser().parse_args(list(argv))
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
            sys.stderr.write(f"shopkeeper: {target} already exists; choose a new file name\n")
            return 1
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
    return 2  # pragma: no cover - argparse rejects unknown commands before this
