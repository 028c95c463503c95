"""The patient page in a real browser (Debian chromium driven by Playwright)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.api.conftest import Community
from tests.consumers.test_recognition import AT, DCM, RESIDENT, result_event, store
from tests.factories import encounter_event, patient_event

pytestmark = pytest.mark.browser
MARKUP = "<img src=x onerror=alert(1)>快速血糖"


@pytest.fixture
def record(community: Community) -> Community:
    """The fixture's person, also seen at a village clinic, with results of every kind and a long history."""
    store(
        community.db,
        [
            patient_event("vc01", "5", name="王秀英", resident_id=RESIDENT, phone="13812345678"),
            result_event("vc01", "5", AT - timedelta(days=1), display=MARKUP, value=8.1),
            result_event(
                "th01",
                "1",
                AT - timedelta(hours=2),
                rtype="DiagnosticReport",
                code=("http://loinc.org", "58410-2"),
                display="血常规",
                status="preliminary",
            ),
            result_event("th02", "9", AT - timedelta(days=1)),  # another person's result
            result_event(
                "th01",
                "1",
                AT - timedelta(days=100),
                rtype="ImagingStudy",
                code=(DCM, "CT"),
                display="胸部CT",
                status="available",
            ),
            *(encounter_event("th01", "1", visit=10 + i) for i in range(15)),
        ],
    )
    return community


def test_patient_page_shows_recognised_results_and_timeline_masked_for_a_reader(
    record: Community, served: str, page
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{served}/patient?id=th01-pat-1&at=2026-11-23T12:00:00%2B08:00")
    page.wait_for_selector("#error:not([hidden])")
    assert "Paste a bearer token" in page.text_content("#error")

    page.fill("#token", record.tokens["reader"])
    page.click("text=Use token")  # the id from the address opens at once
    page.wait_for_selector("#recognised tbody tr td")
    assert page.text_content("#p-id") == record.golden  # a member's record leads to the community patient
    assert page.text_content("#p-name") == "王秀英"
    assert page.text_content("#p-resident-id") == "1101**********4573"
    assert sorted(page.text_content("#p-phone").split(", ")) == ["138****5678", "139****1111"]
    sources = page.inner_text("#sources tbody")
    assert all(s in sources for s in ("th01-pat-1", "cty01-pat-A77", "vc01-pat-5", "vc01"))
    assert "110101199003074573" not in page.content() and "13812345678" not in page.content()

    summary = page.text_content("#recognised-summary")
    assert "5 results of other members, 3 recognised" in summary and "cty01" in summary
    rows = page.query_selector_all("#recognised tbody tr")
    texts = [row.inner_text() for row in rows]
    assert "血常规" in texts[0] and "结果未终审" in texts[0] and "not recognised" in texts[0]
    th01 = next(t for t in texts if "7.2 mmol/L" in t)
    assert "✓ 互认 recognised" in th01 and "7.2 mmol/L" in th01 and "2026-11-27 09:00" in th01
    village = next(t for t in texts if "vc01" in t)
    assert MARKUP in village and "机构不在互认名单" in village  # shown as text, not run
    assert "胸部CT" in texts[-1] and "2027-02-11 12:00" in texts[-1]  # CT: 180 days

    # $everything's first page of 20 starts with the community patient and its 3 source records.
    timeline = page.query_selector_all("#timeline tbody tr")
    assert len(timeline) == 16 and page.is_visible("#more")
    assert "就诊 · Encounter\t高血压\tth01" in page.inner_text("#timeline tbody")
    page.click("#more")
    page.wait_for_function("document.querySelectorAll('#timeline tbody tr').length > 16")
    assert len(page.query_selector_all("#timeline tbody tr")) == 23  # 17 visits, 5 results, 1 prescription
    assert page.is_hidden("#more")
    assert "showing 23 of 23" in page.text_content("#timeline-count")
    everything = page.inner_text("#timeline tbody")
    assert "检验 · Observation\t葡萄糖 7.2 mmol/L\tth01" in everything and "胸部CT" in everything
    assert "2026-11-23 10:00\t报告 · Report\t血常规\tth01" in everything  # China time
    page.screenshot(path=str(Path("/tmp") / "hub-patient.png"), full_page=True)

    page.click("#forget")
    page.fill("#token", record.tokens["clinician"])
    page.click("text=Use token")
    page.wait_for_function("document.querySelector('#p-resident-id').textContent === '110101199003074573'")
    assert sorted(page.text_content("#p-phone").split(", ")) == ["13812345678", "13900001111"]  # unmasked
    assert dialogs == []


def test_patient_page_says_when_a_patient_is_unknown(community: Community, served: str, page) -> None:
    page.goto(f"{served}/patient")
    page.fill("#token", community.tokens["clinician"])
    page.click("text=Use token")
    page.fill("#patient-id", "th09-pat-404")
    page.click("text=打开 · Open")
    page.wait_for_function("document.querySelector('#error').textContent.includes('is not known')")
    assert page.is_hidden("#content")
    assert "id=th09-pat-404" in page.url
