"""``shopkeeper customers create|get|list|update``."""

from __future__ import annotations

import argparse

from mcp_server.handlers.cli import output
from mcp_server.handlers.cli.common import (
    Call,
    Subcommands,
    changed,
    check,
    command,
    given,
    group,
    paging,
    validated,
)
from mcp_server.models.customers import (
    Customer,
    CustomerCreate,
    CustomerLookup,
    CustomerPageRead,
    CustomerQuery,
    CustomerRead,
    CustomerUpdate,
)


def detail(c: Customer) -> str:
    return output.fields(
        [
            ("id", c.id),
            ("name", c.name),
            ("email", c.email),
            ("phone", c.phone),
            ("notes", c.notes),
            ("registered", c.created_at),
            ("updated", c.updated_at),
        ]
    )


async def create(args: argparse.Namespace, call: Call) -> int:
    data = validated(CustomerCreate, {"name": args.name, "email": args.email, "phone": args.phone, "notes": args.notes})
    customer = check(await call.services.customers.register(data, actor=call.actor))
    return call.show(
        CustomerRead.from_record(customer),
        lambda: f"Registered {customer.name} ({customer.id}); a welcome e-mail is queued.\n\n{detail(customer)}",
    )


async def get(args: argparse.Namespace, call: Call) -> int:
    lookup = validated(CustomerLookup, {"customer_id": args.customer_id, "email": args.email}, {"customer_id": "ID"})
    customer = check(await call.services.customers.get(customer_id=lookup.customer_id, email=lookup.email))
    return call.show(CustomerRead.from_record(customer), lambda: detail(customer))


async def list_(args: argparse.Namespace, call: Call) -> int:
    query = validated(
        CustomerQuery, {"text": args.query, "limit": args.limit, "cursor": args.cursor}, {"text": "--query"}
    )
    found = check(await call.services.customers.list(query))
    rows = [[c.id, c.name, c.email, c.phone, c.created_at] for c in found.items]
    return call.show(
        CustomerPageRead(customers=[CustomerRead.from_record(c) for c in found.items], next_cursor=found.next_cursor),
        lambda: output.page(
            "customers",
            ["id", "name", "email", "phone", "registered"],
            rows,
            found.next_cursor,
            f" matching '{query.text}'" if query.text else "",
        ),
    )


async def update(args: argparse.Namespace, call: Call) -> int:
    changes = validated(CustomerUpdate, given(args, ("name", "email", "phone", "notes")), partial=True)
    change = check(await call.services.customers.update(args.customer_id, changes, actor=call.actor))
    customer = change.customer
    return call.show(
        CustomerRead.from_record(customer), lambda: f"{changed(customer.name, change.changed)}\n\n{detail(customer)}"
    )


def register(groups: Subcommands) -> None:
    commands = group(
        groups, "customers", summary="register, look up, list and update customers", description="The shop's customers."
    )
    create_ = command(
        commands,
        "create",
        create,
        aliases=("register",),
        summary="register a new customer (queues a welcome e-mail)",
        description="Register a new customer. E-mail addresses are unique in any letter case: if the address "
        "is taken, the error names the existing customer (exit 4).",
    )
    create_.add_argument("--name", required=True, help="full name (1-200 characters)")
    create_.add_argument("--email", required=True, help="e-mail address, unique across customers")
    create_.add_argument("--phone", help="digits with optional +, spaces, dashes, brackets")
    create_.add_argument("--notes", help="free-text notes for the shop (up to 2000 characters)")

    get_ = command(
        commands, "get", get, summary="show one customer", description="Show one customer, by id or by e-mail."
    )
    which = get_.add_mutually_exclusive_group(required=True)
    which.add_argument("customer_id", nargs="?", metavar="ID", help="customer id (cus_...)")
    which.add_argument("--email", help="the customer's e-mail address, any letter case")

    list_parser = command(
        commands,
        "list",
        list_,
        summary="list customers in registration order",
        description="List customers in registration order, optionally only those whose name or e-mail contains "
        "some text. Prints a cursor for the next page.",
    )
    list_parser.add_argument("--query", help="part of a name or e-mail, any letter case")
    paging(list_parser)

    update_ = command(
        commands,
        "update",
        update,
        summary="change a customer's name, e-mail, phone or notes",
        description="Change only the fields given. The audit log keeps the old values "
        "(shopkeeper audit list --entity-id ID).",
    )
    update_.add_argument("customer_id", metavar="ID", help="customer id (cus_...)")
    update_.add_argument("--name", help="new name")
    update_.add_argument("--email", help="new e-mail address (must not belong to another customer)")
    for name, what in (("phone", "phone number"), ("notes", "notes (replace the old ones)")):
        choice = update_.add_mutually_exclusive_group()
        choice.add_argument(f"--{name}", help=f"new {what}")
        choice.add_argument(f"--clear-{name}", action="store_true", help=f"remove the {name}")
