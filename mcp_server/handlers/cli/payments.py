"""``shopkeeper payments record|list|refund|settle`` and ``shopkeeper refunds create``."""

from __future__ import annotations

import argparse
from typing import Any, Literal, NoReturn, get_args, get_origin

from pydantic import BaseModel

from mcp_server.handlers.cli.common import (
    ACTION_COMMANDS,
    Call,
    Exit,
    Subcommands,
    check,
    command,
    fail,
    group,
    idempotency_key,
    idempotency_option,
    money_back_exit,
    next_commands,
    paging,
    validated,
    yes_option,
)
from mcp_server.handlers.cli.confirm import with_confirmation
from mcp_server.handlers.cli.orders import card_refund_notes, order_text, payments_table
from mcp_server.handlers.views import cards
from mcp_server.handlers.views.money_back import refund_done, refund_read
from mcp_server.models.orders import OrderRead
from mcp_server.models.payments import (
    PaymentCreate,
    PaymentPageRead,
    PaymentQuery,
    PaymentRead,
    PaymentSettle,
    RefundCreate,
)
from mcp_server.services.approvals import Approval
from mcp_server.services.payments import CardNotCharged, HandSettlement, RefundPlan
from mcp_server.utils.money import format_money

AMOUNT_HELP = "minor units: 1250 means 12.50 EUR"


def literal_choices(model: type[BaseModel], field: str) -> tuple[str, ...] | None:
    """The values a Literal field accepts, for argparse's choices (None: let the model say)."""
    annotation = model.model_fields[field].annotation
    if get_origin(annotation) is Literal:
        return tuple(str(value) for value in get_args(annotation))
    return None


async def record(args: argparse.Namespace, call: Call) -> int:
    values = {"order_id": args.order, "amount": args.amount, "method": args.method, "reference": args.reference}
    values["payment_method"] = args.payment_method
    request = validated(PaymentCreate, values, {"order_id": "--order"})
    result = await call.services.payments.record(request, actor=call.actor, idempotency_key=idempotency_key(args))
    if isinstance(result, CardNotCharged):
        not_charged(result)
    recorded = check(result)
    order, view = recorded.order, cards.charged(recorded)
    structured: dict[str, Any] = PaymentRead.from_record(recorded.payment).model_dump(mode="json") | {
        "replayed": recorded.replayed,
        "resumed": recorded.resumed,
        "order": OrderRead.from_record(order, next_commands(order)).model_dump(mode="json"),
    }
    money = view.money
    match view.state:
        case "replayed":
            heading = (
                f"Payment {view.payment_id} of {money} was already recorded with this idempotency key; nothing was "
                "changed now."
            )
        case "resumed":
            heading = (
                f"Card payment {view.payment_id} of {money}, left pending earlier, is now complete: the card was "
                "charged once. This command charged nothing else."
            )
        case "card":
            heading = f"Charged {money} to card {view.card} for order {view.order_id} as {view.payment_id}."
        case "manual":
            heading = f"Recorded {money} ({view.method}) for order {view.order_id} as {view.payment_id}."
    return call.show(structured, lambda: order_text(order, heading=heading))


def not_charged(result: CardNotCharged) -> NoReturn:
    """A card payment the gateway did not complete: exit 6 while unknown (try again), 4 when refused."""
    view = cards.not_charged(result)
    what = f"{'the earlier card payment' if view.resumed else 'card payment'} {view.payment_id} of {view.money}"
    match view.state:
        case "needs_person":  # the reason names what to look up and the command that settles it
            fail(
                f"{what} for order {view.order_id} is pending and asking the gateway again will not settle it: "
                f"{view.reason}",
                Exit.REFUSED,
            )
        case "pending":
            fail(
                f"{what} for order {view.order_id} is pending: {view.reason}. Whether the card was charged is not "
                f"known yet; run 'shopkeeper {ACTION_COMMANDS['pay']} --order {view.order_id} ...' again in a "
                "minute: it asks about this same payment and cannot charge twice",
                Exit.UNAVAILABLE,
            )
        case "failed":
            fail(
                f"{view.reason}: {what} for order {view.order_id} is recorded as failed and nothing was charged; "
                "try another card (--payment-method) or another --method",
                Exit.REFUSED,
            )


