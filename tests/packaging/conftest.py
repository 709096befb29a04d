"""What the packaging tests share, made once per run under pytest's temporary directory: the sdist and
wheel built from a copy of the source, a clean virtualenv with the wheel installed, uv in a virtualenv of
its own with a warm cache, and the MCP Bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.packaging.support import (
    CHECKOUT,
    Built,
    build_dist,
    copy_source,
    new_venv,
    outside_env,
    pip_install,
    run,
    uv_env,
)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """``make dist`` on a fresh copy of the source (a build writes egg-info beside its source)."""
    source = tmp_path_factory.mktemp("source")
    copy_source(source)
    return build_dist(source, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def wheelhouse(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and every dependency, fetched once by ``pip download`` from pip's indexes: the clean
    virtualenv and the bundle install from here (this machine's pip keeps no HTTP cache, and each full
    download takes half a minute)."""
    house = tmp_path_factory.mktemp("wheelhouse")
    run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "-d", house, built.wheel])
    return house


def from_wheelhouse(house: Path) -> dict[str, str]:
    """pip's environment for installing from the wheelhouse alone."""
    return {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(house)}


@pytest.fixture(scope="session")
def installed(built: Built, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with only the wheel (and its dependencies) installed; its bin directory."""
    bin_dir = new_venv(tmp_path_factory.mktemp("venv") / "venv")
    pip_install(bin_dir, built.wheel, env=from_wheelhouse(wheelhouse))
    return bin_dir


@pytest.fixture(scope="session")
def uv_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """uv from the package registry, installed into a virtualenv of its own; the directory with uv and uvx."""
    bin_dir = new_venv(tmp_path_factory.mktemp("uv") / "venv")
    pip_install(bin_dir, "uv")
    return bin_dir


@pytest.fixture(scope="session")
def uvx_env(built: Built, uv_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment a client starting ``uvx --from <wheel> shopkeeper-mcp`` passes: uvx on PATH, uv on pip's
    indexes, a HOME of its own. The first ``uvx`` (``--version``) fills the cache, so the servers the
    tests start answer at once."""
    home = tmp_path_factory.mktemp("uvx-home")
    env = outside_env(home, uv_env(tmp_path_factory.mktemp("uv-cache")))
    env["PATH"] = f"{uv_bin}:{env['PATH']}"
    said = run([uv_bin / "uvx", "--from", built.wheel, "shopkeeper-mcp", "--version"], env=env, cwd=home)
    assert said.strip() == f"shopkeeper-mcp {built.wheel.name.split('-')[1]}", said
    return env


@pytest.fixture(scope="session")
def bundle(built: Built, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make bundle``'s .mcpb, built from the test's wheel."""
    out = tmp_path_factory.mktemp("bundle")
    builder = CHECKOUT / "packaging" / "build_bundle.py"
    run([sys.executable, builder, "--wheel", built.wheel, "--out", out], cwd=out, env=from_wheelhouse(wheelhouse))
    (made,) = out.glob("*.mcpb")
    return made
