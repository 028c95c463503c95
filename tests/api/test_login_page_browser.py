"""Logging in to the pages in a real browser (Debian chromium driven by Playwright): the login page,
pages used with a session (masked by the account's role), a confirmed decision sent with the
session's CSRF token, and logging out."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.app.api import accounts
from tests.api.conftest import Community
from tests.api.test_mpi_page_browser import _possible_match

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


@pytest.fixture
def people(community: Community) -> Community:
    with community.db.transaction() as session:
        accounts.create_user(session, "dr-wang", PASSWORD, "clinician", "cty01")
        accounts.create_user(session, "reader-li", PASSWORD, "reader", "cty01")
    return community


def _log_in(page, user: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#login")


def test_login_page_opens_the_page_that_asked_and_logout_ends_the_session(people: Community, served: str, page) -> None:
    page.goto(f"{served}/patient?id=th01-pat-1")
    page.wait_for_selector("#error:not([hidden])")
    assert "Log in first" in page.text_content("#error")
    page.click("#login-link")
    page.wait_for_selector("#login-form")
    assert "用户名 · User name" in page.inner_text("#login-form") and "密码 · Password" in page.inner_text("#login-form")

    _log_in(page, "reader-li", "wrong password!")
    page.wait_for_selector("#error:not([hidden])")
    assert "用户名或密码错误" in page.text_content("#error") and page.input_value("#password") == ""
    _log_in(page, "reader-li")
    page.wait_for_url(f"{served}/patient?id=th01-pat-1")
    page.wait_for_selector("#recognised tbody tr td")
    assert page.text_content("#p-name") == "王秀英"
    assert page.text_content("#p-resident-id") == "1101**********4573"  # a reader's session is masked
    assert "110101199003074573" not in page.content() and "13812345678" not in page.content()
    page.wait_for_selector("#account .who")
    assert page.text_content("#account .who") == "reader-li · reader · cty01"
    assert page.evaluate("document.cookie").count("hub_session") == 0  # HttpOnly: scripts cannot read it
    page.screenshot(path=str(Path("/tmp") / "hub-login-patient.png"), full_page=True)

    page.click("#logout")
    page.wait_for_url(f"{served}/login")
    page.goto(f"{served}/patient?id=th01-pat-1")
    page.wait_for_selector("#error:not([hidden])")
    assert "Log in first" in page.text_content("#error") and page.is_hidden("#content")


def test_a_decision_on_the_mpi_page_is_sent_with_the_session(people: Community, served: str, page) -> None:
    review = _possible_match(people)
    page.goto(f"{served}/login?next=/mpi")
    _log_in(page, "dr-wang")
    page.wait_for_url(f"{served}/mpi")
    page.wait_for_selector("#reviews article.review")
    (card,) = page.query_selector_all("#reviews article.review")
    assert "13900000000" in card.inner_text()  # a clinician sees numbers unmasked
    card.query_selector("text=同一人 · Confirm").click()
    page.wait_for_selector("#notice:not([hidden])")
    assert "Confirmed: vc03-pat-7" in page.text_content("#notice")
    history = people.client.get("/api/mpi/history", params={"patient": "vc03-pat-7"},
                                headers={"Authorization": f"Bearer {people.tokens['clinician']}"}).json()
    assert history["items"][-1]["actor"] == "dr-wang" and review["id"]
    # A page elsewhere cannot do the same with this browser's session: no CSRF token, no decision.
    answer = page.evaluate("""async () => {
        const r = await fetch('/api/mpi/unlink', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                  body: JSON.stringify({patient: 'vc03-pat-7'})});
        return [r.status, (await r.json()).issue[0].diagnostics];
    }""")
    assert answer[0] == 403 and "CSRF" in answer[1]


def test_a_login_page_next_address_never_leaves_the_hub(people: Community, served: str, page) -> None:
    page.goto(f"{served}/login?next=//evil.example/steal")
    _log_in(page, "reader-li")
    page.wait_for_url(f"{served}/patient")
