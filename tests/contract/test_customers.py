"""CustomerRepository: e-mail addresses are unique, searches fold letter case beyond ASCII, pages
follow registration (id) order, and moments come back as UTC with their microseconds."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text

from mcp_server.adapters.database import create_engine, ensure_schema, unit_of_work_factory
from mcp_server.models.errors import UniqueViolationError
from mcp_server.services.ports import UnitOfWorkFactory
from tests.contract.records import T0, customer, ident, read, save, written
from tests.postgres import PostgresServer

pytestmark = pytest.mark.anyio


async def page(
    uow: UnitOfWorkFactory, search: str | None = None, after: str | None = None, limit: int = 50
) -> list[str]:
    rows = await read(uow, lambda w: w.customers.page_after(text=search, after_id=after, limit=limit))
    return [c.id for c in rows]


async def test_a_customer_comes_back_as_stored(uow_factory: UnitOfWorkFactory) -> None:
    ada = replace(customer(1, "Élodie Ада"), phone="+33 1 23 45 67 89", notes="Line one\nline two")
    await save(uow_factory, ada)
    got = await read(uow_factory, lambda w: w.customers.get(ada.id))
    assert got == ada
    assert got is not None
    assert got.created_at.isoformat() == "2026-11-26T09:00:00.123456+00:00", "UTC, microseconds kept"
    assert await read(uow_factory, lambda w: w.customers.get("cus_missing")) is None


async def test_found_by_email_in_any_letter_case(uow_factory: UnitOfWorkFactory) -> None:
    ada = customer(1, email="ada@example.com")
    await save(uow_factory, ada, customer(2))
    async with uow_factory(write=False) as work:
        assert await work.customers.find_by_email("ada@example.com") == ada
        assert await work.customers.find_by_email("ADA@Example.COM") == ada
    assert await read(uow_factory, lambda w: w.customers.find_by_email("bob@example.com")) is None


async def test_a_taken_email_is_refused_and_nothing_is_stored(uow_factory: UnitOfWorkFactory) -> None:
    ada = customer(1, email="ada@example.com")
    await save(uow_factory, ada)
    twin = customer(2, "Ada Twin", email="ada@example.com")

    async def both() -> None:
        async with uow_factory(write=True) as work:
            await work.customers.add(customer(3))
            await work.customers.add(twin)
            await work.commit()

    with pytest.raises(UniqueViolationError):
        await both()
    assert await page(uow_factory) == [ada.id], "the unit was left without commit: neither was stored"
    assert await read(uow_factory, lambda w: w.customers.find_by_email("ada@example.com")) == ada


async def test_update_overwrites_and_frees_the_old_email(uow_factory: UnitOfWorkFactory) -> None:
    ada = customer(1, email="ada@example.com")
    await save(uow_factory, ada)
    moved = replace(
        ada,
        name="Ada King",
        email="ada.king@example.com",
        phone="+44 20 7946 0000",
        updated_at=T0 + timedelta(hours=1, microseconds=7),
    )
    await written(uow_factory, lambda w: w.customers.update(moved))
    assert await read(uow_factory, lambda w: w.customers.get(ada.id)) == moved
    assert await read(uow_factory, lambda w: w.customers.find_by_email("ada@example.com")) is None
    newcomer = customer(2, email="ada@example.com")
    await save(uow_factory, newcomer)
    assert await read(uow_factory, lambda w: w.customers.find_by_email("ada@example.com")) == newcomer


async def test_update_to_an_email_another_customer_has_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    ada, bob = customer(1, email="ada@example.com"), customer(2, email="bob@example.com")
    await save(uow_factory, ada, bob)
    with pytest.raises(UniqueViolationError):
        await written(uow_factory, lambda w: w.customers.update(replace(bob, email="ada@example.com")))
    assert await read(uow_factory, lambda w: w.customers.get(bob.id)) == bob
    same = replace(bob, name="Bob B.")  # keeping one's own address is no conflict
    await written(uow_factory, lambda w: w.customers.update(same))
    assert await read(uow_factory, lambda w: w.customers.get(bob.id)) == same


async def test_pages_follow_id_order_after_the_cursor(uow_factory: UnitOfWorkFactory) -> None:
    people = [customer(n) for n in (3, 1, 5, 2, 4)]
    await save(uow_factory, *people)
    ids = sorted(c.id for c in people)
    assert await page(uow_factory, limit=2) == ids[:2]
    assert await page(uow_factory, after=ids[1], limit=2) == ids[2:4]
    assert await page(uow_factory, after=ids[3], limit=2) == ids[4:]
    assert await page(uow_factory, after=ids[4]) == []


async def test_text_search_in_name_or_email_in_any_letter_case(uow_factory: UnitOfWorkFactory) -> None:
    elodie = customer(1, "Élodie Ада", email="elodie@example.com")
    bob = customer(2, "Bob Stone", email="bob@stone.example")
    zoe = customer(3, "Zoë Ådahl", email="zoe@example.com")
    await save(uow_factory, elodie, bob, zoe)
    assert await page(uow_factory, "ÉLODIE") == [elodie.id]
    assert await page(uow_factory, "élodie") == [elodie.id]
    assert await page(uow_factory, "ада") == [elodie.id], "Cyrillic folds too"
    assert await page(uow_factory, "ZOË ÅD") == [zoe.id]
    assert await page(uow_factory, "STONE") == [bob.id], "the e-mail matches as well as the name"
    assert await page(uow_factory, "example.com") == [elodie.id, zoe.id]
    assert await page(uow_factory, "example.com", after=elodie.id) == [zoe.id]
    assert await page(uow_factory, "nobody") == []


async def test_search_wildcards_match_themselves(uow_factory: UnitOfWorkFactory) -> None:
    percent = customer(1, "100% Cotton Ltd", email="cotton@example.com")
    under = customer(2, "snake_case Inc", email="snake@example.com")
    plain = customer(3, "Snakes Case", email="plain@example.com")
    await save(uow_factory, percent, under, plain)
    assert await page(uow_factory, "100%") == [percent.id]
    assert await page(uow_factory, "%") == [percent.id]
    assert await page(uow_factory, "e_c") == [under.id]
    assert await page(uow_factory, "\\") == []


async def test_a_dotted_capital_i_is_found_as_written(uow_factory: UnitOfWorkFactory) -> None:
    """Names are folded by Python on every engine (migration 0009): PostgreSQL's lower() folds 'İ' otherwise."""
    ilker = customer(1, "İlker Başbuğ", email="ilker@example.com")
    await save(uow_factory, ilker)
    assert await page(uow_factory, "İlker") == [ilker.id]