async def list_(args: argparse.Namespace, call: Call) -> int:
    values = {"order_id": args.order, "date_from": args.date_from, "date_to": args.date_to}
    query = validated(
        PaymentQuery,
        values | {"limit": args.limit, "cursor": args.cursor},
        {"order_id": "--order", "date_from": "--from", "date_to": "--to"},
    )
    found = check(await call.services.payments.list(query))
    structured = PaymentPageRead(
        payments=[PaymentRead.from_record(p) for p in found.items], next_cursor=found.next_cursor
    )

    def human() -> str:
        if not found.items:
            return "No payments or refunds."
        text = payments_table(found.items)
        if found.next_cursor is not None:
            text += f"\n\n{len(found.items)} shown. Next page: --cursor {found.next_cursor} (with the same filters)"
        return text

    return call.show(structured, human)


async def refund(args: argparse.Namespace, call: Call) -> int:
    values = {"order_id": args.order, "payment_id": args.payment, "amount": args.amount, "reason": args.reason}
    request = validated(
        RefundCreate, values | {"restock": args.restock}, {"order_id": "--order", "payment_id": "--payment"}
    )
    key = idempotency_key(args)

    async def attempt(approval: Approval):  # the service's own union of results
        return await call.services.payments.refund(request, actor=call.actor, approval=approval, idempotency_key=key)

    plan = check(await with_confirmation(call, attempt, RefundPlan.describe, yes=args.yes))
    order = plan.order
    structured = refund_read(plan, done=True)
    view = refund_done(plan)
    match view.state:
        case "unfinished":
            notes = card_refund_notes(plan.refunds, order.id)
            heading = f"Refund of {view.amount} on order {view.order_id}: not all of it is done.\n{notes}"
        case "replayed":
            heading = (
                f"Refund of {view.amount} on order {view.order_id} was already made with this idempotency key; "
                "nothing was changed now."
            )
        case "done":
            heading = f"Refunded {view.amount} on order {view.order_id}; the customer will get an e-mail."
    stock = f"\n{view.restocked_units} unit(s) went back into stock." if view.restocked_units else ""
    totals = f"order status: {view.order_status}; refunded in total {view.refunded} of {view.paid} paid.{stock}"
    call.show(structured, lambda: f"{heading}\n{totals}\n\n{payments_table(plan.refunds)}")
    return money_back_exit(plan.refunds)


async def settle(args: argparse.Namespace, call: Call) -> int:
    outcome = "succeeded" if args.succeeded else "failed"
    values = {
        "payment_id": args.payment_id,
        "outcome": outcome,
        "gateway_reference": args.gateway_reference,
        "note": args.note,
    }
    request = validated(PaymentSettle, values, {"payment_id": "PAYMENT_ID"})
    if outcome == "succeeded" and request.payment_id.lower().startswith("pay_") and not request.gateway_reference:
        fail(
            "--gateway-reference: required with --succeeded for a card payment: the payment intent's id (pi_...) "
            "as the gateway's dashboard shows it",
            Exit.USAGE,
        )

    async def attempt(approval: Approval):  # the service's own union of results
        return await call.services.payments.settle_by_hand(request, actor=call.actor, approval=approval)

    done = check(await with_confirmation(call, attempt, HandSettlement.describe, yes=args.yes))
    row, order = done.row, done.order
    structured: dict[str, Any] = {
        "outcome": row.status,
        "settled_by_hand": True,
        "note": done.note,
        "payment": PaymentRead.from_record(row).model_dump(mode="json"),
        "order": OrderRead.from_record(order, next_commands(order)).model_dump(mode="json"),
        "preview": done.describe(),
    }
    return call.show(structured, lambda: order_text(order, heading=settled_heading(done)))


def settled_heading(done: HandSettlement) -> str:
    row, order = done.row, done.order
    money = format_money(row.amount_minor, row.currency)
    reference = f" ({row.gateway_reference})" if row.gateway_reference else ""
    if row.kind == "payment" and row.status == "succeeded":
        return f"Card payment {row.id} of {money}{reference} settled by hand as succeeded: it counts as paid."
    if row.kind == "payment":
        return (
            f"Card payment {row.id} of {money} settled by hand as failed: nothing was counted as paid. The order "
            "can take another payment or be cancelled."
        )
    if row.status == "succeeded":
        mail = "; the customer will get an e-mail" if order.status != "cancelled" else ""
        return f"Card refund {row.id} of {money}{reference} settled by hand as made: it counts as refunded{mail}."
    return (
        f"Card refund {row.id} of {money} settled by hand as failed: nothing was counted as refunded, and the "
        f"money can be refunded again ('shopkeeper {ACTION_COMMANDS['refund']} --order {order.id} ...')."
    )


