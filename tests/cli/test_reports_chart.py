"""``shopkeeper reports sales --chart FILE.png``: the same report, plus the chart in a file only its user reads."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mcp_server.handlers.cli.common import Exit
from mcp_server.handlers.views import charts
from tests.cli.conftest import Cli
from tests.png import pixels_of, png_size


@pytest.fixture
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where charts go: not the test's tmp_path, which holds the database (whose location must never show)."""
    return tmp_path_factory.mktemp("charts")


def a_week_with_a_sale(cli: Cli) -> tuple[str, ...]:
    """A paid order of 25.00 EUR today; ``--from``/``--to`` for the last seven days (the shop runs on UTC)."""
    cli.paid_order(cli.customer())
    today = datetime.now(UTC).date()
    return ("--from", (today - timedelta(days=6)).isoformat(), "--to", today.isoformat())


def test_the_chart_is_written_private_and_the_report_says_where(cli: Cli, folder: Path) -> None:
    dates = a_week_with_a_sale(cli)
    target = folder / "sales.png"

    plain = cli.ok("reports", "sales", *dates)
    charted = cli.ok("reports", "sales", *dates, "--chart", str(target))

    where = f"Chart written to {target}: revenue per day in EUR (PNG, 800x400)."
    assert charted.out == f"{plain.out.rstrip()}\n\n{where}\n"
    png = target.read_bytes()
    assert png_size(png) == (800, 400)
    assert pixels_of(png, charts.REVENUE_COLOUR) > 0, "today's sale should show as a bar"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == [], "no partial file left behind"


def test_a_second_chart_replaces_the_first(cli: Cli, folder: Path) -> None:
    dates = a_week_with_a_sale(cli)
    target = folder / "sales.png"
    target.write_bytes(b"an older picture")
    target.chmod(0o644)

    cli.ok("reports", "sales", *dates, "--chart", str(target))

    assert png_size(target.read_bytes()) == (800, 400)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_with_json_stdout_is_the_report_alone(cli: Cli, folder: Path) -> None:
    dates = a_week_with_a_sale(cli)
    target = folder / "sales.png"

    plain = cli.json("reports", "sales", *dates)
    charted = cli("--json", "reports", "sales", *dates, "--chart", str(target))

    assert charted.code == Exit.OK, charted.err
    assert charted.data() == plain
    assert charted.err == f"shopkeeper: Chart written to {target}: revenue per day in EUR (PNG, 800x400).\n"
    assert png_size(target.read_bytes()) == (800, 400)


def test_a_missing_folder_a_folder_or_products_are_refused_before_anything_is_asked(cli: Cli, folder: Path) -> None:
    missing = folder / "no-such-folder" / "sales.png"
    dates = ("--from", "2026-01-01", "--to", "2026-01-31")

    no_folder = cli.fail(Exit.USAGE, "reports", "sales", *dates, "--chart", str(missing))
    a_folder = cli.fail(Exit.USAGE, "reports", "sales", *dates, "--chart", str(folder))
    products = cli.fail(Exit.USAGE, "reports", "sales", *dates, "--by", "product", "--chart", str(folder / "p.png"))

    assert f"there is no folder {missing.parent}" in no_folder
    assert "is a folder" in a_folder
    assert "--by product" in products
    assert not missing.parent.exists()
    assert sorted(p.name for p in folder.iterdir()) == []
