"""One shop process for the lease race test: ``python -m tests.integration.card_racer DB_URL GATEWAY_URL ORDER N``.

It opens its own engine on the shared database and its own gateway client, prints ``ready``,
waits for a line on stdin (so every process starts together), then makes N confirmed card
refunds of 1.00 of the order at once and prints one JSON line: the statuses of the refund rows
each call reported (or the kind of result when it was not a refund plan).
"""

from __future__ import annotations

import json
import sys
from zoneinfo import ZoneInfo

import anyio
import httpx

from mcp_server.adapters.database import create_engine, unit_of_work_factory
from mcp_server.clients.payment_gateway import RetryPolicy, StripePaymentGateway
from mcp_server.models.payments import RefundCreate
from mcp_server.services.approvals import ApprovalDesk, PersonConfirmed
from mcp_server.services.payments import PaymentService
from mcp_server.services.results import Success
from mcp_server.utils.ids import IdGenerator
from mcp_server.utils.time import SystemClock
from tests.integration.stripe_standin import SECRET

AMOUNT = 100


async def main(database_url: str, gateway_url: str, order_id: str, calls: int) -> None:
    engine = create_engine(database_url)
    outcomes: list[object] = []
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http:
            gateway = StripePaymentGateway(
                http, secret_key=SECRET, base_url=gateway_url, retry=RetryPolicy(attempts=2, base_delay_s=0.05)
            )
            clock, ids = SystemClock(), IdGenerator()
            payments = PaymentService(
                unit_of_work_factory(engine),
                clock,
                ids,
                ApprovalDesk(clock, ids),
                ZoneInfo("UTC"),
                gateway,
            )
            request = RefundCreate(order_id=order_id, amount=AMOUNT, reason="race")

            async def refund() -> None:
                done = await payments.refund(request, actor="racer", approval=PersonConfirmed())
                outcomes.append([r.status for r in done.value.refunds] if isinstance(done, Success) else str(done))

            _say("ready")
            await anyio.to_thread.run_sync(sys.stdin.readline)
            async with anyio.create_task_group() as tasks:
                for _ in range(calls):
                    tasks.start_soon(refund)
    finally:
        await engine.dispose()
    _say(json.dumps(outcomes))


def _say(line: str) -> None:
    """A line for the test that started this process (stdout is its pipe)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
