"""Racing real processes: start one per command, wait until each says ``ready``, say ``go`` to all at once,
and collect the JSON report each prints last (the racer modules beside this one speak that protocol)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process

ROOT = Path(__file__).resolve().parents[2]


async def race(commands: Sequence[Sequence[str]]) -> list[Any]:
    """Each process's report, in the order of ``commands``; every process must exit 0."""
    processes: list[Process] = []
    try:
        for command in commands:
            processes.append(await anyio.open_process(list(command), cwd=ROOT))
        lines = [await _line(p) for p in processes]
        assert lines == ["ready"] * len(processes), lines
        for process in processes:
            assert process.stdin is not None
            await process.stdin.send(b"go\n")
        reports = [json.loads(await _line(p)) for p in processes]
        for process in processes:
            assert await process.wait() == 0
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()
    return reports


async def _line(process: Process) -> str:
    assert process.stdout is not None
    data = b""
    while not data.endswith(b"\n"):
        data += await process.stdout.receive(1)
    return data.decode().strip()
