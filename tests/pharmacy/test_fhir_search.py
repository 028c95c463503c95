"""The FHIR searches the pharmacy owns, across members through the patient index, and the ones it hands on."""

from __future__ import annotations

from consumers.record_store.writer import RecordWriter
from tests.api.conftest import Community, auth
from tests.pharmacy.factories import (
    IBUPROFEN,
    METFORMIN,
    WARFARIN,
    allergy,
    apply,
    bound_consumer,
    coded,
    prescription,
)

SEEDED = (
    prescription("9", coded(WARFARIN), facility="cty01", local_id="A77", dose=2.5, unit="mg", per_day=1),
    prescription("8", coded(METFORMIN), facility="cty01", local_id="A77", status="stopped"),
    prescription("2", coded(IBUPROFEN), dose=0.3, per_day=2),
)


def seed(community: Community, settings) -> None:
    apply(bound_consumer(settings, community.db), community.db, *SEEDED[:2],
          allergy("1", "J01C", "青霉素类", facility="cty01", local_id="A77"), SEEDED[2])


def ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"]]


def test_active_medication_requests_across_members(community: Community, settings) -> None:
    """The county-wide list as FHIR is the shared record's search: `patient` finds the whole person."""
    seed(community, settings)
    with community.db.transaction() as session:  # the record store reads the same prescription topic
        writer = RecordWriter(session)
        for event in SEEDED:
            writer.apply(event)
        writer.finish()
    headers = auth(community.tokens["pharmacist"])
    for patient in (community.golden, "th01-pat-1", "Patient/cty01-pat-A77"):
        bundle = community.client.get(f"/fhir/MedicationRequest?patient={patient}&status=active", headers=headers).json()
        found = set(ids(bundle))
        assert {"cty01-rx-9", "th01-rx-2"} <= found and "cty01-rx-8" not in found, patient
    # A member's connector sees only its own.
    own = community.client.get("/fhir/MedicationRequest?patient=th01-pat-1&status=active",
                               headers=auth(community.tokens["connector_th01"])).json()
    assert ids(own) == ["th01-rx-2"]


def test_detected_issues_allergies_and_the_queue(community: Community, settings) -> None:
    seed(community, settings)
    headers = auth(community.tokens["pharmacist"])
    issues = community.client.get(f"/fhir/DetectedIssue?patient={community.golden}", headers=headers).json()
    assert issues["total"] == 1 and issues["entry"][0]["resource"]["code"]["text"] == "interaction"
    allergies = community.client.get("/fhir/AllergyIntolerance?patient=th01-pat-1", headers=headers).json()
    assert ids(allergies) == ["cty01-alg-1"]
    tasks = community.client.get("/fhir/Task?code=prescription-review&status=ready", headers=headers).json()
    [task] = [e["resource"] for e in tasks["entry"]]
    assert task["for"]["reference"] == f"Patient/{community.golden}" and task["status"] == "ready"
    assert task["code"]["coding"][0] == {"system": "urn:hub:task", "code": "prescription-review",
                                         "display": "Prescription review"}
    # Other Task codes are still answered by the parts that own them.
    reading = community.client.get("/fhir/Task?code=ecg-read&status=ready", headers=headers)
    assert reading.status_code == 200 and reading.json()["total"] == 0
    shared = community.client.get("/fhir/Task?patient=th01-pat-1", headers=headers)
    assert shared.status_code == 200 and shared.json()["resourceType"] == "Bundle"
