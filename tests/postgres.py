"""A throwaway PostgreSQL 15 server for the tests: its own cluster in a temporary folder, on a free
loopback port, started once and stopped when the tests end.

PostgreSQL refuses to run as root, so under root the cluster belongs to the ``postgres`` system
user (Debian's packages make it) and is run through ``runuser``; otherwise as the current user.
The binaries come from ``pg_config --bindir`` (Debian's postgresql-15; `.ci/run` and `make test`
install it where apt-get can).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class PostgresServer:
    host: str
    port: int
    user: str
    bindir: Path

    def url(self, database: str, driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database ``name`` (dropped first if a test left one behind), empty or a copy of
        ``template`` (which no one may be connected to); its asyncpg URL."""
        # FILE_COPY: for a small template a copy of its files (~25 ms) beats WAL-logging every block (~60 ms).
        copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template is not None else ""
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, closing any connection still open to it."""
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _psql(self, *statements: str) -> None:
        """Run each statement on its own (CREATE DATABASE cannot run inside a transaction), in one psql."""
        commands = [arg for sql in statements for arg in ("-c", sql)]
        subprocess.run(
            [str(self.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port),
             "-U", self.user, "-d", "postgres", *commands],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip


def bindir() -> Path | None:
    """Where PostgreSQL's server programs are (``pg_config --bindir``, else Debian's
    /usr/lib/postgresql/<version>/bin, newest first, which is not on PATH), or None when not installed."""
    candidates: list[Path] = []
    try:
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10, check=True)
        candidates.append(Path(found.stdout.strip()))
    except (OSError, subprocess.SubprocessError):
        pass
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        versions, key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0, reverse=True
    )
    return next((path for path in candidates if (path / "initdb").exists() and (path / "pg_ctl").exists()), None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_server() -> Generator[PostgresServer]:
    """Start a new cluster (trust authentication on loopback only) and stop it afterwards."""
    programs = bindir()
    if programs is None:
        raise RuntimeError(
            "the PostgreSQL tests need PostgreSQL 15's server programs (Debian: apt-get install postgresql-15); "
            "`pg_config --bindir` did not find initdb and pg_ctl"
        )
    as_root = os.geteuid() == 0
    owner = "postgres" if as_root else None
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    folder = Path(tempfile.mkdtemp(prefix="shopkeeper-pg-"))
    data, log = folder / "data", folder / "server.log"
    if owner is not None:
        shutil.chown(folder, user=owner)
    port = _free_port()
    user = owner or os.environ.get("USER") or "postgres"

    def run(*argv: str) -> None:
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=START_TIMEOUT_S)

    run(
        str(programs / "initdb"),
        "-D",
        str(data),
        "-U",
        user,
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c full_page_writes=off"
    run(str(programs / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield PostgresServer("127.0.0.1", port, user, programs)
    finally:
        subprocess.run(
            [*prefix, str(programs / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True, timeout=START_TIMEOUT_S, check=False,
        )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
