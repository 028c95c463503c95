"""FHIR REST ingest: validation that names the element, transactions all or nothing, duplicates."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.app.api.app import create_app
from hub.core.outbox import Outbox
from hub.core.pipeline import Sink
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import DEAD_LETTER
from tests.api.conftest import Community, auth

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "urn:hub:facility:th01:mrn", "value": "88001"}],
    "name": [{"text": "刘德华", "family": "刘", "given": ["德华"]}],
    "gender": "male",
    "birthDate": "1961-09-27",
}


@pytest.fixture
def ingest(community: Community, tmp_path: Path):
    settings = community.client.app.state.settings
    outbox = Outbox(tmp_path / "fhir-rest.db", "fhir-rest")
    sink = Sink("fhir-rest", "hub", outbox, EventCodec(FileSchemaRegistry()), settings,
                facilities={"th01", "th02", "cty01"})
    app = create_app(settings, community.db, community.runtime, {"fhir_rest": sink})
    with TestClient(app) as client:
        yield client, outbox


def events_in(outbox: Outbox) -> list:
    codec = EventCodec(FileSchemaRegistry())
    return [codec.decode(r.record.value) for r in outbox.pending(1000) if r.record.topic != DEAD_LETTER.name]


def test_create_assigns_an_id_and_a_resend_is_a_duplicate(ingest, community: Community) -> None:
    client, outbox = ingest
    headers = auth(community.tokens["connector_th01"])
    first = client.post("/fhir/Patient", json=PATIENT, headers=headers)
    assert first.status_code == 201
    assert first.json()["id"] == "th01-pat-88001"
    assert first.headers["location"] == "/fhir/Patient/th01-pat-88001"
    again = client.post("/fhir/Patient", json=PATIENT, headers=headers)
    assert again.status_code == 200
    events = events_in(outbox)
    assert len(events) == 1 and events[0].patient_key == "th01/88001"
    assert events[0].resource["name"][0]["text"] == "刘德华"


@pytest.mark.parametrize(
    "change, status, expression",
    [
        ({"birthDate": "1961-13-45"}, 422, "Patient.birthDate"),
        ({"gender": 7}, 422, "Patient.gender"),
        ({"gender": "robot"}, 422, "Patient.gender"),
        ({"resourceType": "Encounter"}, 400, "Patient.resourceType"),
        ({"contained": [{"resourceType": "Spaceship", "id": "x"}]}, 422, "Patient.contained.0"),  # R4 has no such type
    ],
)
def test_invalid_resource_names_the_element(ingest, community: Community, change, status: int, expression: str) -> None:
    client, outbox = ingest
    body = {**copy.deepcopy(PATIENT), **change}
    response = client.post("/fhir/Patient", json=body, headers=auth(community.tokens["connector_th01"]))
    assert response.status_code == status
    issue = response.json()["issue"][0]
    assert issue["expression"] == [expression]
    assert outbox.count() == 0


def test_not_json_and_wrong_facility(ingest, community: Community) -> None:
    client, _ = ingest
    headers = {**auth(community.tokens["connector_th01"]), "Content-Type": "application/fhir+json"}
    broken = client.post("/fhir/Patient", content=b'{"resourceType": "Patient",', headers=headers)
    assert broken.status_code == 400 and "not JSON" in broken.json()["issue"][0]["diagnostics"]
    gbk = client.post("/fhir/Patient", content='{"name": "王"}'.encode("gbk"), headers=headers)
    assert gbk.status_code == 400 and "UTF-8" in gbk.json()["issue"][0]["diagnostics"]
    other = client.post("/fhir/Patient", json=PATIENT, headers={**headers, "X-Hub-Facility": "th02"})
    assert other.status_code == 403
    reader = client.post("/fhir/Patient", json=PATIENT, headers=auth(community.tokens["reader"]))
    assert reader.status_code == 403


def transaction(*resources: dict, kind: str = "transaction") -> dict:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"fullUrl": f"urn:uuid:00000000-0000-0000-0000-00000000000{i}", "resource": r,
             "request": {"method": "POST", "url": r["resourceType"]}}
            for i, r in enumerate(resources)
        ],
    }


ENCOUNTER = {
    "resourceType": "Encounter",
    "identifier": [{"system": "urn:hub:facility:th01:visit", "value": "v-1"}],
    "status": "finished",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    "subject": {"reference": "urn:uuid:00000000-0000-0000-0000-000000000000"},
}


def test_transaction_resolves_internal_references(ingest, community: Community) -> None:
    client, outbox = ingest
    response = client.post("/fhir", json=transaction(PATIENT, ENCOUNTER), headers=auth(community.tokens["connector_th01"]))
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created", "201 Created"]
    encounter = next(e for e in events_in(outbox) if e.event_type == "encounter")
    assert encounter.resource["subject"] == {"reference": "Patient/th01-pat-88001"}
    assert encounter.patient_key == "th01/88001"


def test_transaction_is_all_or_nothing(ingest, community: Community) -> None:
    client, outbox = ingest
    bad = {k: v for k, v in ENCOUNTER.items() if k != "class"}  # Encounter.class is required
    response = client.post("/fhir", json=transaction(PATIENT, bad), headers=auth(community.tokens["connector_th01"]))
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.class"]
    assert outbox.count() == 0


def test_batch_answers_per_entry_and_keeps_the_bad_one(ingest, community: Community) -> None:
    client, outbox = ingest
    bad = {**ENCOUNTER, "status": "teleported"}
    response = client.post("/fhir", json=transaction(PATIENT, bad, kind="batch"),
                           headers=auth(community.tokens["connector_th01"]))
    assert response.status_code == 200
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses == ["201 Created", "422"]
    topics = [r.record.topic for r in outbox.pending(10)]
    assert topics.count(DEAD_LETTER.name) == 1 and len(topics) == 2


def test_conditional_create_finds_the_stored_resource(ingest, community: Community) -> None:
    client, outbox = ingest
    headers = {**auth(community.tokens["connector_th01"]), "If-None-Exist": "identifier=urn:hub:facility:th01:mrn|1"}
    body = {**PATIENT, "identifier": [{"system": "urn:hub:facility:th01:mrn", "value": "1"}]}
    response = client.post("/fhir/Patient", json=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["location"] == "/fhir/Patient/th01-pat-1"
    assert outbox.count() == 0


def test_unknown_type_and_oversized_resource(ingest, community: Community) -> None:
    client, outbox = ingest
    headers = auth(community.tokens["connector_th01"])
    unknown = client.post("/fhir/Spaceship", json={"resourceType": "Spaceship"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["issue"][0]["expression"] == ["Spaceship.resourceType"]
    huge = {**PATIENT, "text": {"status": "generated", "div": "<div>" + "病" * 400_000 + "</div>"}}
    response = client.post("/fhir/Patient", json=huge, headers=headers)
    assert response.status_code == 413 and "limit" in response.json()["issue"][0]["diagnostics"]
    assert outbox.count() == 0


def test_sql_and_html_looking_text_is_stored_verbatim(ingest, community: Community) -> None:
    client, outbox = ingest
    body = {**PATIENT, "name": [{"text": "'); DROP TABLE fhir_resource;-- <script>alert(1)</script>"}]}
    assert client.post("/fhir/Patient", json=body, headers=auth(community.tokens["connector_th01"])).status_code == 201
    assert events_in(outbox)[0].resource["name"][0]["text"] == body["name"][0]["text"]
