"""AccessTokenRepository: tokens come back as stored, are found by hash or name, keep their names for
good, list newest first with revoked ones, and are revoked once, by a conditional update."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from mcp_server.models.access import EVERY_SCOPE, READ_ONLY, AccessToken
from mcp_server.models.errors import UniqueViolationError
from mcp_server.services.ports import UnitOfWork, UnitOfWorkFactory
from tests.contract.records import at, ident, read, written

pytestmark = pytest.mark.anyio


def token(n: int, name: str | None = None, *, created: float = 0) -> AccessToken:
    return AccessToken(
        id=ident("tok", n),
        name=name or f"token-{n}",
        token_hash=hashlib.sha256(f"secret-{n}".encode()).hexdigest(),
        scopes=frozenset({"read", "orders"}),
        created_at=at(created),
    )


async def test_a_token_comes_back_as_stored_by_hash_and_by_name(uow_factory: UnitOfWorkFactory) -> None:
    ci = token(1, "ci")
    everything = replace(token(2, "Admin.Bot_2"), scopes=EVERY_SCOPE)
    viewer = replace(token(3, "viewer"), scopes=READ_ONLY)
    await written(uow_factory, lambda w: _add(w, ci, everything, viewer))
    async with uow_factory(write=False) as work:
        assert await work.tokens.by_hash(ci.token_hash) == ci
        assert await work.tokens.by_hash(everything.token_hash) == everything
        assert await work.tokens.by_name("viewer") == viewer
        assert await work.tokens.by_name("Admin.Bot_2") == everything
        assert await work.tokens.by_name("admin.bot_2") is None, "names match exactly"
        assert await work.tokens.by_hash(ci.token_hash.upper()) is None, "hashes match exactly"
        assert await work.tokens.by_hash("") is None
        assert await work.tokens.by_name("nobody") is None
    async with uow_factory(write=True) as work:  # a writer finds them too
        assert await work.tokens.by_name("ci") == ci


async def test_a_taken_name_is_refused_and_nothing_is_kept(uow_factory: UnitOfWorkFactory) -> None:
    ci = token(1, "ci")
    await written(uow_factory, lambda w: w.tokens.add(ci))
    await written(uow_factory, lambda w: w.tokens.revoke("ci", at(5)))
    with pytest.raises(UniqueViolationError) as raised:
        await written(uow_factory, lambda w: w.tokens.add(token(2, "ci")))
    assert raised.value.what == "token name"
    assert await read(uow_factory, lambda w: w.tokens.all()) == [replace(ci, revoked_at=at(5))]


async def test_tokens_are_listed_newest_first_revoked_included(uow_factory: UnitOfWorkFactory) -> None:
    older, newer = token(1, created=-60), token(2, created=60)
    same_a, same_b = token(3, created=0), token(4, created=0)
    await written(uow_factory, lambda w: _add(w, same_a, older, newer, same_b))
    await written(uow_factory, lambda w: w.tokens.revoke(older.name, at(120)))
    listed = await read(uow_factory, lambda w: w.tokens.all())
    assert [t.id for t in listed] == [newer.id, same_b.id, same_a.id, older.id], "created_at, then id, newest first"
    assert listed[-1] == replace(older, revoked_at=at(120))
    assert await read(uow_factory, lambda w: w.tokens.all()) == listed


async def test_nothing_is_listed_in_a_new_shop(uow_factory: UnitOfWorkFactory) -> None:
    assert await read(uow_factory, lambda w: w.tokens.all()) == []


async def test_a_token_is_revoked_once(uow_factory: UnitOfWorkFactory) -> None:
    ci, other = token(1, "ci"), token(2, "other")
    await written(uow_factory, lambda w: _add(w, ci, other))
    assert await written(uow_factory, lambda w: w.tokens.revoke("ci", at(60))) is True
    assert await written(uow_factory, lambda w: w.tokens.revoke("ci", at(90))) is False, "already revoked"
    assert await written(uow_factory, lambda w: w.tokens.revoke("nobody", at(90))) is False
    async with uow_factory(write=False) as work:
        revoked = await work.tokens.by_hash(ci.token_hash)
        assert revoked == replace(ci, revoked_at=at(60)), "the first revocation's moment stays"
        assert revoked is not None
        assert not revoked.active
        assert await work.tokens.by_name("other") == other, "only the named token"


async def test_a_revocation_without_commit_is_not_kept(uow_factory: UnitOfWorkFactory) -> None:
    ci = token(1, "ci")
    await written(uow_factory, lambda w: w.tokens.add(ci))
    async with uow_factory(write=True) as work:
        assert await work.tokens.revoke("ci", at(60)) is True
        assert await work.tokens.by_name("ci") == replace(ci, revoked_at=at(60)), "its own unit sees it"
    assert await read(uow_factory, lambda w: w.tokens.by_name("ci")) == ci


async def _add(work: UnitOfWork, *tokens: AccessToken) -> None:
    for each in tokens:
        await work.tokens.add(each)
