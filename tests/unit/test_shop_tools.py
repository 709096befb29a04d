"""The customer, catalog, report, notification and audit tools' use cases called straight: no server, no client."""

from __future__ import annotations

from datetime import date

import pytest

from mcp_server.handlers.mcp import audit, catalog, customers, notifications, reports
from mcp_server.models.audit import AuditQuery
from mcp_server.models.catalog import ProductCreate, ProductLookup, ProductQuery, StockAdjustment
from mcp_server.models.customers import CustomerCreate, CustomerLookup, CustomerQuery, CustomerUpdate
from mcp_server.models.outbox import NotificationQuery, PermanentFailure
from mcp_server.models.reports import SalesQuery
from tests.unit.commerce import ACTOR, Shop, add_customer, add_product, make_shop, place
from tests.unit.tool_support import ScriptedSender, services_of, text

pytestmark = pytest.mark.anyio


@pytest.fixture
def shop() -> Shop:
    return make_shop()


# -- customers -------------------------------------------------------------------------------------


async def test_registering_a_customer_stores_them_and_says_the_welcome_e_mail_is_queued(shop: Shop) -> None:
    data = CustomerCreate(name="Ada Lovelace", email="Ada@Example.com")

    result = await customers.register_customer(services_of(shop), data, actor=ACTOR)

    assert not result.is_error
    assert result.structured_content is not None
    customer_id = result.structured_content["id"]
    assert shop.db.customers[customer_id].email == "ada@example.com"
    assert text(result).startswith("## Registered ")
    assert text(result).endswith("A welcome e-mail is queued. Use this id with customers_update or customers_get.")


async def test_registering_a_taken_address_names_the_existing_customer_and_writes_nothing(shop: Shop) -> None:
    existing = await add_customer(shop)

    result = await customers.register_customer(
        services_of(shop), CustomerCreate(name="Someone Else", email="ADA@example.com"), actor=ACTOR
    )

    assert result.is_error
    assert text(result).endswith(
        f"Next: call customers_get with customer_id='{existing}' to use the existing customer; nothing was written."
    )
    assert list(shop.db.customers) == [existing]


async def test_an_unknown_e_mail_points_to_customers_list(shop: Shop) -> None:
    result = await customers.get(services_of(shop), CustomerLookup(email="nobody@example.com"), detailed=False)

    assert result.is_error
    assert text(result).endswith("Next: call customers_list with query=… to search by part of a name or e-mail.")


async def test_listing_filters_by_part_of_a_name(shop: Shop) -> None:
    ada = await add_customer(shop)
    await add_customer(shop, email="grace@example.com", name="Grace Hopper")

    result = await customers.list_page(services_of(shop), CustomerQuery(text="lovel"), detailed=False)

    assert result.structured_content is not None
    assert [c["id"] for c in result.structured_content["customers"]] == [ada]
    assert result.structured_content["next_cursor"] is None


async def test_an_update_changes_only_the_fields_given_and_says_which(shop: Shop) -> None:
    ada = await add_customer(shop)

    result = await customers.update(services_of(shop), ada, CustomerUpdate(phone="+44 20 7946 0000"), actor=ACTOR)

    assert text(result).startswith("## Updated ")
    assert "changed phone" in text(result).splitlines()[0]
    assert shop.db.customers[ada].phone == "+44 20 7946 0000"
    assert shop.db.customers[ada].name == "Ada Lovelace"


# -- catalog ---------------------------------------------------------------------------------------


async def test_adding_a_taken_sku_points_to_the_existing_product_and_adds_nothing(shop: Shop) -> None:
    existing = await add_product(shop, "MUG-01")
    data = ProductCreate(sku="mug-01", name="Another mug", price_minor=900, currency="EUR")

    result = await catalog.create_product(services_of(shop), data, actor=ACTOR)

    assert result.is_error
    assert text(result).endswith(
        f"Next: call catalog_update_product with product_id='{existing}' to change it, or pick another SKU. "
        "Nothing was changed."
    )
    assert list(shop.db.products) == [existing]


async def test_adjusting_stock_shows_before_and_after(shop: Shop) -> None:
    mug = await add_product(shop, "MUG-01", stock=5)

    result = await catalog.adjust_stock(services_of(shop), mug, StockAdjustment(delta=3, reason="restock"), actor=ACTOR)

    assert text(result).startswith("## Stock of ")
    assert "5 → 8 (restock)" in text(result).splitlines()[0]
    assert shop.db.products[mug].stock == 8


