"""The scripted shop owner's day (benchmarks/shop_day.py) through a real client: it needs at most 1.2 times the
calls a perfect assistant would make, and the shop ends the day as the owner's requests say it should."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.shop_day import MINIMUM, TARGET, settings_for, shop_day

pytestmark = pytest.mark.anyio


async def test_the_day_takes_few_calls_and_ends_as_the_owner_asked(tmp_path: Path) -> None:
    day = await shop_day(settings_for(tmp_path))

    assert MINIMUM == 31
    assert day.calls <= TARGET * MINIMUM, f"{day.calls} calls for a minimum of {MINIMUM}"
    assert day.refused == ["orders_place", "orders_place"], "only the typo and the short stock cost a call each"
    assert day.warned_no_address
    assert day.statuses == ["shipped", "refunded", "shipped", "shipped", "shipped", "cancelled"]
    # 10-2-1 mugs; 20-1-2 tea; 2+10-5 lamps; notebooks 15-3+3 (returned) -1+1 (cancelled); 30-2-1 pens
    assert day.stock == {"MUG-BLUE-01": 7, "TEA-GREEN-01": 17, "LAMP-01": 7, "NOTE-A5": 15, "PEN-BLK": 27}
    [sales] = day.report["days"]
    revenue = 2950 + 1800 + 1750 + 19500 + 1150  # every order but the cancelled one
    assert (sales["orders"], sales["units"], sales["cancelled"]) == (5, 17, 1)
    assert (sales["revenue_minor"], sales["refunds_minor"], sales["net_minor"]) == (revenue, 1800, revenue - 1800)
