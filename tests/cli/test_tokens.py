"""``shopkeeper tokens``: a token's secret is printed once and stored nowhere; it opens the shop with its
scopes until it is revoked; bad names and scopes, taken names and unknown tokens get their exit codes."""

from __future__ import annotations

import hashlib

import anyio
import pytest

from mcp_server.handlers.cli.common import Exit
from mcp_server.models.access import ACCESS_TOKEN_PREFIX, Caller
from mcp_server.services.results import Unavailable
from tests.cli.conftest import Cli
from tests.e2e.support import JsonObject, as_list, as_object, objects, string


def _authenticate(cli: Cli, secret: str) -> Caller | Unavailable | None:
    """What the HTTP door will learn from ``secret``: the services over the same shop, as the CLI opens them."""
    open_services = cli.actions.open_services
    assert open_services is not None

    async def ask() -> Caller | Unavailable | None:
        async with open_services() as services:
            return await services.access.authenticate(secret)

    return anyio.run(ask)


def _audit(cli: Cli) -> list[JsonObject]:
    return objects(cli.json("audit", "list", "--entity-type", "token", "--detailed"), "entries")


def test_create_prints_the_secret_once_with_a_warning_and_stores_only_its_hash(cli: Cli) -> None:
    out = cli.ok("tokens", "create", "--name", "ci", "--scopes", "read,orders").out
    (secret,) = [line.strip() for line in out.splitlines() if line.strip().startswith(ACCESS_TOKEN_PREFIX)]
    assert len(secret) >= len(ACCESS_TOKEN_PREFIX) + 43, "at least 256 random bits"
    assert "Access token ci made, with scopes: read orders." in out
    assert "only time the token is shown" in out
    assert _authenticate(cli, secret) == Caller("token:ci", frozenset({"read", "orders"}))

    stored = repr(cli.db.tables())
    assert secret not in stored
    assert secret.removeprefix(ACCESS_TOKEN_PREFIX) not in stored
    assert hashlib.sha256(secret.encode()).hexdigest() in stored, "only the hash is kept"

    listed = cli.ok("tokens", "list").out
    assert secret not in listed
    assert hashlib.sha256(secret.encode()).hexdigest() not in listed, "nor is the hash ever shown"


def test_create_with_json_gives_the_secret_to_a_script_once(cli: Cli) -> None:
    made = cli.json("tokens", "create", "--name", "deploy-bot", "--scopes", "catalog refunds")
    secret = string(made, "token")
    assert secret.startswith(ACCESS_TOKEN_PREFIX)
    assert (made["name"], made["scopes"], made["active"], made["revoked_at"]) == (
        "deploy-bot",
        ["catalog", "refunds"],
        True,
        None,
    )
    assert "only time" in string(made, "warning")
    assert string(made, "id").startswith("tok_")
    listed = objects(cli.json("tokens", "list"), "tokens")
    assert [set(row) for row in listed] == [{"id", "name", "scopes", "created_at", "revoked_at", "active"}]
    again = cli.json("tokens", "create", "--name", "other", "--scopes", "read")
    assert string(again, "token") != secret, "every token its own secret"


def test_list_shows_every_token_newest_first_active_or_revoked(cli: Cli) -> None:
    assert "No access tokens yet" in cli.ok("tokens", "list").out
    cli.ok("tokens", "create", "--name", "first", "--scopes", "read")
    cli.ok("tokens", "create", "--name", "second", "--scopes", "admin,read")
    cli.ok("tokens", "revoke", "first")
    lines = cli.ok("tokens", "list").out.splitlines()
    assert lines[0].split() == ["name", "scopes", "created", "(UTC)", "status"]
    assert lines[2].split()[:3] == ["second", "read", "admin"]
    assert lines[2].split()[-1] == "active"
    assert lines[3].split()[:2] == ["first", "read"]
    assert " revoked 20" in lines[3]
    assert len(lines) == 4
    rows = objects(cli.json("tokens", "list"), "tokens")
    assert [(r["name"], r["active"]) for r in rows] == [("second", True), ("first", False)]
    assert isinstance(rows[1]["revoked_at"], str)


def test_revoke_closes_the_door_for_good_and_is_audited(cli: Cli) -> None:
    secret = string(cli.json("tokens", "create", "--name", "ci", "--scopes", "read"), "token")
    revoked = cli.json("tokens", "revoke", "ci")
    assert (revoked["name"], revoked["active"]) == ("ci", False)
    assert _authenticate(cli, secret) is None
    assert "already revoked" in cli.fail(Exit.REFUSED, "tokens", "revoke", "ci")
    assert "there is already an access token named 'ci'" in cli.fail(
        Exit.REFUSED, "tokens", "create", "--name", "ci", "--scopes", "read"
    ), "a revoked token keeps its name"

    entries = _audit(cli)
    assert [(e["action"], e["actor"]) for e in entries] == [("token.revoked", "tester"), ("token.created", "tester")]
    audited = repr(entries)
    assert secret not in audited
    assert hashlib.sha256(secret.encode()).hexdigest() not in audited
    assert as_object(entries[1]["after"]) == {"name": "ci", "scopes": "read", "active": True}


def test_revoke_of_an_unknown_token_is_not_found(cli: Cli) -> None:
    assert "No access token with name 'nobody'" in cli.fail(Exit.NOT_FOUND, "tokens", "revoke", "nobody")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("--name", "ci", "--scopes", "read,write"), "--scopes: unknown scope(s) write; choose from read, customers"),
        (("--name", "ci", "--scopes", ","), "--scopes: give at least one scope"),
        (("--name", "has space", "--scopes", "read"), "--name: a token's name is 1 to 40"),
        (("--name", "x" * 41, "--scopes", "read"), "--name: a token's name is 1 to 40"),
        (("--scopes", "read"), "the following arguments are required: --name"),
        (("--name", "ci"), "the following arguments are required: --scopes"),
    ],
    ids=["unknown-scope", "no-scope", "bad-name", "long-name", "no-name", "no-scopes"],
)
def test_a_bad_name_or_scope_is_a_usage_error_and_makes_nothing(cli: Cli, argv: tuple[str, ...], says: str) -> None:
    before = cli.db.tables()
    assert says in cli.fail(Exit.USAGE, "tokens", "create", *argv)
    assert cli.db.tables() == before


@pytest.mark.parametrize("db_engine", ["sqlite"])  # about the parser only
def test_help_names_every_scope(cli: Cli) -> None:
    out = " ".join(cli.ok("tokens", "create", "--help").out.split())
    for scope in ("read", "customers", "catalog", "orders", "payments", "refunds", "admin"):
        assert f"{scope}:" in out
    assert "only this once" in out


def test_the_token_list_is_plain_json_for_scripts(cli: Cli) -> None:
    cli.ok("tokens", "create", "--name", "a", "--scopes", "read")
    data = cli.json("tokens", "list")
    assert as_list(data["tokens"])
    assert set(data) == {"tokens"}
