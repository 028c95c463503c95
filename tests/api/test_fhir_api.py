"""The FHIR read API on a real database: auth, reads, searches, $everything, masking, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.core.db.models import AuditLog, AuditPatient
from hub.core.identifiers import RESIDENT_ID
from hub.core.web.privacy import mask_middle, mask_resource
from tests.api.conftest import Community, auth


def test_no_token_is_401_with_operation_outcome(community: Community) -> None:
    response = community.client.get("/fhir/Patient")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == "login"


def test_bad_token_is_401(community: Community) -> None:
    response = community.client.get("/fhir/Patient", headers=auth("not-a-token"))
    assert response.status_code == 401
    assert "not valid" in response.json()["issue"][0]["diagnostics"]


def test_connector_token_reads_only_its_own_facility(community: Community) -> None:
    headers = auth(community.tokens["connector_th01"])
    assert community.client.get("/fhir/Encounter/th01-enc-1", headers=headers).status_code == 200
    other = community.client.get("/fhir/Encounter/th02-enc-3", headers=headers)
    assert other.status_code == 403 and other.json()["issue"][0]["code"] == "forbidden"
    listed = community.client.get("/fhir/Encounter", headers=headers).json()
    assert {e["resource"]["id"] for e in listed["entry"]} == {"th01-enc-1"}
    assert community.client.get(f"/fhir/Patient/{community.golden}/$everything", headers=headers).status_code == 403


def test_operator_routes_need_admin(community: Community) -> None:
    response = community.client.get("/api/status", headers=auth(community.tokens["clinician"]))
    assert response.status_code == 403
    assert community.client.get("/api/status", headers=auth(community.tokens["admin"])).status_code == 200


def test_read_by_id_with_etag_and_404(community: Community) -> None:
    headers = auth(community.tokens["clinician"])
    response = community.client.get("/fhir/Encounter/th01-enc-1", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert response.headers["etag"] == 'W/"1"'
    missing = community.client.get("/fhir/Encounter/nope", headers=headers)
    assert missing.status_code == 404 and missing.json()["issue"][0]["code"] == "not-found"
    unknown_type = community.client.get("/fhir/Spaceship/1", headers=headers)
    assert unknown_type.status_code == 404


def test_same_resident_id_links_two_members_to_one_golden_patient(community: Community) -> None:
    headers = auth(community.tokens["clinician"])
    golden = community.client.get(f"/fhir/Patient/{community.golden}", headers=headers).json()
    assert {link["other"]["reference"] for link in golden["link"]} == {"Patient/th01-pat-1", "Patient/cty01-pat-A77"}
    assert all(link["type"] == "seealso" for link in golden["link"])
    source = community.client.get("/fhir/Patient/cty01-pat-A77", headers=headers).json()
    assert source["link"] == [{"other": {"reference": f"Patient/{community.golden}"}, "type": "refer"}]


def test_everything_holds_the_whole_community_record(community: Community) -> None:
    headers = auth(community.tokens["clinician"])
    for start in (community.golden, "th01-pat-1", "cty01-pat-A77"):
        bundle = community.client.get(f"/fhir/Patient/{start}/$everything", headers=headers).json()
        ids = [e["resource"]["id"] for e in bundle["entry"]]
        assert ids[0] == community.golden
        assert set(ids) == {community.golden, "th01-pat-1", "cty01-pat-A77", "th01-enc-1", "cty01-enc-2",
                            "th01-dr-1", "th01-obs-1", "cty01-rx-1"}
        assert bundle["total"] == 8
    page = community.client.get(f"/fhir/Patient/{community.golden}/$everything?_count=3", headers=headers).json()
    assert len(page["entry"]) == 3
    next_url = next(link["url"] for link in page["link"] if link["relation"] == "next")
    rest = community.client.get(next_url.replace("http://testserver", ""), headers=headers).json()
    assert len(rest["entry"]) == 3 and rest["entry"][0]["resource"]["id"] not in {
        e["resource"]["id"] for e in page["entry"]
    }


@pytest.mark.parametrize(
    "query, expected",
    [
        ("patient=th01-pat-1", {"th01-enc-1", "cty01-enc-2"}),  # a source id reaches the whole person
        ("patient=Patient/cty01-pat-A77", {"th01-enc-1", "cty01-enc-2"}),
        # Dates without an offset are China Standard Time: visit 1 is 2026-11-24 08:00 +08:00.
        ("date=ge2026-11-25", {"cty01-enc-2", "th02-enc-3"}),
        ("date=lt2026-11-25", {"th01-enc-1"}),
        ("date=2026-11-26", {"th02-enc-3"}),
        ("date=2026-11", {"th01-enc-1", "cty01-enc-2", "th02-enc-3"}),
        ("code=http://hl7.org/fhir/sid/icd-10|I10", {"th01-enc-1", "cty01-enc-2", "th02-enc-3"}),
        ("code=E11.9", set()),
        ("status=finished", {"th01-enc-1", "cty01-enc-2", "th02-enc-3"}),
        ("status=cancelled", set()),
        ("_id=th02-enc-3", {"th02-enc-3"}),
        ("_lastUpdated=gt2000-01-01", {"th01-enc-1", "cty01-enc-2", "th02-enc-3"}),
        ("_lastUpdated=lt2000-01-01", set()),
    ],
)
def test_encounter_search(community: Community, query: str, expected: set[str]) -> None:
    bundle = community.client.get(f"/fhir/Encounter?{query}", headers=auth(community.tokens["clinician"])).json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    assert {e["resource"]["id"] for e in bundle["entry"]} == expected
    assert bundle["total"] == len(expected)


def test_identifier_and_code_search_on_other_types(community: Community) -> None:
    headers = auth(community.tokens["clinician"])
    by_id = community.client.get(f"/fhir/Patient?identifier={RESIDENT_ID}|110101199003074573", headers=headers).json()
    assert {e["resource"]["id"] for e in by_id["entry"]} == {"th01-pat-1", "cty01-pat-A77", community.golden}
    golden_only = community.client.get("/fhir/Patient?_tag=urn:hub:tag|golden", headers=headers).json()
    assert all(e["resource"]["id"].startswith("cp-") for e in golden_only["entry"]) and golden_only["total"] == 2
    obs = community.client.get("/fhir/Observation?code=http://loinc.org|2345-7&patient=cty01-pat-A77", headers=headers)
    assert [e["resource"]["id"] for e in obs.json()["entry"]] == ["th01-obs-1"]


def test_paging_links(community: Community) -> None:
    headers = auth(community.tokens["clinician"])
    first = community.client.get("/fhir/Encounter?_count=2", headers=headers).json()
    assert first["total"] == 3 and len(first["entry"]) == 2
    relations = {link["relation"] for link in first["link"]}
    assert relations == {"self", "first", "next"}
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = community.client.get(next_url.replace("http://testserver", ""), headers=headers).json()
    assert len(second["entry"]) == 1 and {link["relation"] for link in second["link"]} == {"self", "first"}


@pytest.mark.parametrize("query, param", [("colour=red", "colour"), ("date=yesterday", "date"), ("_count=-1", "_count")])
def test_bad_search_is_400_naming_the_parameter(community: Community, query: str, param: str) -> None:
    response = community.client.get(f"/fhir/Encounter?{query}", headers=auth(community.tokens["clinician"]))
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == [param]


def test_masking_depends_on_role(community: Community) -> None:
    clinician = community.client.get("/fhir/Patient/th01-pat-1", headers=auth(community.tokens["clinician"])).json()
    reader = community.client.get("/fhir/Patient/th01-pat-1", headers=auth(community.tokens["reader"])).json()
    resident = [i["value"] for i in reader["identifier"] if i["system"] == RESIDENT_ID]
    assert resident == ["1101**********4573"]
    assert reader["telecom"][0]["value"] == "138****5678"
    assert [i["value"] for i in clinician["identifier"] if i["system"] == RESIDENT_ID] == ["110101199003074573"]
    assert clinician["telecom"][0]["value"] == "13812345678"


def test_mask_functions() -> None:
    assert mask_middle("13812345678", 3, 4) == "138****5678"
    assert mask_middle("123", 3, 4) == "***"
    patient = {"resourceType": "Patient", "identifier": [{"system": RESIDENT_ID, "value": "110101199003074573"}]}
    masked = mask_resource(patient)
    assert masked["identifier"][0]["value"] == "1101**********4573"
    assert patient["identifier"][0]["value"] == "110101199003074573"  # the original is untouched
    encounter = {"resourceType": "Encounter", "id": "x"}
    assert mask_resource(encounter) == encounter
    # A study whose id's digest holds a mobile's digits by chance (found by CI): the reader's link stays.
    study = {"resourceType": "ImagingStudy", "id": "th01-img-19067716577eea29",
             "subject": {"reference": "Patient/cp-13912345678a0b1c2d3e"}}
    assert mask_resource(study) == study


def test_reads_are_audited(community: Community) -> None:
    headers = auth(community.tokens["reader"])
    community.client.get("/fhir/Patient/th01-pat-1", headers=headers)
    community.client.get(f"/fhir/Patient/{community.golden}/$everything", headers=headers)
    community.client.get("/fhir/Observation?patient=th01-pat-1", headers=headers)
    with community.db.sessions() as session:
        rows = session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        patients = [set(session.scalars(select(AuditPatient.patient_id).where(AuditPatient.audit_uid == r.uid)))
                    for r in rows]
    assert [(r.actor, r.action, r.patient_id) for r in rows] == [
        ("reader-zhang", "read", "th01-pat-1"),
        ("reader-zhang", "patient_everything", community.golden),
        ("reader-zhang", "search", "th01-pat-1"),
    ]
    assert all(r.role == "reader" and r.facility_id == "cty01" and r.client == "testclient" for r in rows)
    # Every patient whose data came back: the golden record and both member records of the person.
    assert patients == [{"th01-pat-1"}, {community.golden, "th01-pat-1", "cty01-pat-A77"}, {"th01-pat-1"}]
