"""Access tokens on fakes: a token is made with its secret shown once and only a hash kept; it opens the
door with its scopes until it is revoked; anything else presented opens nothing, without an error."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from mcp_server.models.access import ACCESS_TOKEN_PREFIX, READ_ONLY, AccessToken, Caller
from mcp_server.models.errors import StorageBusyError
from mcp_server.services.access import MAX_SECRET_CHARS, AccessService, IssuedToken
from mcp_server.services.results import BUSY, Conflict, NotFound, Rejected, Success
from tests.fakes import (
    FakeAccessTokenRepository,
    FakeClock,
    FakeDatabase,
    FakeSecrets,
    FakeUnitOfWork,
    FakeUnitOfWorkFactory,
    SequentialIds,
)

pytestmark = pytest.mark.anyio

AT = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ACTOR = "cli:owner"


class Desk:
    """The service over one in-memory shop, and what it is built on."""

    def __init__(self) -> None:
        self.db = FakeDatabase()
        self.clock = FakeClock(AT)
        self.secrets = FakeSecrets()
        self.service = AccessService(FakeUnitOfWorkFactory(self.db), self.clock, SequentialIds(), self.secrets)

    async def issue(self, name: str = "ci", scopes: tuple[str, ...] = ("read", "orders")) -> IssuedToken:
        made = await self.service.create(name, scopes, actor=ACTOR)
        assert isinstance(made, Success), made
        return made.value


@pytest.fixture
def desk() -> Desk:
    return Desk()


async def test_a_new_token_shows_its_secret_once_and_keeps_only_its_hash(desk: Desk) -> None:
    issued = await desk.issue("ci", ("orders", "read"))
    assert issued.secret == ACCESS_TOKEN_PREFIX + desk.secrets.made[0]
    assert issued.secret not in repr(issued), "never in a log line or a traceback"
    token = issued.token
    assert (token.name, token.scopes, token.created_at, token.revoked_at) == ("ci", {"read", "orders"}, AT, None)
    assert token.id.startswith("tok_")
    assert token.token_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert desk.db.access_tokens == {token.id: token}
    assert [(e.action, e.actor, e.entity_type, e.entity_id) for e in desk.db.audit] == [
        ("token.created", ACTOR, "token", token.id)
    ]
    assert desk.db.audit[0].after == {"name": "ci", "scopes": "read orders", "active": True}


async def test_the_secret_and_its_hash_are_stored_nowhere_and_audited_nowhere(desk: Desk) -> None:
    issued = await desk.issue()
    assert isinstance(await desk.service.revoke("ci", actor=ACTOR), Success)
    stored = repr((desk.db.access_tokens, desk.db.audit, desk.db.outbox))
    assert issued.secret not in stored
    assert desk.secrets.made[0] not in stored, "not even without its prefix"
    assert issued.token.token_hash not in repr((desk.db.audit, desk.db.outbox)), "the hash is not audited either"


async def test_the_secret_opens_the_door_with_the_tokens_scopes(desk: Desk) -> None:
    ci = await desk.issue("ci", ("read", "orders"))
    viewer = await desk.issue("viewer", ("read",))
    assert await desk.service.authenticate(ci.secret) == Caller("token:ci", frozenset({"read", "orders"}))
    assert await desk.service.authenticate(viewer.secret) == Caller("token:viewer", READ_ONLY)
    assert ci.secret != viewer.secret
    assert desk.db.commits == 2, "checking a token changes nothing"


@pytest.mark.parametrize(
    "presented",
    [
        "",
        " ",
        "shk_",
        "Bearer shk_x",
        "shk_" + "A" * 43,  # the right shape, but never issued
        "\ud800",  # a lone surrogate: not even valid UTF-8
        "\x00" * 10,
        "x" * 100_000,
    ],
    ids=["empty", "space", "prefix-only", "with-scheme", "unknown", "surrogate", "nul", "huge"],
)
async def test_anything_else_opens_nothing_and_raises_nothing(desk: Desk, presented: str) -> None:
    await desk.issue()
    assert await desk.service.authenticate(presented) is None


async def test_a_near_miss_opens_nothing(desk: Desk) -> None:
    secret = (await desk.issue()).secret
    body = secret.removeprefix(ACCESS_TOKEN_PREFIX)
    for near in (body, "SHK_" + body, "shk-" + body, secret[:-1], secret + "x", secret.upper(), f" {secret}"):
        assert await desk.service.authenticate(near) is None, near


async def test_a_stored_hash_presented_as_the_secret_opens_nothing(desk: Desk) -> None:
    token = (await desk.issue()).token
    assert await desk.service.authenticate(token.token_hash) is None
    assert await desk.service.authenticate(ACCESS_TOKEN_PREFIX + token.token_hash) is None


async def test_a_token_whose_secret_lacks_the_prefix_opens_nothing(desk: Desk) -> None:
    """Only the shop's own tokens (``shk_…``) are checked here, even if a row's hash matches another shape."""
    bare = "a" * 43
    stored = AccessToken("tok_9", "odd", hashlib.sha256(bare.encode()).hexdigest(), READ_ONLY, AT)
    desk.db.access_tokens[stored.id] = stored
    assert await desk.service.authenticate(bare) is None


async def test_a_revoked_token_opens_nothing_and_stays_listed(desk: Desk) -> None:
    issued = await desk.issue()
    desk.clock.advance(60)
    revoked = await desk.service.revoke("ci", actor="cli:admin")
    assert isinstance(revoked, Success), revoked
    assert revoked.value.revoked_at == AT + timedelta(seconds=60)
    assert not revoked.value.active
    assert await desk.service.authenticate(issued.secret) is None
    listed = await desk.service.list()
    assert isinstance(listed, Success)
    assert listed.value == [revoked.value]
    entry = desk.db.audit[-1]
    assert (entry.action, entry.actor, entry.entity_id) == ("token.revoked", "cli:admin", issued.token.id)
    assert (entry.before, entry.after) == (
        {"name": "ci", "scopes": "read orders", "active": True},
        {"name": "ci", "scopes": "read orders", "active": False},
    )


async def test_revoking_twice_or_an_unknown_name_changes_nothing(desk: Desk) -> None:
    await desk.issue()
    assert isinstance(await desk.service.revoke("ci", actor=ACTOR), Success)
    before = (dict(desk.db.access_tokens), list(desk.db.audit), desk.db.commits)
    again = await desk.service.revoke("ci", actor=ACTOR)
    assert isinstance(again, Conflict)
    assert "already revoked at 2026-11-29 09:00:00Z" in again.message
    missing = await desk.service.revoke("nobody", actor=ACTOR)
    assert isinstance(missing, NotFound)
    assert missing.message == "No access token with name 'nobody'."
    assert (dict(desk.db.access_tokens), list(desk.db.audit), desk.db.commits) == before


async def test_a_name_is_taken_for_good_even_by_a_revoked_token(desk: Desk) -> None:
    await desk.issue("ci")
    taken = await desk.service.create("ci", ["read"], actor=ACTOR)
    assert isinstance(taken, Conflict)
    assert "already an access token named 'ci'" in taken.message
    await desk.service.revoke("ci", actor=ACTOR)
    assert isinstance(await desk.service.create("ci", ["read"], actor=ACTOR), Conflict)
    assert len(desk.db.access_tokens) == 1
    assert [e.action for e in desk.db.audit] == ["token.created", "token.revoked"]


async def test_a_name_taken_by_a_racing_writer_is_a_conflict(desk: Desk) -> None:
    """The check by name finds nothing, then the store refuses the name (another writer was first)."""
    rival = AccessToken("tok_rival", "ci", "0" * 64, READ_ONLY, AT)
    desk.db.access_tokens[rival.id] = rival

    class BlindToNames(FakeAccessTokenRepository):
        async def by_name(self, name: str) -> AccessToken | None:
            return None

    class Racing(FakeUnitOfWorkFactory):
        def __call__(self, *, write: bool) -> FakeUnitOfWork:
            work = super().__call__(write=write)
            work.tokens = BlindToNames(work.tokens.rows)
            return work

    service = AccessService(Racing(desk.db), desk.clock, SequentialIds(), desk.secrets)
    assert isinstance(await service.create("ci", ["read"], actor=ACTOR), Conflict)
    assert (desk.db.access_tokens, desk.db.audit) == ({rival.id: rival}, [])


@pytest.mark.parametrize(
    "name", ["", " ", "a" * 41, "has space", "ümlaut", "-leading-dash", ".hidden", "semi;colon", "new\nline"]
)
async def test_a_bad_name_is_rejected(desk: Desk, name: str) -> None:
    rejected = await desk.service.create(name, ["read"], actor=ACTOR)
    assert isinstance(rejected, Rejected)
    assert rejected.field == "name"
    assert (desk.db.access_tokens, desk.db.audit, desk.secrets.made) == ({}, [], [])


@pytest.mark.parametrize("name", ["a", "A" * 40, "ci-bot_2.prod", "  spaced  "])
async def test_a_good_name_is_kept_as_written(desk: Desk, name: str) -> None:
    assert (await desk.issue(name)).token.name == name.strip()


@pytest.mark.parametrize(
    ("scopes", "says"),
    [((), "at least one scope"), (("read", "write"), "unknown scope(s) write"), (("READ",), "unknown scope(s) READ")],
)
async def test_bad_scopes_are_rejected(desk: Desk, scopes: tuple[str, ...], says: str) -> None:
    rejected = await desk.service.create("ci", scopes, actor=ACTOR)
    assert isinstance(rejected, Rejected)
    assert (rejected.field, says in rejected.message) == ("scopes", True), rejected.message
    assert desk.db.access_tokens == {}


async def test_scopes_may_come_as_one_text_or_many_and_repeat(desk: Desk) -> None:
    token = (await desk.issue("ci", ("read,orders", "orders", "admin"))).token
    assert token.scopes == {"read", "orders", "admin"}


async def test_tokens_are_listed_newest_first(desk: Desk) -> None:
    first = (await desk.issue("first")).token
    desk.clock.advance(1)
    second = (await desk.issue("second")).token
    listed = await desk.service.list()
    assert isinstance(listed, Success)
    assert listed.value == [second, first]


async def test_a_busy_database_is_unavailable_not_an_error(desk: Desk) -> None:
    class Busy(FakeUnitOfWorkFactory):
        def __call__(self, *, write: bool) -> FakeUnitOfWork:
            raise StorageBusyError

    service = AccessService(Busy(desk.db), desk.clock, SequentialIds(), desk.secrets)
    assert await service.authenticate("shk_anything") == BUSY
    assert await service.list() == BUSY
    assert await service.create("ci", ["read"], actor=ACTOR) == BUSY
    assert await service.revoke("ci", actor=ACTOR) == BUSY


async def test_an_overlong_secret_is_refused_even_when_its_start_is_a_token() -> None:
    """Only so much of a presented secret is hashed; what is longer than any token opens nothing."""

    class Long(FakeSecrets):
        def new(self) -> str:
            return "y" * (MAX_SECRET_CHARS - len(ACCESS_TOKEN_PREFIX))

    desk = Desk()
    desk.service = AccessService(FakeUnitOfWorkFactory(desk.db), desk.clock, SequentialIds(), Long())
    secret = (await desk.issue()).secret
    assert len(secret) == MAX_SECRET_CHARS
    assert await desk.service.authenticate(secret) is not None
    assert await desk.service.authenticate(secret + "z") is None
