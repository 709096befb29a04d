"""The one back-off schedule that the outbox and the card settler store as ``next_attempt_at``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_server.utils.schedule import next_attempt

firsts = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=1))
caps = st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta.max)
MICROSECOND = timedelta(microseconds=1)
counts = st.integers(min_value=-5, max_value=10**30)


def test_it_doubles_from_the_first_wait_up_to_the_cap():
    waits = [next_attempt(n, first=timedelta(minutes=1), cap=timedelta(hours=1)) for n in range(1, 9)]
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)]


@given(first=firsts, cap=caps, attempts=counts)
def test_never_shorter_than_the_first_wait_nor_longer_than_the_cap(first: timedelta, cap: timedelta, attempts: int):
    cap = max(cap, first)
    assert first <= next_attempt(attempts, first=first, cap=cap) <= cap


@given(first=firsts, cap=caps, attempts=counts)
def test_a_later_attempt_never_waits_less(first: timedelta, cap: timedelta, attempts: int):
    cap = max(cap, first)
    assert next_attempt(attempts, first=first, cap=cap) <= next_attempt(attempts + 1, first=first, cap=cap)


@given(first=firsts, cap=caps, attempts=st.integers(min_value=1, max_value=200))
def test_below_the_cap_each_attempt_doubles_the_wait(first: timedelta, cap: timedelta, attempts: int):
    cap = max(cap, first)
    now, then = next_attempt(attempts, first=first, cap=cap), next_attempt(attempts + 1, first=first, cap=cap)
    assert then // MICROSECOND == min(2 * (now // MICROSECOND), cap // MICROSECOND)  # in ints: 2 * now may overflow


@given(attempts=st.integers(min_value=10**6, max_value=10**100))
def test_a_huge_attempt_count_is_the_cap_and_never_overflows(attempts: int):
    assert next_attempt(attempts, first=timedelta(seconds=30), cap=timedelta.max) == timedelta.max
    assert next_attempt(attempts, first=timedelta(seconds=30), cap=timedelta(hours=6)) == timedelta(hours=6)


@pytest.mark.parametrize(
    ("first", "cap"),
    [(timedelta(0), timedelta(1)), (timedelta(seconds=-1), timedelta(1)), (timedelta(2), timedelta(1))],
)
def test_a_schedule_that_cannot_back_off_is_refused(first: timedelta, cap: timedelta):
    with pytest.raises(ValueError, match="first must be positive"):
        next_attempt(1, first=first, cap=cap)