async def test_names_come_back_by_id_in_one_read_for_any_number_of_ids(uow_factory: UnitOfWorkFactory) -> None:
    """What a page of orders shows for its customers: ids no customer has are left out, a repeated id
    counts once, and more ids than one statement takes (128) still come back whole."""
    people = [customer(n, f"Name {n} “Ада”") for n in range(1, 141)]
    await save(uow_factory, *people)
    named = {c.id: c.name for c in people}
    missing = ident("cus", 999)

    assert await read(uow_factory, lambda w: w.customers.names([])) == {}
    assert await read(uow_factory, lambda w: w.customers.names([people[0].id])) == {people[0].id: "Name 1 “Ада”"}
    some = [people[4].id, people[1].id, people[4].id, missing, people[2].id]
    assert await read(uow_factory, lambda w: w.customers.names(some)) == {
        i: named[i] for i in (people[1].id, people[2].id, people[4].id)
    }
    assert await read(uow_factory, lambda w: w.customers.names([*named, missing])) == named
    assert await written(uow_factory, lambda w: w.customers.names({people[6].id})) == {people[6].id: "Name 7 “Ада”"}


async def test_search_folds_non_ascii_letters_on_a_postgresql_database_in_the_c_locale(
    postgres: PostgresServer,
) -> None:
    """PostgreSQL's lower() folds by the database's LC_CTYPE (ASCII only under 'C'); the shop folds in Python."""
    name = "contract_c_locale"
    postgres.drop_database(name)
    admin = create_engine(postgres.url("postgres")).execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(
                text(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
            )
    finally:
        await admin.dispose()
    engine = create_engine(postgres.url(name))
    try:
        await ensure_schema(engine)
        uow = unit_of_work_factory(engine)
        elodie = customer(1, "Élodie Ада", email="elodie@example.com")
        await save(uow, elodie)
        assert await page(uow, "lodie") == [elodie.id], "ASCII letters fold"
        assert await page(uow, "Élodie") == [elodie.id], "the name exactly as written"
        assert await page(uow, "ÉLODIE") == [elodie.id]
    finally:
        await engine.dispose()
        postgres.drop_database(name)