async def test_taking_more_stock_than_there_is_is_refused_and_changes_nothing(shop: Shop) -> None:
    mug = await add_product(shop, "MUG-01", stock=2)

    result = await catalog.adjust_stock(services_of(shop), mug, StockAdjustment(delta=-3, reason="damage"), actor=ACTOR)

    assert result.is_error
    assert text(result).endswith("Next: choose another delta (catalog_get shows the stock). Nothing was changed.")
    assert shop.db.products[mug].stock == 2


async def test_a_low_stock_search_lists_only_products_under_the_line(shop: Shop) -> None:
    await add_product(shop, "MUG-01", stock=10)
    low = await add_product(shop, "CUP-01", stock=1)

    result = await catalog.search(services_of(shop), ProductQuery(stock_below=5), detailed=False)

    assert result.structured_content is not None
    assert [p["id"] for p in result.structured_content["products"]] == [low]


async def test_an_unknown_sku_points_to_catalog_search(shop: Shop) -> None:
    result = await catalog.get(services_of(shop), ProductLookup(sku="NOPE-1"), detailed=False)

    assert result.is_error
    assert text(result).endswith("Next: call catalog_search (text=part of the name or SKU) to find the product.")


# -- reports ---------------------------------------------------------------------------------------


async def test_the_sales_summary_counts_the_day_s_orders(shop: Shop) -> None:
    await add_product(shop, "MUG-01", price_minor=1250, stock=5)
    await place(shop, await add_customer(shop), [("MUG-01", 2)])
    day = shop.clock.now().date()

    result = await reports.sales_summary(services_of(shop), SalesQuery(date_from=day, date_to=day))

    assert text(result).startswith(f"## Sales {day.isoformat()} to {day.isoformat()} (UTC)")
    assert result.structured_content is not None
    [row] = result.structured_content["days"]
    assert (row["orders"], row["units"], row["revenue_minor"], row["net_minor"]) == (1, 2, 2500, 2500)


async def test_a_summary_ending_before_it_starts_asks_for_other_dates(shop: Shop) -> None:
    query = SalesQuery(date_from=date(2026, 11, 26), date_to=date(2026, 11, 25))

    result = await reports.sales_summary(services_of(shop), query)

    assert result.is_error
    assert text(result).endswith("Next: correct the dates and call reports_sales_summary again.")


# -- notifications ---------------------------------------------------------------------------------


async def test_a_failed_e_mail_is_listed_with_its_reason_and_re_queued(shop: Shop) -> None:
    await add_customer(shop)
    sender = ScriptedSender()
    sender.outcomes.append(PermanentFailure("the e-mail provider answered 422"))
    services = services_of(shop, sender)
    await services.notifications.deliver_due()
    [welcome] = shop.db.outbox

    listed = await notifications.list_page(services, NotificationQuery(status="failed"))
    retried = await notifications.retry(services, welcome.id, actor=ACTOR)

    assert listed.structured_content is not None
    assert [n["id"] for n in listed.structured_content["notifications"]] == [welcome.id]
    assert "the e-mail provider answered 422" in text(listed)
    assert text(retried).startswith(f"## Re-queued `{welcome.id}`")
    [again] = shop.db.outbox
    assert (again.status, again.attempts) == ("pending", 0)


async def test_re_queueing_an_e_mail_that_did_not_fail_changes_nothing(shop: Shop) -> None:
    await add_customer(shop)
    [welcome] = shop.db.outbox

    result = await notifications.retry(services_of(shop), welcome.id, actor=ACTOR)

    assert result.is_error
    assert text(result).endswith(
        "Next: call notifications_list with status='failed' to see which can be re-queued. Nothing was changed."
    )
    assert shop.db.outbox == [welcome]


# -- audit -----------------------------------------------------------------------------------------


async def test_one_customer_s_history_is_listed_newest_first_page_by_page(shop: Shop) -> None:
    ada = await add_customer(shop)
    await shop.customers.update(ada, CustomerUpdate(notes="prefers e-mail"), actor=ACTOR)

    result = await audit.list_page(services_of(shop), AuditQuery(entity_id=ada, limit=1), detailed=False, filtered=True)

    assert result.structured_content is not None
    [entry] = result.structured_content["entries"]
    assert (entry["action"], entry["entity_id"]) == ("customer.updated", ada)
    cursor = result.structured_content["next_cursor"]
    assert text(result).endswith(
        f"More results exist: call audit_log_list again with the same filters and cursor=`{cursor}`."
    )
