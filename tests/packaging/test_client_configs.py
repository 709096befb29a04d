"""Every client configuration the README shows, and claude_desktop_config.example.json, started as its client
would start it: the command and arguments it names, over stdio, with its env, answering initialize and
tools/list.

The README marks each snippet with ``<!-- client-config: NAME -->`` right above its fenced block. Paths are
filled in as the README says: ``<ABSOLUTE_PATH_TO_SHOPKEEPER_CHECKOUT>`` and ``$(pwd)`` are the checkout,
VS Code's ``${workspaceFolder}`` too. One liberty: the wheel ``make dist`` would write to the checkout's
dist/ is the one these tests built in a temporary directory (tests write nothing into the checkout).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.support import JsonObject, as_list, as_object
from tests.packaging.support import (
    CHECKOUT,
    WHEEL_NAME,
    Built,
    assert_serves_shopkeeper,
    handshake,
    outside_env,
)

pytestmark = pytest.mark.slow

PLACEHOLDER = "<ABSOLUTE_PATH_TO_SHOPKEEPER_CHECKOUT>"
SNIPPETS = {
    "claude-desktop-uvx": "json",
    "claude-code": "sh",
    "claude-code-uvx": "sh",
    "vscode": "json",
    "vscode-uvx": "json",
    "cursor": "json",
    "cursor-uvx": "json",
}
_MARKED = re.compile(r"<!-- client-config: ([\w-]+) -->\n+```(\w+)\n(.*?)\n```", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Launch:
    """What a client runs: a command, its arguments, the env the configuration adds."""

    name: str
    command: str
    args: list[str]
    env: dict[str, str]


def readme_snippets() -> dict[str, tuple[str, str]]:
    """Each marked snippet of the README: (language, text), by name."""
    found: dict[str, tuple[str, str]] = {}
    for name, language, text in _MARKED.findall((CHECKOUT / "README.md").read_text()):
        assert name not in found, f"two README snippets are marked {name}"
        found[name] = (language, text)
    return found


def _filled(text: str) -> str:
    checkout = str(CHECKOUT)
    return text.replace(PLACEHOLDER, checkout).replace("$(pwd)", checkout).replace("${workspaceFolder}", checkout)


def from_json(name: str, text: str) -> list[Launch]:
    """A JSON configuration: VS Code's ``servers`` (with ``type``), the others' ``mcpServers``."""
    config = as_object(json.loads(text))
    servers = as_object(config.get("servers") if name.startswith("vscode") else config.get("mcpServers"))
    assert list(servers) == ["shopkeeper"], servers
    entry = as_object(servers["shopkeeper"])
    if name.startswith("vscode"):
        assert entry.get("type") == "stdio", entry
    command = entry.get("command")
    assert isinstance(command, str)
    args = [str(arg) for arg in as_list(entry.get("args", []))]
    env = {key: str(value) for key, value in as_object(entry.get("env", {})).items()}
    return [Launch(name, _filled(command), [_filled(arg) for arg in args], env)]


def from_claude_mcp_add(name: str, text: str) -> list[Launch]:
    """Every ``claude mcp add`` line (commented ones too): options and the name before ``--``, the server's
    command after it."""
    launches: list[Launch] = []
    for line in text.splitlines():
        if "claude mcp add" not in line:
            continue
        words = shlex.split(line[line.index("claude mcp add") :])
        assert "--" in words, f"'--' separates the server's command: {line}"
        split = words.index("--")
        options, server = words[3:split], words[split + 1 :]
        env: dict[str, str] = {}
        positional: list[str] = []
        rest = iter(options)
        for word in rest:
            if word in ("-e", "--env"):
                key, sep, value = next(rest).partition("=")
                assert sep, f"-e takes KEY=value: {line}"
                env[key] = value
            elif word in ("-s", "--scope", "-t", "--transport"):
                value = next(rest)
                assert word not in ("-t", "--transport") or value == "stdio", line
            else:
                positional.append(word)
        assert positional == ["shopkeeper"], f"the server's name: {line}"
        launches.append(Launch(name, _filled(server[0]), [_filled(arg) for arg in server[1:]], env))
    assert launches, f"no claude mcp add in {name}"
    return launches


def desktop_example() -> list[Launch]:
    return from_json("claude-desktop", (CHECKOUT / "claude_desktop_config.example.json").read_text())


def all_launches() -> list[Launch]:
    launches = desktop_example()
    for name, (language, text) in sorted(readme_snippets().items()):
        launches += from_claude_mcp_add(name, text) if language == "sh" else from_json(name, text)
    return launches


def test_the_readme_shows_every_client() -> None:
    assert {name: language for name, (language, _) in readme_snippets().items()} == SNIPPETS


def test_the_checkout_s_vscode_config_is_the_readme_s() -> None:
    language, text = readme_snippets()["vscode"]
    assert language == "json"
    assert json.loads((CHECKOUT / ".vscode" / "mcp.json").read_text()) == json.loads(text)


def test_uvx_snippets_name_this_version_s_wheel() -> None:
    for launch in all_launches():
        if launch.command == "uvx":
            assert launch.args == ["--from", str(CHECKOUT / "dist" / WHEEL_NAME), "shopkeeper-mcp"], launch


def _label(launch: Launch) -> str:
    return f"{launch.name}{'-with-env' if launch.env else ''}"


@pytest.mark.parametrize("launch", all_launches(), ids=_label)
def test_each_configuration_starts_a_server_that_answers(
    launch: Launch, built: Built, uvx_env: dict[str, str], tmp_path: Path
) -> None:
    args = [arg.replace(str(CHECKOUT / "dist" / WHEEL_NAME), str(built.wheel)) for arg in launch.args]
    if launch.command != "uvx":
        assert Path(launch.command).is_absolute(), f"{launch.name}: clients start servers from anywhere"
    home = tmp_path / "home"
    home.mkdir()
    # The client's own environment (uvx on PATH, uv on this machine's indexes), a home of the test's own (so
    # the shop is created in its data directory), then what the configuration sets.
    env: dict[str, str] = {**uvx_env, **outside_env(home, {"PATH": uvx_env["PATH"]}), **launch.env}
    called: tuple[str, JsonObject] = ("customers_list", {})
    shake = handshake([launch.command, *args], env=env, cwd=tmp_path, stderr_path=tmp_path / "stderr.log", call=called)
    assert_serves_shopkeeper(shake)
    assert shake.called is not None
    assert shake.called.get("isError") is False, shake.called
    assert (home / ".local" / "share" / "shopkeeper" / "shopkeeper.db").is_file(), "the shop is in HOME's data dir"
