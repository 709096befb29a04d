"""Days on the command line: outside 1970-01-01 … 9998-12-31 a usage error naming the option (exit 2),
in every time zone; the first and last supported days work (issue 10, item 7)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mcp_server.handlers.cli.common import Exit
from tests.cli.conftest import Cli

ZONES = ["UTC", "Asia/Tokyo", "Pacific/Kiritimati", "Etc/GMT+12"]
COMMANDS = [("orders", "list"), ("payments", "list"), ("reports", "sales")]


def with_days(command: tuple[str, ...], first: str, last: str) -> tuple[str, ...]:
    return (*command, "--from", first, "--to", last)


@pytest.mark.parametrize("zone", ZONES)
def test_days_outside_the_range_are_a_usage_error(make_cli: Callable[..., Cli], zone: str) -> None:
    cli = make_cli(SHOPKEEPER_TIMEZONE=zone)
    for command in COMMANDS:
        line = cli.fail(Exit.USAGE, *with_days(command, "9999-12-31", "9999-12-31"))
        assert "--from: must be a day from 1970-01-01 to 9998-12-31" in line, line
        assert "--to: must be a day from 1970-01-01 to 9998-12-31" in line, line
        line = cli.fail(Exit.USAGE, *with_days(command, "0001-01-01", "0001-01-01"))
        assert "--from: must be a day from 1970-01-01 to 9998-12-31" in line, line
        assert "unexpected" not in line, line


@pytest.mark.parametrize("zone", ZONES)
def test_the_first_and_last_supported_days_work(make_cli: Callable[..., Cli], zone: str) -> None:
    cli = make_cli(SHOPKEEPER_TIMEZONE=zone)
    for command in COMMANDS:
        cli.ok(*with_days(command, "1970-01-01", "1970-01-01"))
        cli.ok(*with_days(command, "9998-12-31", "9998-12-31"))
    cli.ok("orders", "list", "--to", "9998-12-31")
    cli.ok("payments", "list", "--from", "1970-01-01")


def test_a_day_that_is_not_a_day_is_a_usage_error(cli: Cli) -> None:
    line = cli.fail(Exit.USAGE, "orders", "list", "--to", "31/12/2026")
    assert line.startswith("shopkeeper: --to: "), line
