"""The confirmation-token key is kept in the database and shared by every process on it."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from mcp_server.adapters.database import create_engine, ensure_schema, server_secret

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_engines_racing_for_the_first_key_all_get_the_same_one(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    engines = [create_engine(url) for _ in range(4)]
    try:
        await ensure_schema(engines[0])
        keys: list[bytes] = []

        async def fetch(n: int) -> None:
            keys.append(await server_secret(engines[n], "confirmation_tokens"))

        async with anyio.create_task_group() as tasks:
            for n in range(len(engines)):
                tasks.start_soon(fetch, n)

        assert len(keys) == 4
        assert len(set(keys)) == 1, "every process must sign with the same key"
        assert len(keys[0]) == 32
        assert await server_secret(engines[0], "another_purpose") != keys[0]
    finally:
        for engine in engines:
            await engine.dispose()
