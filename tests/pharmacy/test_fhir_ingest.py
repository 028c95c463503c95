"""FHIR REST ingest takes AllergyIntolerance and MedicationDispense onto their topics."""

from __future__ import annotations

from tests.api.conftest import Community, auth
from tests.api.test_referral_ingest import ingest, published  # noqa: F401 - the fixture is used by name

ALLERGY = {
    "resourceType": "AllergyIntolerance",
    "identifier": [{"system": "urn:hub:facility:th01:allergy", "value": "A-1"}],
    "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                   "code": "active"}]},
    "code": {"coding": [{"system": "http://www.whocc.no/atc", "code": "J01C"}], "text": "青霉素类"},
    "patient": {"reference": "Patient/th01-pat-1"},
}
DISPENSE = {
    "resourceType": "MedicationDispense",
    "identifier": [{"system": "urn:hub:facility:th01:dispense", "value": "D-1"}],
    "status": "completed",
    "medicationCodeableConcept": {"coding": [{"system": "urn:hub:code:community-drug", "code": "D0015"}]},
    "subject": {"reference": "Patient/th01-pat-1"},
    "whenHandedOver": "2026-11-20T09:00:00+08:00",
}


def test_allergies_and_dispenses_are_accepted(ingest, community: Community) -> None:  # noqa: F811
    client, outbox = ingest
    headers = auth(community.tokens["connector_th01"])
    for resource in (ALLERGY, DISPENSE):
        answer = client.post(f"/fhir/{resource['resourceType']}", json=resource, headers=headers)
        assert answer.status_code == 201, answer.text
    assert published(outbox) == [("hub.allergy.v1", "allergy", "AllergyIntolerance"),
                                 ("hub.dispense.v1", "dispense", "MedicationDispense")]
    other = dict(ALLERGY, patient={"reference": "Patient/cty01-pat-A77"})
    assert client.post("/fhir/AllergyIntolerance", json=other, headers=headers).status_code == 403
