"""The reading workbench in a real browser (Debian chromium driven by Playwright), on a whole hub with the
real broker: a reader walks worklist -> claim -> report -> sign, the report reaches the patient's record and
the item leaves the worklist; then a lapsed lease, a second claimer told who holds the item, an amendment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consumers.reading.models import ReadingItem
from consumers.reading.sweep import Sweeper
from hub.core.events import utcnow
from tests.hub.test_consuming import publish
from tests.reading.conftest import LiveHub, Reading
from tests.reading.factories import arrival, order
from tests.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.broker]
ITEM = "rd-th01-sr-E1"


def _ready(hub: LiveHub) -> bool:
    with hub.db.reading() as session:
        item = session.get(ReadingItem, ITEM)
        return item is not None and item.state == "ready"


def _use_token(page, hub: LiveHub, who: str) -> None:
    page.goto(f"{hub.url}/reading")
    page.fill("#token", hub.tokens[who])
    page.click("text=Use token")


def test_a_reader_walks_the_loop(live_hub: LiveHub, page) -> None:
    publish(live_hub.settings, [order(number="E1", priority="stat"), arrival(uid="1.2.3.1", based_on="th01-sr-E1")])
    wait_for(lambda: _ready(live_hub), 60)
    _use_token(page, live_hub, "reader")
    row = f'#worklist tr[data-id="{ITEM}"]'
    page.wait_for_selector(row)
    assert "th01-pat-1" in page.inner_text(row) and "急" in page.inner_text(row)
    assert page.inner_text(f"{row} td.clock").count(":") == 2  # a countdown, hh:mm:ss
    assert "待诊断 1" in page.inner_text("#figures")

    page.click(f"{row} button.claim")
    page.wait_for_selector("#bench:not([hidden])")
    page.wait_for_function("document.querySelector('#lease').textContent.includes('已认领')")
    # The ECG part's viewer is mounted (this waveform is a stand-in; test_whole_loop_browser draws a real one).
    page.wait_for_selector("#viewer .ecg-viewer")
    # The patient's context from the shared record: the earlier ECG at the county hospital, side by side.
    page.wait_for_selector("#context .studies li")
    assert "cty01" in page.inner_text("#context .studies")
    page.click("#context .studies button.compare-button")
    page.wait_for_selector("#earlier .ecg-viewer")

    page.fill("#report [name=rhythm]", "窦性心动过速")
    page.fill("#report [name=rate]", "112")
    page.fill("#report [name=qtc_ms]", "430")
    page.click("#save-draft")
    page.wait_for_function("document.querySelector('#report-message').textContent.includes('草稿')")
    page.click("#sign")  # no conclusion yet: told what is missing
    page.wait_for_function("document.querySelector('#report-message').textContent.includes('conclusion')")
    page.fill("#report [name=conclusion]", "窦性心动过速，ST-T未见异常")
    page.click("#sign")
    page.wait_for_function("document.querySelector('#report-message').textContent.includes('已签发')")
    assert "v1 final" in page.inner_text("#versions")
    page.wait_for_selector(row, state="detached")  # the item left the worklist
    page.wait_for_function("document.querySelector('#figures').textContent.includes('7天报告 1')")
    page.screenshot(path=str(Path("/tmp") / "hub-reading.png"), full_page=True)

    report_id = "rdr-th01-sr-E1"
    wait_for(lambda: live_hub.api("GET", f"/fhir/DiagnosticReport/{report_id}").status_code == 200, 60)
    page.goto(f"{live_hub.url}/patient?id=th01-pat-1")
    page.wait_for_selector("#timeline tbody tr")
    page.wait_for_function("document.querySelector('#timeline').textContent.includes('窦性心动过速')")


def test_lapsed_lease_second_claimer_and_amendment(live_hub: LiveHub, page) -> None:
    publish(live_hub.settings, [order(number="E1"), arrival(uid="1.2.3.1", based_on="th01-sr-E1")])
    wait_for(lambda: _ready(live_hub), 60)
    other = page.context.browser.new_page()
    _use_token(page, live_hub, "reader")
    _use_token(other, live_hub, "reader2")
    row = f'#worklist tr[data-id="{ITEM}"]'
    page.wait_for_selector(row)
    page.click(f"{row} button.claim")
    page.wait_for_selector("#bench:not([hidden])")

    other.wait_for_selector(row)
    other.reload()
    other.wait_for_selector(f"{row} button.view")
    assert "reader-zhang" in other.inner_text(row)
    answer = live_hub.api("POST", f"/api/reading/items/{ITEM}/claim", "reader2")
    assert answer.status_code == 409 and "held by reader-zhang" in answer.json()["issue"][0]["diagnostics"]

    with live_hub.db.transaction() as session:  # reader-zhang's page was left: the lease runs out
        session.execute(update(ReadingItem).where(ReadingItem.id == ITEM)
                        .values(lease_until=utcnow() - timedelta(seconds=1)))
    assert Sweeper(live_hub.db, live_hub.app.state.reading_config).once().lapsed == 1
    other.reload()
    other.wait_for_selector(f"{row} button.claim")
    other.click(f"{row} button.claim")
    other.wait_for_function("document.querySelector('#lease').textContent.includes('已认领')")

    page.fill("#reassign-to", "reader-zhang")  # a reader may not take it back by reassigning
    page.click("#reassign button")
    page.wait_for_function("document.querySelector('#error').textContent.includes('reading_lead')")
    page.fill("#report [name=rhythm]", "窦性心律")
    page.fill("#report [name=rate]", "70")
    page.fill("#report [name=conclusion]", "正常心电图")
    page.click("#sign")  # too late: someone else holds it now
    page.wait_for_function("document.querySelector('#report-message').textContent.includes('reader-li')")

    other.fill("#report [name=rhythm]", "窦性心律")
    other.fill("#report [name=rate]", "70")
    other.fill("#report [name=conclusion]", "正常心电图")
    other.click("#sign")
    other.wait_for_function("document.querySelector('#report-message').textContent.includes('已签发')")
    other.wait_for_selector("#amend:not([hidden])")
    other.fill("#report [name=conclusion]", "窦性心律，T波低平")
    other.select_option("#report [name=critical]", "AA")
    other.click("#amend")  # no reason given
    other.wait_for_function("document.querySelector('#report-message').textContent.includes('reason')")
    other.fill("#report [name=reason]", "复阅后补充T波改变")
    other.click("#amend")
    other.wait_for_function("document.querySelector('#versions').textContent.includes('v2 amended')")
    assert "v1 final" in other.inner_text("#versions") and "危急值 AA" in other.inner_text("#versions")
    wait_for(lambda: live_hub.api("GET", "/fhir/DiagnosticReport/rdr-th01-sr-E1").json().get("status") == "amended", 60)
    other.close()


ECG_VIEWER = """window.HubEcgViewer = { mount(element, options) {
  element.dataset.leadsUrl = options.leadsUrl; element.dataset.lang = options.lang; element.textContent = "12-lead"; } };"""
MEASURED = {"observations": [
    {"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
     "valueQuantity": {"value": 71.6, "unit": "/min"}},
    {"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "8636-3"}]},
     "valueQuantity": {"value": 415, "unit": "ms"}}]}


def test_the_ecg_helpers_viewer_and_measurements_are_used_when_served(reading: Reading, served: str, page) -> None:
    """Once the ECG helper's part is merged, its viewer script and measurements are there: the page mounts
    the viewer on the waveform and starts the report from the automatic measurements."""
    app = reading.client.app
    app.router.routes.insert(0, Route("/static/ecg/ecg-viewer.js",
                                      lambda _r: Response(ECG_VIEWER, media_type="text/javascript")))
    app.router.routes.insert(0, Route("/api/ecg/studies/{study_id}", lambda _r: JSONResponse(MEASURED)))
    reading.feed([order(number="E1"), arrival(uid="1.2.3.1", based_on="th01-sr-E1")])
    page.goto(f"{served}/reading")
    page.fill("#token", reading.token("reader"))
    page.click("text=Use token")
    page.click(f'#worklist tr[data-id="{ITEM}"] button.claim')
    page.wait_for_selector("#viewer .ecg-viewer[data-leads-url]")
    assert page.get_attribute("#viewer .ecg-viewer", "data-leads-url") == "/api/blobs/" + "b" * 64
    assert page.get_attribute("#viewer .ecg-viewer", "data-lang") == "zh"
    page.wait_for_function("document.querySelector('#report [name=rate]').value === '72'")
    assert page.input_value("#report [name=qtc_ms]") == "415"
    assert "自动测量" in page.inner_text("#report-message")
    page.click("#language button[data-lang=en]")
    page.wait_for_selector("html[lang=en]")
    page.wait_for_selector(f'#worklist tr[data-id="{ITEM}"]')
    assert "ECG" in page.inner_text("#centres") and "Worklist" in page.inner_text("main")
    assert "Continue" in page.inner_text(f'#worklist tr[data-id="{ITEM}"]')  # the reader's own claim, in English
    page.wait_for_selector("#bench:not([hidden])")  # reopened after the reload, still renewing the claim
    assert "yours" in page.inner_text("#lease") and "Rhythm" in page.inner_text("#report")
    page.screenshot(path=str(Path("/tmp") / "hub-reading-en.png"), full_page=True)


def test_a_late_answer_about_the_item_left_never_reaches_the_item_opened(reading: Reading, served: str, page) -> None:
    """The reader opens one patient's ECG, then another's before the first one's context and measurements
    have arrived. When they do arrive they must not be shown beside, or filled into the report of, the
    second patient's recording."""
    first_study = "th01-img-1-2-3-1"  # the second item's study is th01-img-1-2-3-2
    app = reading.client.app
    app.router.routes.insert(0, Route("/static/ecg/ecg-viewer.js",
                                      lambda _r: Response(ECG_VIEWER, media_type="text/javascript")))
    app.router.routes.insert(0, Route("/api/ecg/studies/{study_id}", lambda r: JSONResponse(
        MEASURED if r.path_params["study_id"] == first_study else {"observations": []})))
    reading.feed([order(number="E1"), arrival(uid="1.2.3.1", based_on="th01-sr-E1"),
                  order(number="E2", local="2"), arrival(uid="1.2.3.2", local="2", based_on="th01-sr-E2")])
    held = []

    def hold_the_first_patients_answers(route) -> None:
        url = route.request.url
        if first_study in url or "Patient/th01-pat-1/" in url:
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/ecg/studies/*", hold_the_first_patients_answers)
    page.route("**/fhir/Patient/*/$everything*", hold_the_first_patients_answers)
    page.goto(f"{served}/reading")
    page.fill("#token", reading.token("reader"))
    page.click("text=Use token")
    page.click('#worklist tr[data-id="rd-th01-sr-E1"] button.claim')
    page.wait_for_function("document.querySelector('#bench-title').textContent.startsWith('rd-th01-sr-E1')")
    page.click('#worklist tr[data-id="rd-th01-sr-E2"] button.claim')
    page.wait_for_function("document.querySelector('#bench-title').textContent.startsWith('rd-th01-sr-E2')")
    page.wait_for_function("!document.querySelector('#context').textContent.includes('正在读取')")
    second_context = page.inner_text("#context")
    assert {r.request.url.split("/")[-1].split("?")[0] for r in held} == {first_study, "$everything"}

    first_patient = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
        "resourceType": "Patient", "id": "th01-pat-1", "name": [{"text": "第一位患者"}], "gender": "male"}}]}
    for route in held:
        if "$everything" in route.request.url:
            route.fulfill(json=first_patient)
        else:
            route.continue_()
    page.wait_for_timeout(700)  # time for the page to read and (wrongly) draw the late answers
    assert page.inner_text("#bench-title").startswith("rd-th01-sr-E2")
    assert "第一位患者" not in page.inner_text("#context") and page.inner_text("#context") == second_context
    assert page.input_value("#report [name=rate]") == ""
    assert page.input_value("#report [name=qtc_ms]") == ""
