"""server.json, what the MCP Registry publishes about Shopkeeper: valid against the kept 2025-12-11 schema,
this version, and every setting the server reads, its secrets marked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr

from mcp_server import __version__
from mcp_server.config import ENV_PREFIX, ConfigError, Settings, load_settings
from tests.packaging.support import CHECKOUT, schema_problems

SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
NAME = "io.github.shopkeeper-mcp/shopkeeper"
# Not a SecretStr, but may hold one: a PostgreSQL URL carries its password.
SECRET_BY_CONTENT = {"SHOPKEEPER_DATABASE_URL"}


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CHECKOUT / name).read_text())
    return loaded


def _package() -> dict[str, Any]:
    (package,) = _load("server.json")["packages"]
    return package


def _variables() -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in _package()["environmentVariables"]}


def _settings_variables() -> dict[str, bool]:
    """Every SHOPKEEPER_* variable config.Settings reads, and whether it holds a secret (a SecretStr)."""
    return {
        ENV_PREFIX + (field.alias or name).upper(): "SecretStr" in str(field.annotation)
        for name, field in Settings.model_fields.items()
    }


def test_it_is_valid_against_the_kept_schema() -> None:
    schema = _load("packaging/server.schema.json")
    assert schema["$id"] == SCHEMA_URL
    document = _load("server.json")
    assert document["$schema"] == SCHEMA_URL
    assert schema_problems(schema, document) == []


def test_it_names_this_version_and_the_pypi_package() -> None:
    document = _load("server.json")
    assert document["name"] == NAME
    assert document["version"] == __version__
    package = _package()
    assert package["registryType"] == "pypi"
    assert (package["identifier"], package["version"]) == ("shopkeeper-mcp", __version__)
    assert package["transport"] == {"type": "stdio"}
    assert package.get("registryBaseUrl", "https://pypi.org") == "https://pypi.org"  # the only one the registry takes


def test_the_readme_carries_the_registry_name() -> None:
    """The registry checks the PyPI page (our README) names the server, to tie the package to the name."""
    assert f"mcp-name: {NAME}" in (CHECKOUT / "README.md").read_text()


def test_every_setting_is_listed_and_every_secret_marked() -> None:
    read = _settings_variables()
    listed = _variables()
    assert sorted(listed) == sorted(read), "server.json lists exactly the SHOPKEEPER_* variables config.py reads"
    assert read.keys() >= SECRET_BY_CONTENT
    secrets = {name for name, secret in read.items() if secret} | SECRET_BY_CONTENT
    assert {name for name, variable in listed.items() if variable.get("isSecret")} == secrets
    for name, variable in listed.items():
        assert variable["description"].strip(), f"{name} has no description"
        assert not variable.get("isRequired", False), f"{name}: the server starts with none of them set"


@pytest.mark.parametrize("name", sorted(_variables()))
def test_each_default_and_choice_is_a_value_the_server_takes(name: str) -> None:
    variable = _variables()[name]
    for value in [variable.get("default"), *variable.get("choices", [])]:
        if value is None:
            continue
        try:
            settings = load_settings({name: value})
        except ConfigError as exc:
            pytest.fail(f"{name}={value!r} from server.json is refused: {exc}")
        field = name.removeprefix(ENV_PREFIX).lower()
        attribute = "mail_dir_setting" if field == "mail_dir" else field
        read = getattr(settings, attribute)
        if value == variable.get("default") and not isinstance(read, SecretStr):
            assert read == Settings.model_fields[attribute].default, f"{name}'s default is not the server's default"
