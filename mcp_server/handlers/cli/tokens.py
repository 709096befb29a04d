"""``shopkeeper tokens create|list|revoke``: access tokens for assistants on the HTTP door.

A token's secret is printed once, when it is made; the shop keeps only its hash, so it can never
be shown again. Its name is what the audit log calls whoever uses it (``token:NAME``).
"""

from __future__ import annotations

import argparse

from mcp_server.handlers.cli import output
from mcp_server.handlers.cli.common import Call, Exit, Subcommands, check, command, fail, group
from mcp_server.models.access import SCOPE_MEANINGS, SCOPES, AccessToken, scope_text
from mcp_server.services.results import Rejected
from mcp_server.utils.time import isoformat_utc

SHOWN_ONCE = (
    "This is the only time the token is shown: store it now (e.g. in the assistant's connector settings or a "
    "password manager). The shop keeps only its hash; if it is lost, revoke it and create another."
)


def _json(token: AccessToken) -> dict[str, object]:
    return {
        "id": token.id,
        "name": token.name,
        "scopes": scope_text(token.scopes).split(),
        "created_at": isoformat_utc(token.created_at),
        "revoked_at": isoformat_utc(token.revoked_at) if token.revoked_at is not None else None,
        "active": token.active,
    }


def _status(token: AccessToken) -> str:
    return f"revoked {isoformat_utc(token.revoked_at)}" if token.revoked_at is not None else "active"


async def tokens_create(args: argparse.Namespace, call: Call) -> int:
    made = await call.services.access.create(args.name, [args.scopes], actor=call.actor)
    if isinstance(made, Rejected):  # a bad name or scope is a mistake on the command line
        fail(f"{'--' + made.field if made.field else 'tokens create'}: {made.message}. Nothing was made.", Exit.USAGE)
    issued = check(made)
    token = issued.token
    return call.show(
        _json(token) | {"token": issued.secret, "warning": SHOWN_ONCE},
        lambda: "\n".join(
            [
                f"Access token {token.name} made, with scopes: {scope_text(token.scopes)}.",
                "",
                f"    {issued.secret}",
                "",
                SHOWN_ONCE,
                f"Whatever it does is audited as token:{token.name}. Revoke it: shopkeeper tokens revoke {token.name}",
            ]
        ),
    )


async def tokens_list(args: argparse.Namespace, call: Call) -> int:
    del args
    found = check(await call.services.access.list())
    rows = [[t.name, scope_text(t.scopes), isoformat_utc(t.created_at), _status(t)] for t in found]
    return call.show(
        {"tokens": [_json(t) for t in found]},
        lambda: (
            output.table(["name", "scopes", "created (UTC)", "status"], rows)
            if found
            else "No access tokens yet: make one with `shopkeeper tokens create --name NAME --scopes read`."
        ),
    )


async def tokens_revoke(args: argparse.Namespace, call: Call) -> int:
    token = check(await call.services.access.revoke(args.name, actor=call.actor))
    return call.show(
        _json(token), lambda: f"Access token {token.name} revoked: from now on it opens nothing. It stays listed."
    )


def register(groups: Subcommands) -> None:
    tokens = group(
        groups,
        "tokens",
        summary="access tokens for assistants on the HTTP door (each with its scopes)",
        description="Access tokens let an assistant reach the shop over HTTP (shopkeeper-mcp --transport http), "
        "with only the rights its scopes give. A token's secret is shown once, when it is made; the shop keeps "
        "only its hash.",
    )
    meanings = "; ".join(f"{scope}: {SCOPE_MEANINGS[scope]}" for scope in SCOPES)
    create = command(
        tokens,
        "create",
        tokens_create,
        summary="make a token and print its secret, once",
        description="Make an access token with the scopes given and print its secret. It is shown only this once. "
        f"Scopes add up, and a write scope does not include read. The scopes: {meanings}.",
    )
    create.add_argument(
        "--name",
        required=True,
        help="1-40 letters, digits, '.', '_' or '-', starting with a letter or digit; unique for good (the audit "
        "log names the token's user token:NAME)",
    )
    create.add_argument(
        "--scopes", required=True, metavar="SCOPE,…", help=f"comma-separated, from: {', '.join(SCOPES)}"
    )
    command(
        tokens,
        "list",
        tokens_list,
        summary="list tokens (never their secrets)",
        description="Every access token, newest first, with its scopes and whether it is active or revoked.",
    )
    revoke = command(
        tokens,
        "revoke",
        tokens_revoke,
        summary="revoke a token: it opens nothing from then on",
        description="Revoke an access token by name. A request that presents it is refused from then on; it stays "
        "listed, and its name is not given to another token.",
    )
    revoke.add_argument("name", metavar="NAME")
