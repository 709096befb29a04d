"""The one in-process retry policy for a call to an outside service.

A call is tried a bounded number of times, waiting (exponential, capped) between tries or as long
as the far side asks, and the caller sends each try with the same idempotency key. A try says
whether it is worth another one by returning ``TryAgain``; anything else is the answer. Tests turn
waiting off by passing their own ``sleep``. Retries whose next time must outlive the process (the
outbox, the card settler) are stored schedules instead: see ``mcp_server.utils.schedule``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard a client tries before giving up.

    ``attempts`` counts the first try. Between tries it waits ``base_delay_s * 2**n`` capped at
    ``max_delay_s``, or what the far side asks for (``Retry-After``); when it asks for longer than
    ``max_delay_s`` the client stops at once.
    """

    attempts: int = 3
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, failed_attempt: int) -> float:
        """The wait after the ``failed_attempt``-th try (counting from 0)."""
        return min(self.max_delay_s, self.base_delay_s * 2 ** min(failed_attempt, 64))


@dataclass(frozen=True, slots=True)
class TryAgain(Generic[T]):
    """A try that failed in a way another try may mend: ``outcome`` is the answer if none is left,
    ``wait_s`` how long the far side asked to wait first (None: the policy's back-off)."""

    outcome: T
    wait_s: float | None = None


OnRetry = Callable[[T, float, int], None]
"""Told before each wait: the failed try's outcome, the wait in seconds, and the number of the next try (from 2)."""


async def with_retries(
    policy: RetryPolicy,
    sleep: Sleep,
    attempt: Callable[[], Awaitable[R | TryAgain[T]]],
    on_retry: OnRetry[T] | None = None,
) -> R | T:
    """Run ``attempt`` until it answers, the policy's tries are used up, or the far side asks to wait too long."""
    tries = 0
    while True:
        answer = await attempt()
        if not isinstance(answer, TryAgain):
            return answer
        failed = cast("TryAgain[T]", answer)  # R may itself be generic, so isinstance cannot narrow to T
        tries += 1
        too_long = failed.wait_s is not None and failed.wait_s > policy.max_delay_s
        if too_long or tries >= policy.attempts:
            return failed.outcome
        delay = policy.backoff(tries - 1) if failed.wait_s is None else failed.wait_s
        if on_retry is not None:
            on_retry(failed.outcome, delay, tries + 1)
        await sleep(delay)
