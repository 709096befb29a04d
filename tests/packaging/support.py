"""Helpers for the packaging tests: build from a copy of the source, make clean virtualenvs, point uv at
pip's indexes, start a server as a client would and check it answers.

Everything is written under pytest's temporary directories; nothing lands in the checkout.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import jsonschema

from mcp_server import __version__
from mcp_server.handlers.mcp.server import shop_tools
from tests.e2e.raw_stdio import RawStdioServer
from tests.e2e.support import JsonObject, as_list, as_object, objects, string

CHECKOUT = Path(__file__).resolve().parents[2]
TOOL_NAMES = frozenset(tool.name for tool in shop_tools())
WHEEL_NAME = f"shopkeeper_mcp-{__version__}-py3-none-any.whl"
INSTALL_TIMEOUT = 600.0  # pip or uv fetching every dependency on a cold cache; only a hang takes this long


def run(argv: Sequence[str | Path], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run a command to completion; its stdout. A failure shows both streams."""
    done = subprocess.run(
        [str(arg) for arg in argv],
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{argv} exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def outside_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a desktop app passes a server it starts: PATH (without this test run's virtualenv, so nothing
    of the checkout's .venv leaks in), a HOME of the test's own, the system's certificates, plus ``extra``."""
    venv_bin = str(Path(sys.prefix) / "bin")
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    env = {"PATH": path, "HOME": str(home)}
    for key in ("SSL_CERT_FILE", "SSL_CERT_DIR", "LANG", "LC_ALL"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env | dict(extra or {})


# -- building ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Built:
    wheel: Path
    sdist: Path
    log: str
    """Everything ``python -m build`` printed (stdout and stderr)."""


def copy_source(dest: Path) -> None:
    """The files a fresh clone would have (tracked, plus new ones not ignored), copied to ``dest``."""
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=CHECKOUT)
    for name in filter(None, listed.split("\0")):
        source = CHECKOUT / name
        if source.is_file():  # a file deleted in the work tree is still listed as tracked
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def build_dist(source: Path, out: Path) -> Built:
    """``python -m build`` as ``make dist`` runs it: the sdist, then the wheel built from that sdist."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"python -m build failed:\n{log}"
    return Built(wheel=out / WHEEL_NAME, sdist=out / f"shopkeeper_mcp-{__version__}.tar.gz", log=log)


def new_venv(path: Path) -> Path:
    """A clean virtualenv (no system site-packages) at ``path``; its bin directory."""
    run([sys.executable, "-m", "venv", path])
    return path / "bin"


def pip_install(bin_dir: Path, *requirements: str | Path, env: Mapping[str, str] | None = None) -> None:
    """pip install into the virtualenv; by default with this machine's pip configuration (indexes, find-links)."""
    run([bin_dir / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements], env=env)


# -- uv, pointed at the indexes pip uses ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Indexes:
    default: str
    extra: tuple[str, ...]
    find_links: tuple[str, ...]
    cert: str | None


_SCOPE_RANK = {":env:": 0, "site": 1, "user": 2, "global": 3}  # pip: environment first, then site, user, global


def pip_indexes() -> Indexes:
    """The indexes pip installs from here: ``pip config list`` (which shows PIP_* variables as ``:env:``)."""
    listed = run([sys.executable, "-m", "pip", "config", "list"])
    found: dict[str, tuple[int, str]] = {}
    for line in listed.splitlines():
        key, sep, raw = line.partition("=")
        if not sep:
            continue
        scope, _, option = key.rpartition(".")
        value = ast.literal_eval(raw)
        assert isinstance(value, str), line
        rank = _SCOPE_RANK.get(scope, 4)
        if option not in found or rank < found[option][0]:
            found[option] = (rank, value)

    def setting(option: str) -> str | None:
        return found[option][1] if option in found else None

    return Indexes(
        default=setting("index-url") or "https://pypi.org/simple",
        extra=tuple((setting("extra-index-url") or "").split()),
        find_links=tuple((setting("find-links") or "").split()),
        cert=setting("cert"),
    )


def uv_env(cache: Path) -> dict[str, str]:
    """uv on this interpreter (no Python downloads), with pip's indexes and a cache of the test run's own."""
    indexes = pip_indexes()
    env = {
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_CACHE_DIR": str(cache),
        "UV_NO_CONFIG": "1",  # no uv.toml of the person running the tests
        "UV_DEFAULT_INDEX": indexes.default,
        # pip takes the best version from every index; uv's default stops at the first index that has the name.
        "UV_INDEX_STRATEGY": "unsafe-best-match",
    }
    if indexes.extra:
        env["UV_INDEX"] = " ".join(indexes.extra)
    if indexes.find_links:
        env["UV_FIND_LINKS"] = ",".join(indexes.find_links)
    if indexes.cert:
        env["SSL_CERT_FILE"] = indexes.cert
    return env


def schema_problems(schema: Mapping[str, Any], document: object) -> list[str]:
    """Where ``document`` breaks the JSON Schema (draft 7, formats checked), one line each."""
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors: list[jsonschema.ValidationError] = list(validator.iter_errors(cast(Any, document)))  # pyright: ignore[reportUnknownMemberType] - jsonschema's overloads
    return [f"/{'/'.join(map(str, error.path))}: {error.message}" for error in errors]


# -- talking to a started server ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Handshake:
    server_info: JsonObject
    tool_names: frozenset[str]
    called: JsonObject | None
    exit_code: int
    stderr: str


def handshake(
    argv: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    cwd: Path,
    stderr_path: Path,
    call: tuple[str, JsonObject] | None = None,
) -> Handshake:
    """Start the server as a client does (JSON-RPC lines on stdio), initialize, list the tools, make
    ``call`` if given, then close stdin and wait for a clean exit."""
    with RawStdioServer([str(arg) for arg in argv], env=env, cwd=cwd, stderr_path=stderr_path) as server:
        hello = server.initialize("packaging-test")
        tools = objects(server.result("tools/list"), "tools")
        called = server.call_tool(call[0], call[1]) if call is not None else None
        code = server.close(timeout=15.0)
    return Handshake(
        server_info=as_object(hello.get("serverInfo")),
        tool_names=frozenset(string(tool, "name") for tool in tools),
        called=called,
        exit_code=code,
        stderr=server.stderr,
    )


def assert_serves_shopkeeper(shake: Handshake) -> None:
    """The server is this version of Shopkeeper with every tool, and it stopped cleanly."""
    assert shake.server_info.get("name") == "shopkeeper", shake.server_info
    assert shake.server_info.get("version") == __version__, shake.server_info
    assert shake.tool_names == TOOL_NAMES
    assert shake.exit_code == 0, shake.stderr
    assert "Traceback" not in shake.stderr, shake.stderr


# -- a desktop host reading an MCPB manifest --------------------------------------------------------------


def _option(item: tuple[str, object]) -> tuple[str, JsonObject]:
    return item[0], as_object(item[1])


@dataclass(frozen=True, slots=True)
class HostLaunch:
    command: str
    args: list[str]
    env: dict[str, str]


def host_launch(
    manifest: JsonObject, extension_dir: Path, system_dirs: Mapping[str, str], user_config: Mapping[str, object]
) -> HostLaunch | None:
    """What a desktop host runs for an installed bundle: ``getMcpConfigForManifest`` of the MCPB reference
    implementation (github.com/modelcontextprotocol/mcpb, src/shared/config.ts) in Python. None when a
    required setting has no value (the host does not start the server then)."""
    options = as_object(manifest.get("user_config", {}))
    for key, option in options.items():
        value = user_config.get(key)
        if as_object(option).get("required") and value in (None, ""):
            return None
    config = as_object(as_object(manifest["server"])["mcp_config"])
    variables: dict[str, str] = {"__dirname": str(extension_dir), "pathSeparator": os.sep, "/": os.sep, **system_dirs}
    merged = {key: option["default"] for key, option in map(_option, options.items()) if "default" in option}
    merged.update(user_config)
    for key, value in merged.items():
        variables[f"user_config.{key}"] = ("true" if value else "false") if isinstance(value, bool) else str(value)

    def fill(text: object) -> str:
        assert isinstance(text, str), text
        for name, replacement in variables.items():  # in this order, as the reference implementation does
            text = text.replace("${" + name + "}", replacement)
        return text

    env = as_object(config.get("env", {}))
    return HostLaunch(
        command=fill(config["command"]),
        args=[fill(arg) for arg in as_list(config.get("args", []))],
        env={key: fill(value) for key, value in env.items()},
    )
