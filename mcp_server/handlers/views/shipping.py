"""Wording about where an order goes, shared by the doors."""

from __future__ import annotations


def no_address(order_id: str, *, how: str) -> str:
    """Said when an order without a shipping address is marked shipped; ``how`` says, in the door's words,
    where an address can be given."""
    return (
        f"order {order_id} has no shipping address. It is marked shipped all the same (a parcel labelled by hand, "
        "or collected in person); check that the parcel carries an address. No command or tool can add one to an "
        f"order that is already placed: {how}."
    )
