"""The referral loops page in a real browser (Debian chromium driven by Playwright)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import Community
from tests.api.test_referrals_api import load_referrals

pytestmark = pytest.mark.browser


def test_referrals_page_shows_months_and_open_loops(community: Community, served: str, page) -> None:
    load_referrals(community)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{served}/referrals")
    page.wait_for_selector("#error:not([hidden])")
    assert "clinician" in page.text_content("#error")

    page.fill("#token", community.tokens["reader"])  # a reader may not see referral loops
    page.click("text=Use token")
    page.wait_for_function("document.querySelector('#error').textContent.includes('Token rejected')")
    assert "403" in page.text_content("#error")
    assert page.is_hidden("#content")

    page.fill("#token", community.tokens["clinician"])
    page.click("text=Use token")
    page.fill("#from", "2026-10")
    page.fill("#to", "2026-11")
    page.click("#months button")
    page.wait_for_function("document.querySelector('#range').textContent.includes('2026-10')")
    rows = [r.split("\t") for r in page.inner_text("#summary tbody").splitlines()]
    assert ["2026-11", "th01", "3", "0", "0", "1"] in rows
    assert ["2026-10", "vc03", "1", "0", "0", "1"] in rows
    open_loops = page.inner_text("#open tbody")
    assert "sr-5" in open_loops and "sr-1" not in open_loops  # sr-1 came back: closed
    assert "上转 up" in open_loops and "已申请 requested" in open_loops and "2026-10-15" in open_loops
    assert "th01-pat-3" in open_loops and "王秀英" not in open_loops
    assert page.text_content("#open-total") == "(3)"
    page.screenshot(path=str(Path("/tmp") / "hub-referrals.png"), full_page=True)

    # The token lives only in this tab's session storage.
    assert page.evaluate("sessionStorage.getItem('hub.token')") == community.tokens["clinician"]
    assert page.evaluate("localStorage.getItem('hub.token')") is None
    page.reload()
    page.wait_for_selector("#open tbody tr td")
    page.click("#forget")
    page.wait_for_selector("#content", state="hidden")
    assert page.evaluate("sessionStorage.getItem('hub.token')") is None
    assert dialogs == []
