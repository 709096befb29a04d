"""The one in-process retry policy: bounded tries, capped back-off, the far side's wait honoured."""

from __future__ import annotations

import pytest

from mcp_server.clients.retry import RetryPolicy, TryAgain, with_retries

pytestmark = pytest.mark.anyio


class Script:
    """Answers each try from a list, records the waits instead of waiting."""

    def __init__(self, *answers: str | TryAgain[str]) -> None:
        self.answers = list(answers)
        self.tries = 0
        self.delays: list[float] = []
        self.told: list[tuple[str, float, int]] = []

    async def attempt(self) -> str | TryAgain[str]:
        self.tries += 1
        return self.answers.pop(0)

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)

    def on_retry(self, outcome: str, delay: float, attempt: int) -> None:
        self.told.append((outcome, delay, attempt))


POLICY = RetryPolicy(attempts=3, base_delay_s=0.25, max_delay_s=4.0)


async def test_an_answer_on_the_first_try_is_returned_without_waiting():
    script = Script("ok")
    assert await with_retries(POLICY, script.sleep, script.attempt) == "ok"
    assert (script.tries, script.delays) == (1, [])


async def test_a_try_worth_another_is_retried_with_doubling_waits_until_it_answers():
    script = Script(TryAgain("down"), TryAgain("down again"), "ok")
    assert await with_retries(POLICY, script.sleep, script.attempt, script.on_retry) == "ok"
    assert script.delays == [0.25, 0.5]
    assert script.told == [("down", 0.25, 2), ("down again", 0.5, 3)]


async def test_when_the_tries_are_used_up_the_last_failure_is_the_answer():
    script = Script(TryAgain("a"), TryAgain("b"), TryAgain("c"), "never asked")
    assert await with_retries(POLICY, script.sleep, script.attempt) == "c"
    assert (script.tries, script.delays) == (3, [0.25, 0.5])  # no wait after the last try


async def test_the_far_sides_wait_is_honoured_up_to_the_cap():
    script = Script(TryAgain("429", wait_s=1.0), "ok")
    assert await with_retries(POLICY, script.sleep, script.attempt) == "ok"
    assert script.delays == [1.0]


async def test_a_wait_longer_than_the_cap_stops_at_once():
    script = Script(TryAgain("429", wait_s=120.0), "never asked")
    assert await with_retries(POLICY, script.sleep, script.attempt) == "429"
    assert (script.tries, script.delays) == (1, [])


async def test_a_final_failure_is_not_retried():
    script = Script("401: refused", "never asked")
    assert await with_retries(POLICY, script.sleep, script.attempt) == "401: refused"
    assert script.tries == 1


def test_the_back_off_is_capped_for_any_number_of_tries():
    assert [POLICY.backoff(n) for n in range(6)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert POLICY.backoff(10**6) == 4.0  # no float overflow


@pytest.mark.parametrize("bad", [{"attempts": 0}, {"base_delay_s": -1.0}, {"max_delay_s": -1.0}])
def test_a_policy_that_cannot_try_is_refused(bad: dict[str, float]):
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**bad)  # pyright: ignore[reportArgumentType]
