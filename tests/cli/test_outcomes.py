"""How every kind of service result becomes an exit status and one line (no database needed)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mcp_server.handlers.cli.common import CommandError, Exit, check
from mcp_server.services.results import (
    BUSY,
    Conflict,
    IllegalTransition,
    Malformed,
    NotFound,
    Rejected,
    Success,
)


@dataclass(frozen=True)
class SomethingNew:
    """A result a service might add later, which this door does not know yet."""

    reason: str


@pytest.mark.parametrize(
    ("result", "code", "says"),
    [
        (NotFound("order", "id ord_1"), Exit.NOT_FOUND, "No order with id ord_1."),
        (Conflict("e-mail taken", entity="customer"), Exit.REFUSED, "e-mail taken"),
        (Rejected("too much", field="amount"), Exit.REFUSED, "too much"),
        (Rejected("bad cursor", field="cursor"), Exit.USAGE, "without --cursor"),
        (Malformed("'x' is not an order id", field="order_id"), Exit.USAGE, "not an order id"),
        (Rejected("what the preview showed has changed since", field="confirmation"), Exit.REFUSED, "fresh preview"),
        (IllegalTransition("ord_1", "placed", "ship", ("pay", "cancel")), Exit.REFUSED, "shopkeeper payments record"),
        (IllegalTransition("ord_1", "cancelled", "ship", ()), Exit.REFUSED, "a final status"),
        (BUSY, Exit.UNAVAILABLE, "busy"),
        (SomethingNew("the card was declined"), Exit.REFUSED, "the card was declined"),
    ],
)
def test_each_failure_has_its_exit_status_and_message(result: object, code: Exit, says: str) -> None:
    with pytest.raises(CommandError) as raised:
        check(result)
    assert raised.value.code == code
    assert says in raised.value.message
    assert "\n" not in raised.value.message


def test_a_success_gives_its_value() -> None:
    assert check(Success(42)) == 42
