"""``shopkeeper db copy --to URL``: what it says it copied, what to do next, and one line with the right exit
code for each way it is refused or fails (never a password, never SQL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from urllib.parse import urlsplit

import pytest

from mcp_server.adapters.migrations import HEAD_REVISION
from mcp_server.handlers.cli.common import Exit
from mcp_server.handlers.cli.main import run
from tests.cli.conftest import NOBODY, Cli, Outcome
from tests.e2e.support import assert_no_internals
from tests.postgres import PostgresServer

# The copy's source is a SQLite file by definition (its target is the PostgreSQL server).
pytestmark = pytest.mark.parametrize("db_engine", ["sqlite"])

PASSWORD = "s3cret-pässword"  # the test server trusts every local connection: any password gets in


def with_password(url: str) -> str:
    return url.replace("@", f":{PASSWORD}@", 1)


def copy(cli: Cli, capsys: pytest.CaptureFixture[str], *argv: str) -> Outcome:
    """``shopkeeper db copy ARGV`` on the shop ``cli`` uses; what it printed, checked for internals."""
    capsys.readouterr()
    code = run(["db", "copy", *argv], cli.actions, NOBODY)
    captured = capsys.readouterr()
    assert_no_internals(captured.out + captured.err)
    assert PASSWORD not in captured.out + captured.err
    return Outcome(code, captured.out, captured.err)


def one_line(outcome: Outcome, code: int) -> str:
    assert outcome.code == code, outcome
    assert outcome.out == ""
    lines = outcome.err.splitlines()
    assert len(lines) == 1, outcome.err
    assert lines[0].startswith("shopkeeper: "), outcome.err
    return lines[0]


def test_the_copy_says_what_it_copied_and_what_to_do_next(
    cli: Cli, capsys: pytest.CaptureFixture[str], postgres: PostgresServer
) -> None:
    cli.paid_order(cli.customer(name="Zoë Ада"))
    target = postgres.create_database("cli_copy")
    shown = target.replace("+asyncpg", "").replace("@", ":***@", 1)  # as psql takes it

    done = copy(cli, capsys, "--to", with_password(target).replace("postgresql+asyncpg://", "postgres://"))

    assert done.code == Exit.OK, done.err
    assert done.err == ""
    lines = done.out.splitlines()
    assert lines[0] == f"{cli.db_path}: copied to {shown}, every table's row count checked:"
    counts = {line.split()[0]: line.split()[1] for line in lines[1:-2]}
    assert counts["customers"] == "1"
    assert counts["orders"] == "1"
    assert counts["payments"] == "1"
    assert "alembic_version" not in counts, "the schema stamp is the target's own"
    total = sum(int(count.replace(",", "")) for count in counts.values())
    assert lines[-2].split()[:2] == ["total", str(total)]
    assert lines[-2].endswith(f"rows in {len(counts)} tables")
    assert lines[-1] == (
        f"Next: set SHOPKEEPER_DATABASE_URL={shown} (with the password in place of ***) and restart Shopkeeper; "
        f"keep {cli.db_path} as a backup."
    )

    again = one_line(copy(cli, capsys, "--to", target), Exit.REFUSED)
    assert again == (
        f"shopkeeper: {shown.replace(':***', '')} already holds a shop (its audit_log table has rows); "
        "copy only into a new, empty database. Nothing was changed"
    )


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("--to", "mysql://shop@localhost/shop"), "--to: the target must be a PostgreSQL URL, not mysql://"),
        (("--to", "postgresql://shop@localhost"), "--to: name the target database after the host"),
        ((), "the following arguments are required: --to"),
    ],
    ids=["not postgresql", "no database", "no target"],
)
def test_a_bad_target_is_a_usage_error(
    cli: Cli, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], words: str
) -> None:
    assert words in one_line(copy(cli, capsys, *argv), Exit.USAGE)


def test_a_shop_at_an_older_schema_is_upgraded_first(
    cli: Cli, capsys: pytest.CaptureFixture[str], postgres: PostgresServer
) -> None:
    with closing(sqlite3.connect(cli.db_path)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '0007'")

    line = one_line(copy(cli, capsys, "--to", postgres.create_database("cli_outdated")), Exit.REFUSED)

    assert line == (
        f"shopkeeper: the shop's schema is at revision 0007, not the newest ({HEAD_REVISION}); "
        "run 'shopkeeper db upgrade' "
        "first, then copy again. Nothing was copied"
    )


def test_a_server_that_cannot_be_reached_is_one_line(
    cli: Cli, capsys: pytest.CaptureFixture[str], postgres: PostgresServer, unreachable_url: str
) -> None:
    closed = urlsplit(unreachable_url)
    down = one_line(copy(cli, capsys, "--to", f"postgresql://{postgres.user}@{closed.netloc}/shop"), Exit.ERROR)
    assert "refused the connection" in down
    missing = one_line(copy(cli, capsys, "--to", with_password(postgres.url("cli_no_such_db"))), Exit.ERROR)
    assert "does not exist" in missing
    assert ":***@" in missing


def test_a_missing_shop_file_is_not_created(
    make_cli: Callable[..., Cli], capsys: pytest.CaptureFixture[str], postgres: PostgresServer
) -> None:
    cli = make_cli(database=False)

    line = one_line(copy(cli, capsys, "--to", postgres.create_database("cli_missing")), Exit.ERROR)

    assert str(cli.db_path) in line
    assert "shopkeeper db init" in line
    assert not cli.db_path.exists()


def test_a_shop_on_a_server_already_is_not_copied(
    make_cli: Callable[..., Cli], capsys: pytest.CaptureFixture[str], postgres: PostgresServer
) -> None:
    on_server = postgres.create_database("cli_on_server")
    cli = make_cli(database=False, SHOPKEEPER_DATABASE_URL=on_server)

    line = one_line(copy(cli, capsys, "--to", postgres.create_database("cli_from_server")), Exit.REFUSED)

    assert "not in a SQLite file" in line
