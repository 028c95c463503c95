"""The patient index review page in a real browser (Debian chromium driven by Playwright)."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.record_store.consumer import RecordStoreConsumer
from hub.core.consumer import Delivery
from tests.api.conftest import Community, auth
from tests.factories import patient_event

pytestmark = pytest.mark.browser
MARKUP = "<img src=x onerror=alert(1)>幸福村"


def _possible_match(community: Community) -> dict:
    """The fixture's person again at a village clinic, day and month of birth swapped: a review, not a link.
    Its candidate is one of the golden patient's two records (they score the same)."""
    event = patient_event("vc03", "7", name="Wang Xiuying", resident_id=None, phone="13900000000")
    event.resource["name"] = [{"text": "Wang Xiuying"}]
    event.resource["birthDate"] = "1990-07-03"
    event.resource["address"] = [{"text": MARKUP}]  # the candidate has none: it does not change the score
    with community.db.transaction() as session:
        RecordStoreConsumer().apply_batch(session, [Delivery("t", 0, 0, None, None, (), 0, event)])
    (review,) = community.client.get("/api/mpi/reviews", headers=auth(community.tokens["clinician"])).json()["items"]
    return dict(review)


def test_mpi_page_confirms_a_possible_match_and_undoes_a_link(community: Community, served: str, page) -> None:
    review = _possible_match(community)
    candidate = review["candidate"]["id"]
    candidate_phone = review["candidate"]["telecom"][0]["value"]
    assert candidate in ("th01-pat-1", "cty01-pat-A77")
    clinician = auth(community.tokens["clinician"])
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{served}/mpi")
    page.wait_for_selector("#error:not([hidden])")
    assert "clinician" in page.text_content("#error")

    page.fill("#token", community.tokens["clinician"])
    page.click("text=Use token")
    page.wait_for_selector("#reviews article.review")
    (card,) = page.query_selector_all("#reviews article.review")
    pair = card.inner_text()
    assert f"Task/{review['id']}" in pair and "得分 Score +10.5" in pair
    assert "待核对记录 Record · vc03-pat-7" in pair and f"候选记录 Candidate · {candidate}" in pair
    rows = [r.split("\t") for r in card.query_selector("table.pair tbody").inner_text().splitlines()]
    assert ["姓名 Name", "Wang Xiuying", "王秀英"] in rows
    assert ["出生日期 Birth date", "1990-07-03", "1990-03-07"] in rows
    assert ["电话 Phone", "13900000000", candidate_phone] in rows  # a clinician sees numbers unmasked
    assert ["身份证号 Resident ID", "–", "110101199003074573"] in rows
    assert ["地址 Address", MARKUP, "–"] in rows  # shown as text, not run
    assert ["所属患者 Community patient", rows[-1][1], community.golden] in rows
    why = [[part.text_content() for part in item.query_selector_all("span")]
           for item in card.query_selector_all("ul.explain li")]
    assert why == [
        ["姓名 name", "拼音相同 same pinyin", "+5.5"],
        ["性别 sex", "相同 same", "+0.5"],
        ["出生日期 birth date", "日月颠倒 swapped day month", "+5"],
        ["电话 phone", "不同 different", "-0.5"],
    ]
    assert "人工核对 review ≥ 7" in pair and "自动关联 link ≥ 15" in pair
    assert page.text_content("#open-reviews") == "1" and page.text_content("#waiting") == "0"
    assert page.text_content("#rules-version") and "15" in page.text_content("#threshold-link")
    page.screenshot(path=str(Path("/tmp") / "hub-mpi.png"), full_page=True)

    card.query_selector("input.note").fill("同一人：电话核实 checked by phone")
    card.query_selector("text=同一人 · Confirm").click()
    page.wait_for_selector("#notice:not([hidden])")
    assert f"Confirmed: vc03-pat-7 and {candidate} are the same person" in page.text_content("#notice")
    page.wait_for_function("document.querySelector('#open-reviews').textContent === '0'")
    assert page.query_selector_all("#reviews article.review") == []
    assert "No possible matches" in page.text_content("#reviews") and page.text_content("#review-count") == "(0)"
    everything = community.client.get(f"/fhir/Patient/{community.golden}/$everything", headers=clinician).json()
    assert "vc03-pat-7" in {e["resource"]["id"] for e in everything["entry"]}
    (decided,) = community.client.get("/api/mpi/reviews", params={"status": "completed"}, headers=clinician).json()["items"]
    assert decided["note"] == "同一人：电话核实 checked by phone" and decided["decided_by"] == "dr-li"

    page.fill("#history-patient", "vc03-pat-7")
    page.click("text=查询 · Look up")
    page.wait_for_function("document.querySelectorAll('#history tbody tr').length === 2")
    link, confirm = [r.split("\t") for r in page.inner_text("#history tbody").splitlines()]
    assert link[1:3] == ["关联 link", "vc03-pat-7"] and link[5] == "matcher"
    assert confirm[1:3] == ["确认 confirm", "vc03-pat-7"] and confirm[4:7] == [community.golden, "dr-li",
                                                                              "同一人：电话核实 checked by phone"]
    assert page.query_selector_all("#history button.undo") == []  # a first link and a confirmation: no undo here

    # A link made by hand can be undone from its history row (two clicks: no undo by a slip of the mouse).
    own = community.client.get("/fhir/Patient/th02-pat-9", headers=clinician).json()["link"][0]["other"]["reference"]
    linked = community.client.post("/api/mpi/link", json={"patient": "th02-pat-9", "community": community.golden},
                                   headers=clinician)
    assert linked.status_code == 200, linked.text
    page.fill("#history-patient", "th02-pat-9")
    page.click("text=查询 · Look up")
    page.wait_for_selector("#history button.undo")
    page.click("#history button.undo")
    assert "Click again" in page.text_content("#history button.undo")
    page.click("#history button.undo")
    page.wait_for_function("document.querySelector('#notice').textContent.includes('Undone')")
    assert "th02/9 moved back" in page.text_content("#notice")
    page.wait_for_function("document.querySelectorAll('#history tbody tr').length === 3")
    assert "撤销 unmerge" in page.inner_text("#history tbody")
    back = community.client.get("/fhir/Patient/th02-pat-9", headers=clinician).json()["link"][0]["other"]["reference"]
    assert back == own

    assert page.evaluate("sessionStorage.getItem('hub.token')") == community.tokens["clinician"]
    assert page.evaluate("localStorage.getItem('hub.token')") is None
    page.click("#forget")
    page.wait_for_selector("#content", state="hidden")
    assert page.evaluate("sessionStorage.getItem('hub.token')") is None
    assert dialogs == []


