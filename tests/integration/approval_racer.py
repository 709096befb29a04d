"""One shop process for the approval race test:
``python -m tests.integration.approval_racer DB_URL ORDER AMOUNT APPROVAL_ID``.

It opens its own engine on the shared database (a SQLite file or a PostgreSQL database), prints
``ready``, waits for a line on stdin (so the processes start together), then repeats the refund of
AMOUNT from ORDER with the approved request APPROVAL_ID and prints one JSON line: the kind of result,
and the field of a refusal.
"""

from __future__ import annotations

import json
import sys
from zoneinfo import ZoneInfo

import anyio

from mcp_server.adapters.database import create_engine, unit_of_work_factory
from mcp_server.models.payments import RefundCreate
from mcp_server.services.approvals import ApprovalDesk, ApprovalGiven
from mcp_server.services.payments import PaymentService
from mcp_server.services.results import Rejected
from mcp_server.utils.ids import IdGenerator
from mcp_server.utils.time import SystemClock

REASON = "chipped"


async def main(database_url: str, order_id: str, amount: int, approval_id: str) -> None:
    engine = create_engine(database_url)
    try:
        clock, ids = SystemClock(), IdGenerator()
        payments = PaymentService(unit_of_work_factory(engine), clock, ids, ApprovalDesk(clock, ids), ZoneInfo("UTC"))
        request = RefundCreate(order_id=order_id, amount=amount, reason=REASON)
        _say("ready")
        await anyio.to_thread.run_sync(sys.stdin.readline)
        done = await payments.refund(request, actor="racer", approval=ApprovalGiven(approval_id))
    finally:
        await engine.dispose()
    field = done.field if isinstance(done, Rejected) else None
    _say(json.dumps({"result": type(done).__name__, "field": field}))


def _say(line: str) -> None:
    """A line for the test that started this process (stdout is its pipe)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
