"""``shopkeeper catalog create|get|search|update|adjust-stock``."""

from __future__ import annotations

import argparse
from typing import get_args

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
from mcp_server.models.catalog import (
    Product,
    ProductCreate,
    ProductLookup,
    ProductPageRead,
    ProductQuery,
    ProductRead,
    ProductUpdate,
    StockAdjustment,
    StockReason,
)
from mcp_server.utils.money import format_money

PRICE_HELP = "price in minor units: 1250 means 12.50 EUR, 500 means 500 JPY"


def detail(p: Product) -> str:
    return output.fields(
        [
            ("id", p.id),
            ("sku", p.sku),
            ("name", p.name),
            ("price", format_money(p.price_minor, p.currency)),
            ("stock", p.stock),
            ("active", p.active),
            ("description", p.description),
            ("added", p.created_at),
            ("updated", p.updated_at),
        ]
    )


async def create(args: argparse.Namespace, call: Call) -> int:
    values = {"sku": args.sku, "name": args.name, "description": args.description, "price_minor": args.price_minor}
    values |= {"currency": args.currency, "stock": args.stock, "active": not args.inactive}
    product = check(await call.services.catalog.create_product(validated(ProductCreate, values), actor=call.actor))
    return call.show(ProductRead.from_record(product), lambda: f"Added {product.name}.\n\n{detail(product)}")


async def get(args: argparse.Namespace, call: Call) -> int:
    lookup = validated(ProductLookup, {"product_id": args.product_id, "sku": args.sku}, {"product_id": "ID"})
    product = check(await call.services.catalog.get(product_id=lookup.product_id, sku=lookup.sku))
    return call.show(ProductRead.from_record(product), lambda: detail(product))


async def search(args: argparse.Namespace, call: Call) -> int:
    values = {"text": args.text, "include_inactive": args.include_inactive, "stock_below": args.stock_below}
    query = validated(ProductQuery, values | {"limit": args.limit, "cursor": args.cursor}, {"text": "TEXT"})
    found = check(await call.services.catalog.search(query))
    rows = [[p.id, p.sku, p.name, format_money(p.price_minor, p.currency), p.stock, p.active] for p in found.items]
    return call.show(
        ProductPageRead(products=[ProductRead.from_record(p) for p in found.items], next_cursor=found.next_cursor),
        lambda: output.page("products", ["id", "sku", "name", "price", "stock", "active"], rows, found.next_cursor),
    )


async def update(args: argparse.Namespace, call: Call) -> int:
    values = given(args, ("name", "description", "price_minor", "currency"))
    values |= {"active": args.active} if args.active is not None else {}
    changes = validated(ProductUpdate, values, partial=True)
    change = check(await call.services.catalog.update_product(args.product_id, changes, actor=call.actor))
    product = change.product
    return call.show(
        ProductRead.from_record(product), lambda: f"{changed(product.name, change.changed)}\n\n{detail(product)}"
    )


async def adjust_stock(args: argparse.Namespace, call: Call) -> int:
    adjustment = validated(StockAdjustment, {"delta": args.delta, "reason": args.reason, "note": args.note})
    change = check(await call.services.catalog.adjust_stock(args.product_id, adjustment, actor=call.actor))
    product = change.product
    return call.show(
        ProductRead.from_record(product),
        lambda: f"Stock of {product.name} ({product.sku}): {change.before:,} -> {product.stock:,} ({change.reason}).",
    )


def register(groups: Subcommands) -> None:
    commands = group(
        groups,
        "catalog",
        summary="products: add, look up, search, update, adjust stock",
        description="The product catalog: prices and stock.",
    )
    create_ = command(
        commands,
        "create",
        create,
        summary="add a product",
        description="Add a product with its price and starting stock. SKUs are unique in any letter case "
        "(exit 4 names the existing product). Change stock later with 'catalog adjust-stock'.",
    )
    create_.add_argument("--sku", required=True, help="stock-keeping unit, e.g. MUG-BLUE-01")
    create_.add_argument("--name", required=True, help="name as customers see it")
    create_.add_argument("--price-minor", type=int, required=True, help=PRICE_HELP)
    create_.add_argument("--currency", required=True, help="ISO 4217 code, e.g. EUR, USD, JPY")
    create_.add_argument("--stock", type=int, help="units in stock now (default 0)")
    create_.add_argument("--description", help="up to 4000 characters")
    create_.add_argument("--inactive", action="store_true", help="add it retired (kept out of searches)")

    get_ = command(commands, "get", get, summary="show one product", description="Show one product, by id or by SKU.")
    which = get_.add_mutually_exclusive_group(required=True)
    which.add_argument("product_id", nargs="?", metavar="ID", help="product id (prd_...)")
    which.add_argument("--sku", help="the SKU, any letter case")

    search_ = command(
        commands,
        "search",
        search,
        aliases=("list",),
        summary="find products by part of the name or SKU",
        description="List products in catalog order, active ones only unless --include-inactive; optionally "
        "only those matching TEXT or low on stock. Prints a cursor for the next page.",
    )
    search_.add_argument("text", nargs="?", metavar="TEXT", help="part of a name or SKU, any letter case")
    search_.add_argument("--include-inactive", action="store_true", help="also list retired products")
    search_.add_argument("--stock-below", type=int, help="only products with fewer units than this")
    paging(search_)

    update_ = command(
        commands,
        "update",
        update,
        summary="change a product's name, description, price or active flag",
        description="Change only the fields given. Stock changes go through 'catalog adjust-stock'. "
        "To change the currency, give the price in the new currency too.",
    )
    update_.add_argument("product_id", metavar="ID", help="product id (prd_...)")
    update_.add_argument("--name", help="new name")
    description = update_.add_mutually_exclusive_group()
    description.add_argument("--description", help="new description")
    description.add_argument("--clear-description", action="store_true", help="remove the description")
    update_.add_argument("--price-minor", type=int, help=PRICE_HELP)
    update_.add_argument("--currency", help="new currency (ISO 4217)")
    active = update_.add_mutually_exclusive_group()
    active.add_argument("--active", dest="active", action="store_true", default=None, help="bring it back")
    active.add_argument("--inactive", dest="active", action="store_false", help="retire it")

    adjust = command(
        commands,
        "adjust-stock",
        adjust_stock,
        summary="add or remove stock, with a reason",
        description="Add (positive --delta) or remove (negative) units; stock never goes below zero. "
        "Not idempotent: running it twice adjusts twice.",
    )
    adjust.add_argument("product_id", metavar="ID", help="product id (prd_...)")
    adjust.add_argument("--delta", type=int, required=True, help="units to add, or remove when negative (e.g. -2)")
    adjust.add_argument("--reason", required=True, choices=get_args(StockReason), help="why the stock changes")
    adjust.add_argument("--note", help="a note for the audit log")