def test_mpi_page_shows_why_a_token_or_a_decision_is_refused(community: Community, served: str, page) -> None:
    review = _possible_match(community)["id"]
    page.goto(f"{served}/mpi")
    page.fill("#token", community.tokens["reader"])  # readers may not review matches
    page.click("text=Use token")
    page.wait_for_function("document.querySelector('#error').textContent.includes('Token rejected')")
    assert page.text_content("#error") == "Token rejected (403): role reader may not do this; needs clinician"
    assert page.is_hidden("#content")

    page.fill("#token", "no-such-token")
    page.click("text=Use token")
    page.wait_for_function("document.querySelector('#error').textContent.includes('401')")
    assert "the bearer token is not valid or was revoked" in page.text_content("#error")

    page.fill("#token", community.tokens["clinician"])
    page.click("text=Use token")
    page.wait_for_selector("#reviews article.review")
    # Another reviewer decides first: this page's decision comes too late and says why.
    done = community.client.post(f"/api/mpi/reviews/{review}/confirm", headers=auth(community.tokens["clinician"]))
    assert done.status_code == 200, done.text
    page.click("text=不同人 · Reject")
    page.wait_for_selector("#reviews .outcome:not([hidden])")
    assert page.text_content("#reviews .outcome") == f"HTTP 409: Task/{review} was already decided (completed)"
    assert page.is_disabled("text=同一人 · Confirm") and page.is_hidden("#notice")
    page.click("#refresh")
    page.wait_for_function("document.querySelectorAll('#reviews article.review').length === 0")
