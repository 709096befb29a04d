"""``uvx --from <wheel> shopkeeper-mcp``: uv from the package registry, on this interpreter (no Python
downloads) and pip's indexes, runs the server, which answers over stdio. The ``uvx_env`` fixture has
already run ``uvx … shopkeeper-mcp --version`` (and filled uv's cache)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.support import Built, assert_serves_shopkeeper, handshake, pip_indexes

pytestmark = pytest.mark.slow


def test_uv_is_pointed_at_pip_s_indexes(uvx_env: dict[str, str]) -> None:
    indexes = pip_indexes()
    assert uvx_env["UV_DEFAULT_INDEX"] == indexes.default
    assert uvx_env.get("UV_INDEX", "").split() == list(indexes.extra)
    assert uvx_env.get("UV_FIND_LINKS", "").split(",") == list(indexes.find_links or [""])
    assert uvx_env["UV_PYTHON_DOWNLOADS"] == "never"


def test_uvx_runs_the_server_from_the_wheel(built: Built, uvx_env: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    env = {**uvx_env, "SHOPKEEPER_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    shake = handshake(
        ["uvx", "--from", built.wheel, "shopkeeper-mcp"],
        env=env,
        cwd=tmp_path,
        stderr_path=tmp_path / "stderr.log",
        call=("catalog_search", {"text": "tea"}),
    )
    assert_serves_shopkeeper(shake)
    assert shake.called is not None
    assert shake.called.get("isError") is False, shake.called
    assert db.is_file(), "the server made the shop where SHOPKEEPER_DATABASE_URL says"
