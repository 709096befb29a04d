"""The approval page, as a person uses it: a real browser (headless Chromium driven by Selenium)
opens the link the assistant was given, reads the preview, types the approver's name and
passphrase, clicks Approve; the assistant's repeated call then refunds exactly once. And what a
forged or misdirected form gets: nothing.

Chromium and ChromeDriver come from Debian (`chromium`, `chromium-driver`); `.ci/run` and
`make test` install them where apt-get can.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import httpx
import pytest

from tests.e2e.raw_stdio import RawStdioServer
from tests.e2e.support import PASSPHRASE as OWNER_PASSPHRASE
from tests.e2e.support import JsonObject, Mode, Shop, as_object, open_shop, string
from tests.engines import ShopDatabase, sqlite_shop

pytestmark = [pytest.mark.anyio, pytest.mark.approver]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


async def ask_for_a_refund(shop: Shop) -> tuple[JsonObject, JsonObject]:
    ada = string(await shop.register("Ada Lovelace", "ada@engines.example"), "id")
    await shop.add_product("MUG-1", "Mug", price_minor=1250, stock=5)
    order = string(await shop.place(ada, ("MUG-1", 2)), "id")
    await shop.ok("payments_record", {"order_id": order, "amount": 2500, "method": "cash"})
    arguments: JsonObject = {"order_id": order, "amount": 1000, "reason": "one mug arrived broken"}
    asked = await shop.ok("payments_refund", arguments)
    assert f"in a browser at <{string(asked.data, 'approval_url')}>, or at the shop's terminal" in asked.text
    assert "(either way it asks for their approver name and passphrase)" in asked.text
    return arguments, asked.data


def refunds(db: ShopDatabase) -> list[tuple[object, ...]]:
    return db.query("SELECT amount_minor, status FROM payments WHERE kind = 'refund'")


def approve_in_a_browser(url: str, name: str, passphrase: str, screenshot: Path) -> tuple[str, str]:
    """Open ``url`` in headless Chromium, approve as ``name``; (the page's text before, after)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    assert not missing, (
        f"the browser test needs Debian's chromium and chromium-driver, missing {missing} (apt-get install chromium "
        "chromium-driver; .ci/run and make test install them where they can)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=420,900",  # a phone's width
        f"--user-data-dir={screenshot.parent / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.get(url)
        before = driver.find_element(By.TAG_NAME, "body").text
        driver.find_element(By.ID, "name").send_keys(name)
        driver.find_element(By.ID, "passphrase").send_keys(passphrase)
        screenshot.with_name("approval-page-filled.png").write_bytes(driver.get_screenshot_as_png())
        page = driver.find_element(By.TAG_NAME, "body")
        driver.find_element(By.CSS_SELECTOR, "button.approve").click()
        WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))  # the answer page loaded
        after = driver.find_element(By.TAG_NAME, "body").text
        screenshot.write_bytes(driver.get_screenshot_as_png())
        return before, after
    finally:
        driver.quit()


