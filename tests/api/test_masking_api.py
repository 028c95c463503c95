"""Masking works on what a value is: resident-ID- and phone-shaped values are masked for readers and
pharmacists wherever they stand in any resource the API returns (defect 7 of issue 8)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.api.conftest import Community, auth
from tests.consumers.test_recognition import AT, result_event, store
from tests.factories import patient_event

RESIDENT = "330122199206105328"
OLD_ID = "330122920610532"  # 15-digit ID of the same person
MOBILE = "13912345678"
LANDLINE = "0571-87654321"
# Every way the numbers appear below, and the bare digits: none may survive for masked roles.
SECRETS = (RESIDENT, OLD_ID, MOBILE, "139 1234 5678", "139-1234-5678", "87654321", "12345678")


@pytest.fixture
def leaky(community: Community) -> Community:
    """A member that files the numbers wherever its system puts them."""
    event = patient_event("th05", "31", name="陈美玲", resident_id=None, phone="0571 8765 4321")
    resource = event.resource
    resource["identifier"].append({"system": "urn:hub:facility:th05:id-card", "value": RESIDENT})
    resource["identifier"].append({"system": "urn:oid:2.16.156.10011.1.3.old", "value": OLD_ID})
    resource["telecom"] = [{"system": "other", "value": "+86 139-1234-5678"},
                           {"system": "phone", "value": LANDLINE}]
    resource["address"] = [{"text": f"浙江省杭州市 联系 139 1234 5678 身份证 {RESIDENT}"}]
    resource["text"] = {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">陈美玲 {RESIDENT}'
                                                      f" 电话 {MOBILE}</div>"}
    resource["contact"] = [{"telecom": [{"system": "email", "value": f"{MOBILE}@139.com"}]}]
    note = result_event("th05", "31", AT - timedelta(days=1), value=None)
    note.resource["valueString"] = f"家属电话{MOBILE}，身份证{RESIDENT}已核对"
    note.resource["id"] = "th05-obs-note"
    store(community.db, [event, note])
    return community


def _leaks(text: str) -> list[str]:
    digits = re.sub(r"\D", "", text)
    return [s for s in SECRETS if s in text or re.sub(r"\D", "", s) in digits and len(re.sub(r"\D", "", s)) >= 11]


READS = ["/fhir/Patient/th05-pat-31", "/fhir/Patient?_id=th05-pat-31", "/fhir/Observation/th05-obs-note",
         "/fhir/Observation?patient=th05-pat-31", "/fhir/Patient/th05-pat-31/$everything",
         "/api/patients/th05-pat-31/recognised-results?facility=cty01"]


@pytest.mark.parametrize("role", ["reader", "pharmacist"])
@pytest.mark.parametrize("url", READS)
def test_no_number_survives_for_masked_roles(leaky: Community, role: str, url: str) -> None:
    response = leaky.client.get(url, headers=auth(leaky.tokens[role]))
    if role == "pharmacist" and url.startswith("/api/patients"):
        assert response.status_code == 403  # recognised results are for clinicians and readers
        return
    assert response.status_code == 200, response.text
    assert _leaks(response.text) == [], response.text


def test_masked_values_keep_their_ends_and_clinicians_see_everything(leaky: Community) -> None:
    masked = leaky.client.get("/fhir/Patient/th05-pat-31", headers=auth(leaky.tokens["reader"])).json()
    assert "3301**********5328" in masked["identifier"][1]["value"]
    assert masked["telecom"][0]["value"] == "+86**********5678"
    assert masked["telecom"][1]["value"].endswith("4321") and "8765" not in masked["telecom"][1]["value"]
    assert masked["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">陈美玲 3301')
    plain = leaky.client.get("/fhir/Patient/th05-pat-31", headers=auth(leaky.tokens["clinician"])).text
    assert RESIDENT in plain and MOBILE in plain and OLD_ID in plain


def test_errors_that_quote_input_are_masked_too(leaky: Community) -> None:
    response = leaky.client.get(f"/fhir/Patient?identifier={RESIDENT}&bogus={MOBILE}",
                                headers=auth(leaky.tokens["reader"]))
    assert response.status_code == 400
    assert _leaks(response.text) == []


def test_patient_data_is_never_kept_by_a_browser_nor_served_to_another_credential(community: Community) -> None:
    """Masking depends on the credential: a browser that kept a reader's masked copy must not answer a
    clinician's request from it (a 304 to If-None-Match), nor keep it on a shared workstation's disk."""
    read = community.client.get(f"/fhir/Patient/{community.golden}", headers=auth(community.tokens["reader"]))
    assert read.headers["cache-control"] == "no-store, private"
    assert read.headers["vary"] == "Authorization, Cookie"
    assert read.headers["etag"].startswith('W/"')
    assert community.client.get("/fhir/metadata").headers.get("cache-control") != "no-store, private"
