from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.support import PROTOCOL_VERSIONS, Mode, Shop, open_shop
from tests.engines import Engine, ShopDatabase

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
def shop_file(request: pytest.FixtureRequest, db_path: Path, migrated_shop_file: Path) -> Path:
    """An empty shop of the test's own at ``db_path``: a copy of one migrated file (migrating a new file
    for each of the many tests here took a third of their time; test_database_location.py covers the
    server creating one). Tests marked ``approver`` start with one approver."""
    if not db_path.exists():
        template = (
            request.getfixturevalue("approving_shop_file")
            if request.node.get_closest_marker("approver")
            else migrated_shop_file
        )
        shutil.copy2(template, db_path)
    return db_path


@pytest.fixture
async def shop(anyio_backend: str, shop_db: ShopDatabase, mode: Mode) -> AsyncIterator[Shop]:
    """The real server on a shop of the test's own, connected in-process: on SQLite over both protocol
    versions, and on PostgreSQL (the engine is independent of the protocol: one version there)."""
    del anyio_backend  # requested so the anyio plugin runs this async fixture
    async with open_shop(shop_db, mode) as connected:
        yield connected


_PAIRS: list[tuple[Engine, Mode]] = [("sqlite", "auto"), ("sqlite", "legacy"), ("postgresql", "auto")]


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that needs both an engine and a protocol version runs on the three pairs above (as a
    parametrize mark, added before pytest reads marks, so it takes precedence over the fixtures' params)."""
    if "db_engine" in metafunc.fixturenames and "mode" in metafunc.fixturenames:
        ids = [f"{engine}-{PROTOCOL_VERSIONS[mode]}" for engine, mode in _PAIRS]
        metafunc.definition.add_marker(pytest.mark.parametrize(("db_engine", "mode"), _PAIRS, ids=ids))
