"""One shop process for the PostgreSQL race tests (``test_concurrency_postgres.py``):

- ``python -m tests.integration.pg_racer deliver DB_URL MAIL_DIR API_BASE TOKEN``: an e-mail worker,
  delivering the outbox one message a round until two rounds in a row find nothing;
- ``python -m tests.integration.pg_racer settle DB_URL MAIL_DIR GATEWAY_URL ORDER...``: for each order,
  ``CALLS`` card payments at once, plus one background settling round, all at the same time.

It starts the services on the shared database (its own engine, pool and HTTP client), prints
``ready``, waits for a line on stdin (so every process starts together), does its work and prints
one JSON line saying what it saw.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import anyio

from mcp_server.adapters.service_factories import Backend, CardOptions, MailOptions
from mcp_server.models.payments import PaymentCreate
from mcp_server.services.notifications import DeliveryRound
from mcp_server.services.payments import CardNotCharged, SettleRound
from mcp_server.services.results import IllegalTransition, Success
from tests.integration.stripe_standin import SECRET

CALLS = 2
CARD = "pm_card_visa"
GIVE_UP_S = 20.0


async def main(mode: str, database_url: str, mail_dir: str, *rest: str) -> None:
    if mode == "deliver":
        api_base, token = rest
        mail = MailOptions(directory=Path(mail_dir), sender="shop@example.com", api_base=api_base, token=token)
        backend = await Backend.start(database_url, mail=mail)
    elif mode == "settle":
        cards = CardOptions(secret_key=SECRET, api_base=rest[0])
        backend = await Backend.start(database_url, mail=MailOptions(directory=Path(mail_dir)), cards=cards)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    try:
        _say("ready")
        await anyio.to_thread.run_sync(sys.stdin.readline)
        with anyio.fail_after(GIVE_UP_S):
            report = await (_deliver(backend) if mode == "deliver" else _settle(backend, list(rest[1:])))
    finally:
        await backend.close()
    _say(json.dumps(report))


async def _deliver(backend: Backend) -> dict[str, int]:
    """Rounds of one message each (the most claims, so the most chances for two workers to overlap)."""
    done = {"sent": 0, "retrying": 0, "failed": 0, "lost": 0, "busy": 0}
    idle = 0
    while idle < 2:
        outcome = await backend.services.notifications.deliver_due(limit=1)
        if not isinstance(outcome, DeliveryRound):
            done["busy"] += 1
            await anyio.sleep(0.01)
            continue
        for name in ("sent", "retrying", "failed", "lost"):
            done[name] += getattr(outcome, name)
        idle = 0 if outcome.handled or outcome.lost else idle + 1
        if idle:
            await anyio.sleep(0.02)  # the other worker may hold the last rows' claim for a moment
    return done


async def _settle(backend: Backend, order_ids: list[str]) -> list[str]:
    """What each call answered, in words the test counts."""
    outcomes: list[str] = []
    payments = backend.services.payments

    async def pay(order_id: str) -> None:
        done = await payments.record(
            PaymentCreate(order_id=order_id, method="card", payment_method=CARD), actor="racer"
        )
        match done:
            case Success(value=recorded):
                outcomes.append(f"paid:{recorded.payment.status}")
            case CardNotCharged(payment=row, reason=reason):
                outcomes.append(f"not charged:{row.status}:{reason}")
            case IllegalTransition(status=status):
                outcomes.append(f"order is {status}")
            case _:
                outcomes.append(f"other:{done!r}")

    async def settle() -> None:
        done = await payments.settle_pending(actor="settler", min_age=timedelta(0))
        if isinstance(done, SettleRound):
            outcomes.append(f"settler:succeeded={done.succeeded},failed={done.failed},busy={done.busy}")
        else:
            outcomes.append(f"other:{done!r}")

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(settle)
        for order_id in order_ids:
            for _ in range(CALLS):
                tasks.start_soon(pay, order_id)
    return outcomes


def _say(line: str) -> None:
    """A line for the test that started this process (stdout is its pipe)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], *sys.argv[4:])
