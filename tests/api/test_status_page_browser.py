"""The status page in a real browser (Debian chromium driven by Playwright)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests.api.conftest import Community
from tests.api.test_ops import store_dead_letter
from tests.conftest import free_port

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.browser
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def served(community: Community) -> Iterator[str]:
    app = community.client.app
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def page() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


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
