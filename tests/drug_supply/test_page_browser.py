"""The drug stock page in a real browser (Debian chromium driven by Playwright): a pharmacist sees the
stock-out on top, requests the suggested delivery for the village clinic, ships it and receives it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import Community
from tests.drug_supply.factories import METFORMIN
from tests.drug_supply.test_api import stocked

pytestmark = pytest.mark.browser


def test_a_pharmacist_sees_the_stock_out_first_and_walks_a_delivery_to_receipt(community: Community, served: str,
                                                                              page) -> None:
    stocked(community)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{served}/pharmacy/stock")
    page.wait_for_selector("#error:not([hidden])")
    page.fill("#token", community.tokens["pharmacist"])
    page.click("text=Use token")
    page.wait_for_selector("#stock tbody tr[data-facility]")
    first = page.locator("#stock tbody tr").first
    assert first.get_attribute("data-facility") == "vc01" and first.get_attribute("data-drug") == METFORMIN
    assert "断货" in first.inner_text() and "w-stockout" in (first.get_attribute("class") or "")
    warnings = page.inner_text("#warnings tbody")
    assert "断货" in warnings and "近效期" in warnings and "T-EARLY" in warnings
    suggestion = page.locator(f"#suggestions tr[data-village='vc01'][data-drug='{METFORMIN}']")
    assert "th01 T-EARLY" in suggestion.inner_text()
    page.screenshot(path=str(Path("/tmp") / "hub-drug-stock.png"), full_page=True)

    before = int(page.get_attribute("body", "data-refreshed") or 0)
    suggestion.locator("button.request").click()
    page.wait_for_function(f"Number(document.body.dataset.refreshed) > {before}")
    page.wait_for_selector("#deliveries tr[data-state='requested']")
    assert "vc01" in page.inner_text("#deliveries tbody") and page.inner_text("#suggestions tbody").startswith("无")
    page.click("#deliveries tr[data-state='requested'] button.to-shipped")
    page.wait_for_selector("#deliveries tr[data-state='shipped']")
    page.click("#deliveries tr[data-state='shipped'] button.to-received")
    page.wait_for_selector("#deliveries tr[data-state='received']")
    page.wait_for_function("document.querySelector('#fill').textContent.includes('100.0%')")
    assert "配送到位率 100.0%" in page.text_content("#fill")
    assert "苯磺酸氨氯地平片" in page.inner_text("#vbp-use tbody")
    assert page.is_hidden("#error") and page.is_hidden("#request-error") and dialogs == []


def test_the_page_in_english_and_a_clinician_is_refused(community: Community, served: str, page) -> None:
    stocked(community)
    page.context.add_cookies([{"name": "hub_lang", "value": "en", "url": served}])
    page.goto(f"{served}/pharmacy/stock")
    page.fill("#token", community.tokens["clinician"])
    page.click("text=Use token")
    page.wait_for_selector("#error:not([hidden])")
    assert "pharmacist" in page.text_content("#error")
    page.fill("#token", community.tokens["admin"])
    page.click("text=Use token")
    page.wait_for_selector("#stock tbody tr[data-facility]")
    assert "Open warnings" in page.text_content("main h2")
    assert "stock-out" in page.inner_text("#stock tbody tr:first-child")
