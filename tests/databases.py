"""The one way every kind of test makes a temporary shop database: as ``shopkeeper db init`` makes it.

No door creates a database by accident any more (a mistyped location must not become a new, empty
shop), so a test that needs one asks for it here, the way a person would.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import anyio

from mcp_server.config import load_settings
from mcp_server.entrypoint import bootstrap


def sqlite_url(db_path: Path) -> str:
    """The SHOPKEEPER_DATABASE_URL for ``db_path``; any character a file name may hold is escaped."""
    return f"sqlite+aiosqlite:///{quote(str(db_path))}"


def new_database(db_path: Path) -> str:
    """A new, migrated shop database at ``db_path`` (missing directories made, all private); its URL.

    Runs on a thread of its own, so sync fixtures and async tests alike can call it.
    """
    url = sqlite_url(db_path)
    init = bootstrap(load_settings({"SHOPKEEPER_DATABASE_URL": url})).cli_actions().init_database
    assert init is not None
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(anyio.run, init).result()
    return url


@contextmanager
def umask(mask: int) -> Generator[None]:
    """Run with the process's umask set to ``mask`` (e.g. 0o000, the most permissive)."""
    before = os.umask(mask)
    try:
        yield
    finally:
        os.umask(before)


def mode_of(path: Path) -> int:
    """The permission bits of ``path`` (not following a link)."""
    return path.lstat().st_mode & 0o777


def modes_in(directory: Path) -> dict[str, int]:
    """Each entry of ``directory`` by name, with its permission bits."""
    return {entry.name: mode_of(entry) for entry in directory.iterdir()}
