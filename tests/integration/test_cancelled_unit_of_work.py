"""A unit of work entered by cancelled code gives its connection back cleanly, so the process can exit
(on each engine).

Cancelling the driver mid-connect or mid-BEGIN left a half-closed aiosqlite connection whose close
task never finished: Ctrl-C during a card payment hung the server (its lease release ran here).
"""

from __future__ import annotations

import asyncio

import anyio
import anyio.lowlevel
import pytest

from mcp_server.adapters.database import create_engine, unit_of_work_factory
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


@pytest.mark.parametrize("write", [True, False], ids=["writer", "reader"])
async def test_a_unit_of_work_cancelled_mid_statement_finishes_and_leaves_nothing_behind(
    database_url: str, write: bool
) -> None:
    """Cancelled while the driver runs a statement (e.g. the server stopping mid-round of the e-mail
    worker): SQLAlchemy used to terminate the connection, leaving a close that waited forever."""
    for ticks in range(1, 80):  # the cancellation lands at a different step of the unit of work each time
        engine = create_engine(database_url)
        uow = unit_of_work_factory(engine)
        async with uow(write=write):  # a pooled connection, so the cancellation lands in the statements
            pass
        before = asyncio.all_tasks()
        finished: list[bool] = []
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_five_reads, uow, write, finished)
            for _ in range(ticks):
                await asyncio.sleep(0)
            tasks.cancel_scope.cancel()
        await anyio.lowlevel.checkpoint()

        left = [task.get_coro() for task in asyncio.all_tasks() - before if not task.done()]
        assert left == [], f"cancelled after {ticks} ticks: a task the process would wait for at exit"
        assert finished in ([], [True])
        async with uow(write=True) as work:
            await work.commit()
        await engine.dispose()


async def _five_reads(uow: SqlUnitOfWorkFactory, write: bool, finished: list[bool]) -> None:
    async with uow(write=write) as work:
        for _ in range(5):
            await work.outbox.page_after(status=None, after_id=None, limit=5)
        if write:
            await work.commit()
        finished.append(True)
