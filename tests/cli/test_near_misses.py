"""The command line says what a mistyped SKU or e-mail may have meant, and warns when it ships an order
that has no shipping address."""

from __future__ import annotations

from mcp_server.handlers.cli.common import Exit
from tests.cli.conftest import Cli
from tests.e2e.support import string


def test_a_mistyped_sku_names_the_sku_it_may_mean(cli: Cli) -> None:
    mug = cli.product("MUG-BLUE-01")
    ada = cli.customer()

    got = cli.fail(Exit.NOT_FOUND, "catalog", "get", "--sku", "MUG-BLEU-01")
    placed = cli.fail(Exit.REFUSED, "orders", "place", "--customer", ada, "--line", "MUG-BLEU-01=1")

    assert got == f"shopkeeper: No product with SKU 'MUG-BLEU-01'. Did you mean MUG-BLUE-01 (Mug MUG-BLUE-01, {mug})?"
    assert placed.endswith(f"Did you mean MUG-BLUE-01 (Mug MUG-BLUE-01, {mug}) for line 1?")


def test_a_dry_run_lists_the_skus_a_mistyped_line_may_mean(cli: Cli) -> None:
    mug = cli.product("MUG-BLUE-01")
    ada = cli.customer()

    out = cli.ok("orders", "place", "--customer", ada, "--line", "MUG-BLEU-01=1", "--dry-run").out

    assert f"Did you mean:\n  line 1 (MUG-BLEU-01): MUG-BLUE-01 (Mug MUG-BLUE-01, {mug})" in out


def test_a_mistyped_e_mail_names_the_customer_it_may_mean(cli: Cli) -> None:
    ada = cli.customer()

    line = cli.fail(Exit.NOT_FOUND, "customers", "get", "--email", "ada@exmaple.com")

    assert line.endswith(f"Did you mean ada@example.com (Ada Lovelace, {ada})?")


def test_shipping_an_order_without_an_address_ships_it_with_a_warning(cli: Cli) -> None:
    order_id = cli.paid_order(cli.customer())

    out = cli.ok("orders", "ship", order_id, "--carrier", "DHL", "--tracking-number", "1Z").out
    shipped = cli.json("orders", "get", order_id)

    assert out.startswith(f"WARNING: order {order_id} has no shipping address.")
    assert "'orders place' takes one (--ship-name, --ship-line1 …) only when the order is placed" in out
    assert string(shipped, "status") == "shipped"
