from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from tests.databases import new_database
from tests.e2e.support import PROTOCOL_VERSIONS, Mode, Shop, add_approver, open_shop

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


@pytest.fixture(scope="session")
def migrated_shop_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One empty shop, made as `shopkeeper db init` makes it, once per test run."""
    path = tmp_path_factory.mktemp("template") / "shop.db"
    new_database(path)
    return path


@pytest.fixture(scope="session")
def approving_shop_file(tmp_path_factory: pytest.TempPathFactory, migrated_shop_file: Path) -> Path:
    """The empty shop with one approver (``support.APPROVER``), set up as `shopkeeper approvers add` does."""
    path = tmp_path_factory.mktemp("template-approver") / "shop.db"
    shutil.copy2(migrated_shop_file, path)
    anyio.run(add_approver, path)
    return path


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
async def shop(anyio_backend: str, shop_file: Path, mode: Mode) -> AsyncIterator[Shop]:
    del anyio_backend  # requested so the anyio plugin runs this async fixture
    async with open_shop(shop_file, mode) as connected:
        yield connected