async def test_a_person_approves_in_a_browser_and_the_refund_happens_once(
    shop_db: ShopDatabase, mode: Mode, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    async with open_shop(shop_db, mode) as shop:
        arguments, asked = await ask_for_a_refund(shop)
        url = string(asked, "approval_url")
        screenshot = tmp_path / "approval-page.png"
        before, after = await anyio.to_thread.run_sync(approve_in_a_browser, url, "owner", OWNER_PASSPHRASE, screenshot)
        record_property("screenshot", str(screenshot))
        print(f"screenshot of the approval page: {screenshot}")  # noqa: T201 - kept in the test's output

        assert "Refund 10.00 EUR of order" in before
        assert "Ada Lovelace" in before
        assert "Approve" in before
        assert "Deny" in before
        assert f"Approved {string(asked, 'approval_id')}" in after
        assert screenshot.stat().st_size > 10_000

        done = await shop.ok("payments_refund", {**arguments, "approval_id": string(asked, "approval_id")})
        again = await shop.fail("payments_refund", {**arguments, "approval_id": string(asked, "approval_id")})

    assert string(done.data, "outcome") == "done"
    assert "already used" in again
    assert refunds(shop_db) == [(1000, "succeeded")]


async def test_a_forged_or_misdirected_form_decides_nothing(shop_db: ShopDatabase, mode: Mode) -> None:
    async with open_shop(shop_db, mode) as shop:
        arguments, asked = await ask_for_a_refund(shop)
        url = string(asked, "approval_url")
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        approval_id = string(asked, "approval_id")
        async with httpx.AsyncClient(timeout=30) as http:
            page = await http.get(url)
            assert page.status_code == 200
            token = page.text.split('name="token" value="', 1)[1].split('"', 1)[0]
            good = {"token": token, "name": "owner", "passphrase": OWNER_PASSPHRASE, "decision": "approve"}
            attempts: dict[str, tuple[dict[str, str], dict[str, str], int]] = {
                "no origin": ({}, good, 403),
                "another site": ({"Origin": "http://evil.example"}, good, 403),
                "a rebound host name": ({"Origin": origin, "Host": "evil.example"}, good, 421),
                "no token": ({"Origin": origin}, {**good, "token": ""}, 403),
                "a token for another request": ({"Origin": origin}, {**good, "token": "0" * 64}, 403),
                "no passphrase": ({"Origin": origin}, {**good, "passphrase": ""}, 403),
                "a wrong passphrase": ({"Origin": origin}, {**good, "passphrase": "guess"}, 403),
                "an unknown approver": ({"Origin": origin}, {**good, "name": "mallory"}, 403),
            }
            for why, (headers, form, status) in attempts.items():
                answer = await http.post(url, data=form, headers=headers)
                assert answer.status_code == status, why
            listing = await http.get(f"{origin}/approvals")
            assert approval_id in listing.text, "still waiting"
            message = await shop.fail("payments_refund", {**arguments, "approval_id": approval_id})
            assert "still waiting for a person" in message

            denied = await http.post(url, data={**good, "decision": "deny"}, headers={"Origin": origin})
            assert denied.status_code == 200
            assert "Denied" in denied.text
            replayed = await http.post(url, data=good, headers={"Origin": origin})
            assert replayed.status_code == 409
            assert "is denied" in replayed.text
        refused = await shop.fail("payments_refund", {**arguments, "approval_id": approval_id})

    assert "was denied by person:owner" in refused
    assert refunds(shop_db) == []


def test_a_client_that_opens_links_offers_the_person_the_page(shop_file: Path, tmp_path: Path) -> None:
    """Protocol 2025-11-25, a client with URL-mode elicitation and no forms: the server asks it, mid-call,
    to open the approval page; the approval itself still takes the passphrase on the page. On SQLite only:
    the question is the protocol's; the page on PostgreSQL is the browser test's."""
    db = sqlite_shop(shop_file)
    env = {**os.environ, "SHOPKEEPER_DATABASE_URL": db.url, "SHOPKEEPER_WORKER": "off"}
    argv = [sys.executable, "-m", "mcp_server"]
    with RawStdioServer(argv, env=env, cwd=tmp_path, stderr_path=tmp_path / "stderr.log") as server:
        server.initialize("links-only", capabilities={"elicitation": {"url": {}}})
        ada = as_object(server.call_tool("customers_register", {"name": "Ada", "email": "ada@x.example"}))
        ada_id = string(as_object(ada["structuredContent"]), "id")
        mug: JsonObject = {"sku": "MUG-1", "name": "Mug", "price_minor": 1250, "currency": "EUR", "stock": 5}
        made = server.call_tool("catalog_create_product", mug)
        assert not made.get("isError"), made
        lines = [{"sku": "MUG-1", "quantity": 2}]
        placed = server.call_tool("orders_place", {"customer_id": ada_id, "lines": lines})
        assert not placed.get("isError"), placed
        order = string(as_object(as_object(placed["structuredContent"])["order"]), "id")
        server.call_tool("payments_record", {"order_id": order, "amount": 2500, "method": "cash"})

        refund = {"order_id": order, "amount": 1000, "reason": "broken"}
        server.send(
            {
                "jsonrpc": "2.0",
                "id": "refund-1",
                "method": "tools/call",
                "params": {"name": "payments_refund", "arguments": refund},
            }
        )
        asked = server.next_message()
        assert asked.get("method") == "elicitation/create", asked
        params = as_object(asked["params"])
        assert params.get("mode") == "url"
        assert string(params, "url").startswith("http://127.0.0.1:")
        assert "Refund 10.00 EUR" in string(params, "message")
        server.send({"jsonrpc": "2.0", "id": asked["id"], "result": {"action": "accept"}})
        answer = server.next_message()
        while answer.get("id") != "refund-1":
            answer = server.next_message()
        result = as_object(answer["result"])
        structured = as_object(result["structuredContent"])
        assert string(structured, "outcome") == "approval_required"
        assert string(structured, "approval_url") == string(params, "url")
        assert refunds(db) == []
        assert server.close() == 0, "the server (and its approval page) stop when the client goes"


async def test_an_expired_request_cannot_be_approved_on_the_page(shop_db: ShopDatabase, mode: Mode) -> None:
    async with open_shop(shop_db, mode) as shop:
        arguments, asked = await ask_for_a_refund(shop)
        url, approval_id = string(asked, "approval_url"), string(asked, "approval_id")
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        async with httpx.AsyncClient(timeout=30) as http:
            token = (await http.get(url)).text.split('name="token" value="', 1)[1].split('"', 1)[0]
            long_ago = shop_db.moment(datetime(2000, 1, 1, tzinfo=UTC))  # set-up: ten minutes pass
            shop_db.execute("UPDATE approval_requests SET expires_at = :at", at=long_ago)
            form = {"token": token, "name": "owner", "passphrase": OWNER_PASSPHRASE, "decision": "approve"}
            late = await http.post(url, data=form, headers={"Origin": origin})
            shown = await http.get(url)
        refused = await shop.fail("payments_refund", {**arguments, "approval_id": approval_id})

    assert late.status_code == 409
    assert "is expired" in late.text
    assert "This request is expired" in shown.text
    assert "expired" in refused
    assert refunds(shop_db) == []
