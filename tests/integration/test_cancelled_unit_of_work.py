"""A unit of work entered by cancelled code gives its connection back cleanly, so the process can exit.

Cancelling the driver mid-connect or mid-BEGIN left a half-closed aiosqlite connection whose close
task never finished: Ctrl-C during a card payment hung the server (its lease release ran here).
"""

from __future__ import annotations

import asyncio

import anyio
import anyio.lowlevel
import pytest

from mcp_server.repositories.unit_of_work import SqlUnitOfWorkFactory

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("write", [True, False], ids=["writer", "reader"])
async def test_a_unit_of_work_entered_while_cancelled_leaves_nothing_behind(
    uow: SqlUnitOfWorkFactory, write: bool
) -> None:
    before = asyncio.all_tasks()
    with anyio.CancelScope() as scope:
        scope.cancel()
        async with uow(write=write):  # e.g. a release in a clean-up path after the call was cancelled
            await anyio.lowlevel.checkpoint()
    await anyio.lowlevel.checkpoint()

    left = [task.get_coro() for task in asyncio.all_tasks() - before if not task.done()]
    assert left == [], "a task the process would wait for at exit"
    async with uow(write=True) as work:  # and the pool hands out a working connection
        await work.commit()
