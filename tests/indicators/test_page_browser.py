"""The indicators page in a real browser (Debian chromium): figures with definitions, what is missing, the
records behind a figure, charts over months, the insurance upload with per-row errors. No request leaves
127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest

from hub.app.api import accounts
from tests.indicators.conftest import Month
from tests.indicators.factories import SETTLEMENTS

pytestmark = pytest.mark.browser


def test_the_page_shows_figures_records_charts_and_the_import(month: Month, served_month: str, page,
                                                              tmp_path: Path) -> None:
    outside: list[str] = []

    def only_here(route) -> None:
        if urlparse(route.request.url).hostname != "127.0.0.1":
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", only_here)
    page.context.add_cookies([{"name": "hub_lang", "value": "en", "url": served_month}])
    page.goto(f"{served_month}/indicators?month=2026-10")
    page.fill("#token", month.tokens["manager"])
    page.click("text=Use token")
    page.wait_for_selector("body[data-loaded='2026-10/county']")
    figures = page.inner_text("#figures tbody")
    assert "Visits at primary level\t91.7%\t11 / 12" in figures
    assert "no medical insurance settlement data imported for 2026-10" in figures
    assert "Hypertension patients under standard management\t50.0%\t1 / 2" in figures
    assert "Remote read turnaround (median)\t1.8 h" in figures
    assert "Numerator: Prescription lines of the month whose drug is a national" in figures
    # The charts are drawn by the vendored Chart.js, over the 12 months up to October.
    page.wait_for_selector("body[data-charted='2026-10']")
    assert page.evaluate("Chart.getChart('chart-rates').data.labels.length") == 12
    assert page.evaluate("Chart.getChart('chart-rates').data.datasets.find(d => d.label.startsWith('Type 2')).data") \
        == [None] * 9 + [0, 0, 50]

    # The records behind a figure, masked like every read of a manager.
    page.click("#figures tr[data-key='results_recognised'] button")
    page.wait_for_function("document.querySelector('#records-total').textContent === '(6)'")
    records = page.inner_text("#records tbody")
    assert "repeated: th01-obs-g2" in records and records.count("not repeated") == 5
    assert "export.csv?month=2026-10" in (page.get_attribute("#export", "href") or "")

    # Insurance data: a bad file is refused with every bad row; a good one makes 县域内就诊率 a number.
    bad = tmp_path / "bad.csv"
    bad.write_text("settlement_id,settled_on,visit_type,hospital\nYB1,2026-10-01,outpatient,\nYB2,2026-10-02,x,某院\n",
                   encoding="utf-8")
    page.set_input_files("#upload-file", str(bad))
    page.click("#upload button")
    page.wait_for_selector("#upload-errors:not([hidden])")
    assert page.inner_text("#upload-errors").splitlines() == [
        "line 2, column hospital: is empty; every row needs it",
        "line 3, column visit_type: 'x' is not outpatient or inpatient (门诊, 住院)"]
    good = tmp_path / "yb-2026-10.csv"
    good.write_text(SETTLEMENTS, encoding="utf-8")
    page.set_input_files("#upload-file", str(good))
    page.click("#upload button")
    page.wait_for_function("document.querySelector('#upload-result').textContent.startsWith('Imported 3')")
    page.wait_for_function("document.querySelector('#imported tbody').textContent.includes('yb-2026-10.csv')")
    page.wait_for_function("document.querySelector('#figures tbody').innerText.includes('80.0%\\t12 / 15')")
    page.click("#figures tr[data-key='in_county_visits'] button")
    page.wait_for_function("document.querySelector('#records-total').textContent === '(15)'")
    records = page.inner_text("#records tbody")
    assert "省人民医院" in records and "110101198001011232" not in records and "1101**********1232" in records

    # One member: county-wide figures say so.
    page.select_option("#member", "th01")
    page.click("#choice button")
    page.wait_for_selector("body[data-loaded='2026-10/th01']")
    assert "a county-wide indicator: choose the whole county" in page.inner_text("#figures tbody")
    page.screenshot(path=str(Path("/tmp") / "hub-indicators.png"), full_page=True)
    assert outside == []


def test_a_manager_logged_in_imports_with_the_session(month: Month, served_month: str, page, tmp_path: Path) -> None:
    with month.db.transaction() as session:
        accounts.create_user(session, "mgr-zhou", "correct horse battery", "manager", None)
    page.goto(f"{served_month}/login?next=/indicators%3Fmonth%3D2026-10")
    page.fill("#username", "mgr-zhou")
    page.fill("#password", "correct horse battery")
    page.click("#login")
    page.wait_for_selector("body[data-loaded='2026-10/county']")
    assert "尚未导入医保结算数据" in page.inner_text("#figures tbody")  # Chinese by default
    good = tmp_path / "yb.csv"
    good.write_text(SETTLEMENTS, encoding="utf-8")
    page.set_input_files("#upload-file", str(good))
    page.click("#upload button")
    page.wait_for_function("document.querySelector('#upload-result').textContent.startsWith('已导入 3')")
    page.wait_for_function("document.querySelector('#figures tbody').innerText.includes('80.0%\\t12 / 15')")


def test_a_late_answer_for_an_earlier_choice_does_not_replace_the_records_shown(month: Month, served_month: str,
                                                                                 page) -> None:
    # A reload re-asks for the records on show; if the reader picks another figure meanwhile, the earlier
    # figure's answer may arrive last. The page must keep showing what the reader chose.
    held = []

    def hold_first_answer(route) -> None:
        if "key=results_recognised" in route.request.url and not held:
            held.append(route)  # answered below, after the reader's later choice has been drawn
        else:
            route.continue_()

    page.context.add_cookies([{"name": "hub_lang", "value": "en", "url": served_month}])
    page.goto(f"{served_month}/indicators?month=2026-10")
    page.fill("#token", month.tokens["manager"])
    page.click("text=Use token")
    page.wait_for_selector("body[data-loaded='2026-10/county']")
    page.route("**/api/indicators/records?*", hold_first_answer)
    page.click("#figures tr[data-key='results_recognised'] button")
    page.click("#figures tr[data-key='primary_visits'] button")
    page.wait_for_function("document.querySelector('#records-total').textContent === '(12)'")
    assert len(held) == 1, "the first choice's request was not held back"
    with page.expect_response(lambda r: "key=results_recognised" in r.url):
        held[0].continue_()
    page.wait_for_timeout(500)  # time for the page to read and (wrongly) draw the late answer
    assert page.inner_text("#records-total") == "(12)"
    assert page.inner_text("#records-title") == "Visits at primary level"
    assert page.get_attribute("#figures tr.chosen", "data-key") == "primary_visits"
