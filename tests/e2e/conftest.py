from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.support import PROTOCOL_VERSIONS, Mode, Shop, open_shop

_MODES: list[Mode] = ["auto", "legacy"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=_MODES, ids=[PROTOCOL_VERSIONS[m] for m in _MODES])
def mode(request: pytest.FixtureRequest) -> Mode:
    """Every in-memory test runs on both protocol versions a client may speak."""
    chosen: Mode = request.param
    return chosen


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "shop.db"


@pytest.fixture
async def shop(anyio_backend: str, db_path: Path, mode: Mode) -> AsyncIterator[Shop]:
    del anyio_backend  # requested so the anyio plugin runs this async fixture
    async with open_shop(db_path, mode) as connected:
        yield connected
