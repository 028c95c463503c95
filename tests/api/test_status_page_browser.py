"""The status page in a real browser (Debian chromium driven by Playwright)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import Community
from tests.api.test_ops import store_dead_letter

pytestmark = pytest.mark.browser


def test_status_page_shows_throughput_and_dead_letters_safely(community: Community, served: str, page) -> None:
    store_dead_letter(community, "<script>alert(1)</script> row of 王秀英 has no patient id", b"{}")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{served}/status")
    page.wait_for_selector("#error:not([hidden])")
    assert "Paste a bearer token" in page.text_content("#error")

    page.fill("#token", "wrong-token")
    page.click("text=Use token")
    page.wait_for_function("document.querySelector('#error').textContent.includes('Token rejected')")
    assert "401" in page.text_content("#error")

    page.fill("#token", community.tokens["admin"])
    page.click("text=Use token")
    page.wait_for_selector("#consumers tbody tr td")
    consumers = page.inner_text("#consumers tbody")
    assert "record_store" in consumers and "dead_letters" in consumers
    reason = page.inner_text("#dead-letters tbody")
    assert "<script>alert(1)</script>" in reason and "王秀英" in reason  # shown as text, not run
    assert page.inner_text("#connectors tbody").startswith("th01-his")
    assert page.text_content("#dead-total") == "1"
    page.screenshot(path=str(Path("/tmp") / "hub-status.png"), full_page=True)
    assert dialogs == []
