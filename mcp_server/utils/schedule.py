"""When to try again: one back-off schedule for every retry whose next time is stored.

The outbox (``next_attempt_at`` of a message) and the card settler (``next_attempt_at`` of a
pending card row) both store the moment of their next attempt in the database, so every process
sees the same schedule; both compute it here.
"""

from __future__ import annotations

from datetime import timedelta

_MICROSECOND = timedelta(microseconds=1)


def next_attempt(attempts: int, *, first: timedelta, cap: timedelta) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: ``first``, then doubling each time, at most ``cap``.

    Attempts below 1 count as the first. Computed in whole microseconds, so no count overflows.
    """
    if first <= timedelta(0) or cap < first:
        raise ValueError("first must be positive and cap at least first")
    first_us, cap_us = first // _MICROSECOND, cap // _MICROSECOND
    doublings = min(max(attempts - 1, 0), cap_us.bit_length())  # beyond this the cap holds anyway
    return timedelta(microseconds=min(first_us << doublings, cap_us))
