"""Every command group in-process, on a real SQLite file: output, JSON, exit codes, confirmations, paging."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from mcp_server.handlers.cli.common import Exit
from mcp_server.handlers.cli.main import build_parser
from mcp_server.utils.ids import IdGenerator
from tests.cli.conftest import Cli, Person
from tests.e2e.support import as_list, as_object, integer, objects, optional_string, string

# -- help and the command line itself --------------------------------------------------------------


def _commands() -> list[tuple[str, ...]]:
    """Every (group, command) the parser knows, aliases left out."""
    parser = build_parser()
    found: list[tuple[str, ...]] = []
    groups: Any = parser._subparsers._group_actions[0]  # pyright: ignore[reportPrivateUsage, reportOptionalMemberAccess]
    for name, group in groups.choices.items():
        nested = group._subparsers
        if nested is None:
            found.append((name,))
            continue
        commands = nested._group_actions[0].choices
        seen: set[int] = set()
        for command_name, command in commands.items():
            if id(command) not in seen:
                seen.add(id(command))
                found.append((name, command_name))
    return found


@pytest.mark.parametrize("db_engine", ["sqlite"])  # about the file it must not create
def test_every_command_has_help_with_a_description(make_cli: Callable[..., Cli]) -> None:
    cli = make_cli(database=False)
    commands = _commands()
    assert {c[0] for c in commands} >= {
        "customers", "catalog", "orders", "payments", "refunds", "reports", "audit", "notifications", "worker", "db",
    }  # fmt: skip
    for command in commands:
        outcome = cli.ok(*command, "--help")
        usage, _, rest = outcome.out.partition("\n\n")
        assert usage.startswith(f"usage: shopkeeper {' '.join(command)}"), outcome.out
        assert not rest.startswith(("positional", "options")), f"{command} has no description"
    assert not cli.db_path.exists(), "--help must not open the database"


def test_top_level_help_lists_groups_and_exit_codes(cli: Cli) -> None:
    out = cli.ok("--help").out
    for word in ("customers", "catalog", "orders", "payments", "refunds", "reports", "audit", "notifications"):
        assert word in out
    assert "exit codes:" in out
    assert "5    not confirmed" in out


def test_bad_command_lines_are_one_line_and_exit_2(cli: Cli) -> None:
    assert "invalid choice" in cli.fail(Exit.USAGE, "nonsense")
    assert "--nope" in cli.fail(Exit.USAGE, "customers", "list", "--nope")
    assert "required" in cli.fail(Exit.USAGE, "customers", "create", "--name", "Ada")
    assert "--amount: invalid int value" in cli.fail(
        Exit.USAGE, "payments", "record", "--order", "ord_x", "--amount", "ten", "--method", "cash"
    )


@pytest.mark.parametrize(
    "command",
    [
        ("orders", "get", "zzz"),
        ("orders", "cancel", "ord_", "--yes"),
        ("orders", "list", "--customer", "bad"),
        ("orders", "list", "--from", "2026-05-02", "--to", "2026-05-01"),
        ("customers", "get", "cus-01"),
        ("catalog", "get", "xyz"),
        ("payments", "list", "--order", "42"),
        ("notifications", "retry", "q"),
    ],
)
def test_a_malformed_id_or_value_is_a_bad_argument_not_a_refusal(cli: Cli, command: tuple[str, ...]) -> None:
    """Exit 2 as the README's table says; 4 is for what the shop's rules refuse."""
    line = cli.fail(Exit.USAGE, *command)
    assert "not a" in line or "after the last day" in line


def test_a_validation_error_names_the_option(cli: Cli) -> None:
    line = cli.fail(Exit.USAGE, "customers", "create", "--name", "Ada", "--email", "not-an-address")
    assert line.startswith("shopkeeper: --email: ")
    line = cli.fail(
        Exit.USAGE, "catalog", "create", "--sku", "A", "--name", "A", "--price-minor", "1", "--currency", "XXX"
    )
    assert line.startswith("shopkeeper: --currency: ")
    assert "XXX" in line
    assert cli.fail(Exit.USAGE, "customers", "list", "--limit", "0").startswith("shopkeeper: --limit: ")


# -- customers -------------------------------------------------------------------------------------


def test_customers_create_get_list_update(cli: Cli) -> None:
    created = cli.ok("customers", "create", "--name", "Ada Lovelace", "--email", "Ada@Example.com", "--phone", "+44 1")
    assert "Registered Ada Lovelace" in created.out
    assert "ada@example.com" in created.out
    ada = string(cli.json("customers", "get", "--email", "ADA@example.com"), "id")

    shown = cli.json("customers", "get", ada)
    assert shown["email"] == "ada@example.com"
    assert shown["phone"] == "+44 1"
    assert set(shown) == {"id", "name", "email", "phone", "notes", "created_at", "updated_at"}

    updated = cli.ok("customers", "update", ada, "--notes", "prefers e-mail", "--clear-phone")
    assert "changed" in updated.out
    assert "notes" in updated.out
    after = cli.json("customers", "get", ada)
    assert after["phone"] is None
    assert after["notes"] == "prefers e-mail"

    listed = cli.ok("customers", "list", "--query", "lovelace").out.splitlines()
    assert listed[0].split() == ["id", "name", "email", "phone", "registered"]
    assert ada in listed[2]


def test_customer_errors_have_their_exit_codes(cli: Cli) -> None:
    ada = cli.customer()
    line = cli.fail(Exit.REFUSED, "customers", "create", "--name", "Again", "--email", "ADA@example.com")
    assert ada in line
    missing = IdGenerator().new("cus")
    assert missing in cli.fail(Exit.NOT_FOUND, "customers", "get", missing)
    assert "nothing to change" in cli.fail(Exit.REFUSED, "customers", "update", ada)
    assert cli.fail(Exit.USAGE, "customers", "get", ada, "--email", "a@b.example")


def test_list_pages_follow_the_printed_cursor(cli: Cli) -> None:
    ids = [cli.customer(f"Person {n}", f"p{n}@example.com") for n in range(5)]
    seen: list[str] = []
    page = cli.json("customers", "list", "--limit", "2")
    while True:
        seen += [string(c, "id") for c in objects(page, "customers")]
        cursor = optional_string(page, "next_cursor")
        if cursor is None:
            break
        page = cli.json("customers", "list", "--limit", "2", "--cursor", cursor)
    assert seen == ids

    human = cli.ok("customers", "list", "--limit", "2").out
    cursor = human.rsplit("--cursor ", 1)[1].split()[0]
    assert ids[2] in cli.ok("customers", "list", "--limit", "2", "--cursor", cursor).out
    assert "--cursor" in cli.fail(Exit.USAGE, "customers", "list", "--cursor", "garbage")


# -- catalog ---------------------------------------------------------------------------------------


def test_catalog_commands(cli: Cli) -> None:
    mug = cli.product("MUG-1", price_minor=1250, stock=3)
    cli.product("BOWL-1", price_minor=900, stock=40)
    assert "12.50 EUR" in cli.ok("catalog", "get", "--sku", "mug-1").out

    low = cli.json("catalog", "search", "--stock-below", "5")
    assert [string(p, "sku") for p in objects(low, "products")] == ["MUG-1"]
    assert "BOWL-1" in cli.ok("catalog", "list", "bowl").out

    adjusted = cli.ok("catalog", "adjust-stock", mug, "--delta", "-2", "--reason", "damage")
    assert "3 -> 1" in adjusted.out
    assert "below" in cli.fail(Exit.REFUSED, "catalog", "adjust-stock", mug, "--delta", "-5", "--reason", "damage")

    retired = cli.json("catalog", "update", mug, "--inactive", "--price-minor", "1500")
    assert retired["active"] is False
    assert retired["price"] == "15.00 EUR"
    assert "MUG-1" not in cli.ok("catalog", "search").out
    assert "MUG-1" in cli.ok("catalog", "search", "--include-inactive").out
    assert cli.fail(Exit.REFUSED, "catalog", "create", "--sku", "mug-1", "--name", "x", "--price-minor", "1",
                    "--currency", "EUR")  # fmt: skip


# -- orders, payments, refunds ---------------------------------------------------------------------


def test_an_order_from_placing_to_delivery(cli: Cli) -> None:
    ada = cli.customer()
    cli.product("MUG-1", stock=10)
    quote = cli.json("orders", "place", "--customer", ada, "--line", "MUG-1=2", "--dry-run")
    assert quote["can_place"] is True
    assert quote["order"] is None
    assert quote["total_minor"] == 2500

    placed = cli.json(
        "orders", "place", "--customer", ada, "--line", "mug-1=2", "--idempotency-key", "k-1",
        "--ship-name", "Ada", "--ship-line1", "1 Main St", "--ship-postal-code", "N1", "--ship-city", "London",
        "--ship-country", "gb",
    )  # fmt: skip
    order = as_object(placed["order"])
    order_id = string(order, "id")
    assert order["status"] == "placed"
    assert placed["replayed"] is False
    assert order["next_actions"] == ["shopkeeper payments record", "shopkeeper orders cancel"]
    again = cli.json("orders", "place", "--customer", ada, "--line", "MUG-1=2", "--idempotency-key", "k-1",
                     "--ship-name", "Ada", "--ship-line1", "1 Main St", "--ship-postal-code", "N1",
                     "--ship-city", "London", "--ship-country", "GB")  # fmt: skip
    assert again["replayed"] is True
    assert as_object(again["order"])["id"] == order_id

    not_yet = cli.fail(Exit.REFUSED, "orders", "ship", order_id, "--carrier", "DHL", "--tracking-number", "1")
    assert "shopkeeper payments record" in not_yet
    recorded = cli.json("payments", "record", "--order", order_id, "--amount", "2500", "--method", "bank_transfer")
    assert as_object(recorded["order"])["status"] == "paid"
    assert recorded["replayed"] is False

    shipped = cli.ok("orders", "ship", order_id, "--carrier", "DHL", "--tracking-number", "JD0001")
    assert "Shipped order" in shipped.out
    assert "DHL, tracking JD0001" in shipped.out
    assert cli.json("orders", "deliver", order_id)["status"] == "delivered"

    detail = cli.ok("orders", "get", order_id).out
    assert "delivered" in detail
    assert "Payments and refunds" in detail
    assert "25.00 EUR" in detail
    listed = cli.json("orders", "list", "--status", "delivered", "--customer", ada)
    assert [string(o, "id") for o in objects(listed, "orders")] == [order_id]
    today = date.today().isoformat()
    assert "No orders" in cli.ok("orders", "list", "--status", "placed", "--from", today).out
    assert cli.fail(Exit.USAGE, "orders", "list", "--from", "yesterday").startswith("shopkeeper: --from: ")


def test_placing_refuses_bad_lines_and_bad_line_syntax(cli: Cli) -> None:
    ada = cli.customer()
    cli.product("MUG-1", stock=1)
    assert "insufficient stock" in cli.fail(Exit.REFUSED, "orders", "place", "--customer", ada, "--line", "MUG-1=5")
    assert "SKU=QUANTITY" in cli.fail(Exit.USAGE, "orders", "place", "--customer", ada, "--line", "MUG-1")
    assert cli.fail(Exit.USAGE, "orders", "place", "--customer", ada, "--line", "MUG-1=0").startswith(
        "shopkeeper: --line (#1): "
    )
    assert "--ship-city: required" in cli.fail(
        Exit.USAGE, "orders", "place", "--customer", ada, "--line", "MUG-1=1", "--ship-name", "Ada"
    )
    missing = IdGenerator().new("ord")
    assert missing in cli.fail(Exit.NOT_FOUND, "orders", "get", missing)


def test_a_refund_with_yes_is_made_without_asking(cli: Cli) -> None:
    order_id = cli.paid_order(cli.customer())
    done = cli.json("payments", "refund", "--order", order_id, "--amount", "500", "--reason", "chipped", "--yes")
    assert done["outcome"] == "done"
    assert done["amount_minor"] == 500
    assert done["approval_id"] is None
    assert [r["amount"] for r in objects(done, "refunds")] == ["5.00 EUR"]
    assert cli.json("orders", "get", order_id)["refunded_minor"] == 500


def test_without_a_terminal_and_without_yes_nothing_is_refunded(cli: Cli) -> None:
    order_id = cli.paid_order(cli.customer())
    before = cli.db.tables()
    outcome = cli("payments", "refund", "--order", order_id, "--amount", "500", "--reason", "chipped")
    assert outcome.code == Exit.NOT_CONFIRMED
    assert outcome.out == ""
    preview, rerun = outcome.err.splitlines()
    assert preview.startswith("Refund 5.00 EUR of order " + order_id)
    assert "Ada Lovelace" in preview
    assert "--yes" in rerun
    assert "Nothing was changed" in rerun
    assert cli.db.tables() == before


@pytest.mark.parametrize(("answer", "refunded"), [("y", 500), ("YES\n", 500), ("n", 0), ("", 0)])
def test_a_person_at_the_terminal_confirms_a_refund(cli: Cli, answer: str, refunded: int) -> None:
    order_id = cli.paid_order(cli.customer())
    person = Person(answer)
    outcome = cli("refunds", "create", "--order", order_id, "--amount", "500", "--reason", "chipped",
                  terminal=person.terminal())  # fmt: skip
    (question,) = person.questions
    assert "Refund 5.00 EUR of order" in question
    assert question.endswith("Proceed? [y/N] ")
    assert outcome.code == (Exit.OK if refunded else Exit.NOT_CONFIRMED)
    assert ("Refunded 5.00 EUR" in outcome.out) == bool(refunded)
    assert cli.json("orders", "get", order_id)["refunded_minor"] == refunded


def test_a_retried_refund_with_its_key_is_replayed_not_made_twice(cli: Cli) -> None:
    order_id = cli.paid_order(cli.customer())
    args = ("payments", "refund", "--order", order_id, "--amount", "500", "--reason", "x", "--idempotency-key", "r1")
    assert cli.json(*args, "--yes")["outcome"] == "done"
    assert cli.json(*args)["outcome"] == "replayed"  # no --yes needed: nothing moves
    assert cli.json("orders", "get", order_id)["refunded_minor"] == 500
    other = ("payments", "refund", "--order", order_id, "--amount", "600", "--reason", "x", "--idempotency-key", "r1")
    assert "r1" in cli.fail(Exit.REFUSED, *other, "--yes")


def test_cancelling_a_paid_order_asks_and_an_unpaid_one_does_not(cli: Cli) -> None:
    ada = cli.customer()
    cli.product("MUG-1", stock=10)
    paid = cli.paid_order(ada, quantity=3)
    assert cli("orders", "cancel", paid).code == Exit.NOT_CONFIRMED
    person = Person("y")
    done = cli.json("orders", "cancel", paid, "--reason", "changed mind", terminal=person.terminal())
    assert "37.50 EUR is refunded" in person.questions[0]
    assert done["outcome"] == "done"
    assert done["order_status"] == "cancelled"
    assert done["restocked_units"] == 3
    assert cli.json("catalog", "get", "--sku", "MUG-1")["stock"] == 10

    unpaid = string(as_object(cli.json("orders", "place", "--customer", ada, "--line", "MUG-1=1")["order"]), "id")
    assert "refunded nothing" in cli.ok("orders", "cancel", unpaid).out
    assert "final status" in cli.fail(Exit.REFUSED, "orders", "cancel", unpaid, "--yes")


def test_payments_list_shows_payments_and_refunds(cli: Cli) -> None:
    order_id = cli.paid_order(cli.customer())
    cli.ok("payments", "refund", "--order", order_id, "--amount", "100", "--reason", "late", "--yes")
    listed = cli.json("payments", "list", "--order", order_id)
    assert [p["kind"] for p in objects(listed, "payments")] == ["payment", "refund"]
    text = cli.ok("payments", "list", "--order", order_id).out
    assert "-1.00 EUR" in text
    assert "late" in text


# -- reports, audit, notifications -----------------------------------------------------------------


def test_sales_report(cli: Cli) -> None:
    cli.paid_order(cli.customer())
    today = date.today().isoformat()
    report = cli.json("reports", "sales", "--from", today, "--to", today)
    days = objects(report, "days")
    assert sum(integer(d, "revenue_minor") for d in days) == 2500
    assert "25.00 EUR" in cli.ok("reports", "sales", "--from", today, "--to", today, "--by", "product").out
    assert "first day" in cli.fail(Exit.REFUSED, "reports", "sales", "--from", today, "--to", "2000-01-01")


def test_audit_names_the_actor(cli: Cli, make_cli: Callable[..., Cli]) -> None:
    ada = cli.customer()
    entries = objects(cli.json("audit", "list", "--entity-id", ada, "--detailed"), "entries")
    assert [(e["actor"], e["action"]) for e in entries] == [("tester", "customer.registered")]
    assert as_object(entries[0]["after"])["email"] == "ada@example.com"
    assert "customer.registered" in cli.ok("audit", "list").out

    anonymous = make_cli()  # no SHOPKEEPER_ACTOR: the login name
    anonymous.ok("customers", "update", ada, "--name", "Ada King")
    newest = objects(anonymous.json("audit", "list", "--limit", "1"), "entries")[0]
    assert newest["actor"] == f"cli:{getpass.getuser()}"


def test_notifications_list_and_retry(cli: Cli) -> None:
    cli.customer()
    listed = objects(cli.json("notifications", "list"), "notifications")
    assert [(n["kind"], n["status"]) for n in listed] == [("welcome", "pending")]
    assert "welcome" in cli.ok("notifications", "list", "--status", "pending").out
    assert "only failed" in cli.fail(Exit.REFUSED, "notifications", "retry", string(listed[0], "id"))
    missing = IdGenerator().new("ntf")
    assert missing in cli.fail(Exit.NOT_FOUND, "notifications", "retry", missing)
    assert as_list(cli.json("notifications", "list", "--status", "failed")["notifications"]) == []


def test_json_goes_before_or_after_the_command(cli: Cli) -> None:
    cli.customer()
    assert cli.ok("--json", "customers", "list").data() == cli.ok("customers", "list", "--json").data()
