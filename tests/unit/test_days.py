"""The supported days (FIRST_DAY … LAST_DAY) become UTC instants in every time zone without overflow."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from pydantic import TypeAdapter, ValidationError

from mcp_server.models.common import Day
from mcp_server.services.reports import day_bounds
from mcp_server.utils.time import FIRST_DAY, LAST_DAY

DAY: TypeAdapter[date] = TypeAdapter(Day)


def test_the_first_and_last_day_become_utc_instants_in_every_zone() -> None:
    zones = sorted(available_timezones())
    assert len(zones) > 300, "the time zone database is missing"
    for name in zones:
        start, end = day_bounds(FIRST_DAY, LAST_DAY, ZoneInfo(name))
        assert start is not None
        assert end is not None
        assert start.astimezone(UTC) < end.astimezone(UTC), name


@pytest.mark.parametrize("text", ["1970-01-01", "2026-11-27", "9998-12-31"])
def test_days_in_the_range_are_taken(text: str) -> None:
    assert DAY.validate_python(text) == date.fromisoformat(text)


@pytest.mark.parametrize("day", [date.min, FIRST_DAY - timedelta(days=1), LAST_DAY + timedelta(days=1), date.max])
def test_days_outside_the_range_are_refused_with_the_range(day: date) -> None:
    with pytest.raises(ValidationError) as refused:
        DAY.validate_python(day.isoformat())
    assert "must be a day from 1970-01-01 to 9998-12-31" in str(refused.value.errors()[0]["msg"])