def refund_options(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--order", metavar="ID", help="refund this order (its newest payments first)")
    which.add_argument("--payment", metavar="ID", help="refund this one payment (pay_...)")
    parser.add_argument("--amount", type=int, required=True, help=AMOUNT_HELP)
    parser.add_argument("--reason", required=True, help="why, kept in the shop's records")
    parser.add_argument("--restock", action="store_true", help="put every unit of the order not yet returned back")
    idempotency_option(parser, "a repeat with the same key and arguments returns the first refund")
    yes_option(parser)


REFUND_SUMMARY = "give money back to a customer (asks you to confirm)"
REFUND_DESCRIPTION = (
    "Give money back: never more than paid minus already refunded. You are shown what will happen and asked "
    "to confirm; scripts pass --yes. Without a terminal and without --yes nothing changes (exit 5). When refunds "
    "reach the amount paid the order becomes refunded. For a return of only some items, refund without "
    "--restock and use 'catalog adjust-stock --reason restock' for the returned units."
)


SETTLE_DESCRIPTION = (
    "For a card payment (pay_...) or card refund (ref_...) left pending that the gateway cannot settle by being "
    "asked again: pending for longer than the gateway keeps its idempotency key, charged or refunded for another "
    "amount, or a key the gateway says was used for something else. First look it up in the payment gateway's "
    "dashboard (by its idempotency key, shopkeeper-<id>), then say what happened: --succeeded (with the pi_... or "
    "re_... id the dashboard shows; required for a payment) or --failed. It is booked as if the gateway had "
    "answered so: a payment pays the order, a refund counts as refunded and the customer gets the e-mail; a "
    "failed one is marked failed and the order can take another payment, be cancelled, or be refunded again. "
    "The audit log keeps who did it and --note. You are shown what will happen and asked to confirm; scripts "
    "pass --yes. Without a terminal and without --yes nothing changes (exit 5). A row that is no longer pending "
    "is reported as it is and nothing changes (exit 4)."
)


def settle_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "payment_id", metavar="PAYMENT_ID", help="the pending card payment (pay_...) or refund (ref_...)"
    )
    outcome = parser.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--succeeded", action="store_true", help="the gateway's dashboard shows the money moved")
    outcome.add_argument("--failed", action="store_true", help="the dashboard shows it did not (or it is not there)")
    parser.add_argument(
        "--gateway-reference",
        metavar="ID",
        help="the gateway's id from its dashboard: pi_... for a payment (required with --succeeded), re_... for a "
        "refund",
    )
    parser.add_argument("--note", required=True, help="what you saw in the dashboard, kept in the audit log")
    yes_option(parser)


def register(groups: Subcommands) -> None:
    commands = group(
        groups, "payments", summary="record payments, list the ledger, refund", description="Money in and out."
    )
    record_ = command(
        commands,
        "record",
        record,
        summary="record money received for an order",
        description="Record money received for a placed order, or charge the customer's saved card (--method "
        "card, when the shop has a payment gateway). At most what is still to pay. When payments cover the total "
        "the order becomes paid and can be shipped.",
    )
    record_.add_argument("--order", required=True, metavar="ID", help="order id (ord_...)")
    record_.add_argument("--amount", type=int, help=f"{AMOUNT_HELP}; default: all that is still to pay")
    record_.add_argument(
        "--method", required=True, choices=literal_choices(PaymentCreate, "method"), help="how it is paid"
    )
    record_.add_argument("--payment-method", metavar="PM_ID", help="--method card: the customer's saved card (pm_...)")
    record_.add_argument("--reference", help="manual payments: e.g. the bank transfer's reference or a receipt number")
    idempotency_option(record_, "a repeat with the same key and arguments returns the first payment")

    list_parser = command(
        commands,
        "list",
        list_,
        summary="list payments and refunds, oldest first",
        description="Payments received and refunds made, oldest first, by order or by day range (shop time zone).",
    )
    list_parser.add_argument("--order", metavar="ID", help="only this order's payments and refunds")
    list_parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="first day")
    list_parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="last day (inclusive)")
    paging(list_parser)

    refund_options(command(commands, "refund", refund, summary=REFUND_SUMMARY, description=REFUND_DESCRIPTION))
    settle_options(
        command(
            commands,
            "settle",
            settle,
            summary="settle a stuck card payment or refund by hand (asks you to confirm)",
            description=SETTLE_DESCRIPTION,
        )
    )
    refunds = group(groups, "refunds", summary="refund a payment or order", description="Money going back.")
    refund_options(command(refunds, "create", refund, summary=REFUND_SUMMARY, description=REFUND_DESCRIPTION))
