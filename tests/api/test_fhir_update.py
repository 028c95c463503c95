"""FHIR REST ingest beyond create: `Prefer: return=...` on creates and Bundles, and `PUT` updates with
`If-Match` checked against the shared record's current version (412 when it moved on)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from consumers.record_store.writer import RecordWriter
from hub.app.api.app import create_app
from hub.core.outbox import Outbox
from hub.core.pipeline import Sink
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from tests.api.conftest import Community, auth
from tests.api.test_fhir_ingest import ENCOUNTER, PATIENT, events_in, transaction
from tests.factories import encounter_event

VISIT = {  # th01's visit 1 as the member sends it again, changed
    "resourceType": "Encounter", "id": "th01-enc-1", "status": "cancelled",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    "subject": {"reference": "Patient/th01-pat-1"},
}


@pytest.fixture
def door(community: Community, tmp_path: Path) -> Iterator[tuple[TestClient, Outbox]]:
    settings = community.client.app.state.settings
    outbox = Outbox(tmp_path / "fhir-rest.db", "fhir-rest")
    sink = Sink("fhir-rest", "hub", outbox, EventCodec(FileSchemaRegistry()), settings,
                facilities={"th01", "th02", "cty01"})
    with TestClient(create_app(settings, community.db, community.runtime, {"fhir_rest": sink})) as client:
        yield client, outbox


def test_prefer_return_shapes_the_answer_to_a_create(door, community: Community) -> None:
    client, outbox = door
    headers = auth(community.tokens["connector_th01"])
    minimal = client.post("/fhir/Patient", json=PATIENT, headers={**headers, "Prefer": "return=minimal"})
    assert minimal.status_code == 201 and minimal.content == b""
    assert minimal.headers["location"] == "/fhir/Patient/th01-pat-88001"
    other = {**copy.deepcopy(PATIENT), "identifier": [{"system": "urn:hub:facility:th01:mrn", "value": "88002"}]}
    told = client.post("/fhir/Patient", json=other, headers={**headers, "Prefer": "return=OperationOutcome"})
    assert told.status_code == 201 and told.json()["resourceType"] == "OperationOutcome"
    assert told.json()["issue"][0]["severity"] == "information" and "th01-pat-88002" in told.text
    full = client.post("/fhir/Patient", json=PATIENT, headers={**headers, "Prefer": "return=representation"})
    assert full.status_code == 200 and full.json()["id"] == "th01-pat-88001"  # a resend: the same resource
    assert len(events_in(outbox)) == 2


def test_prefer_return_shapes_bundle_entries(door, community: Community) -> None:
    client, _ = door
    headers = auth(community.tokens["connector_th01"])
    minimal = client.post("/fhir", json=transaction(PATIENT, ENCOUNTER), headers={**headers, "Prefer": "return=minimal"})
    assert minimal.status_code == 200
    assert [set(e) for e in minimal.json()["entry"]] == [{"response"}, {"response"}]
    assert minimal.json()["entry"][0]["response"]["location"] == "Patient/th01-pat-88001"
    told = client.post("/fhir", json=transaction(PATIENT, ENCOUNTER, kind="batch"),
                       headers={**headers, "Prefer": "return=OperationOutcome"})
    entries = told.json()["entry"]
    assert all("resource" not in e and e["response"]["outcome"]["resourceType"] == "OperationOutcome" for e in entries)
    full = client.post("/fhir", json=transaction(PATIENT, ENCOUNTER), headers=headers)
    assert [e["resource"]["resourceType"] for e in full.json()["entry"]] == ["Patient", "Encounter"]


def test_update_with_if_match_publishes_only_on_the_current_version(door, community: Community) -> None:
    client, outbox = door
    headers = auth(community.tokens["connector_th01"])
    stale = client.put("/fhir/Encounter/th01-enc-1", json=VISIT, headers={**headers, "If-Match": 'W/"2"'})
    assert stale.status_code == 412 and 'W/"1"' in stale.json()["issue"][0]["diagnostics"]
    assert outbox.count() == 0
    current = client.put("/fhir/Encounter/th01-enc-1", json=VISIT, headers={**headers, "If-Match": 'W/"1"'})
    assert current.status_code == 200 and current.json()["status"] == "cancelled"
    assert current.headers["location"] == "/fhir/Encounter/th01-enc-1"
    [event] = events_in(outbox)
    assert event.resource["id"] == "th01-enc-1" and event.patient_key == "th01/1"
    # The record store applies a newer version: the old tag no longer holds, the new one does.
    changed = encounter_event("th01", "1", visit=1, version=1)
    with community.db.transaction() as session:
        writer = RecordWriter(session)
        writer.apply(changed)
        writer.finish()
    assert client.put("/fhir/Encounter/th01-enc-1", json=VISIT, headers={**headers, "If-Match": 'W/"1"'}).status_code == 412
    minimal = client.put("/fhir/Encounter/th01-enc-1", json=VISIT,
                         headers={**headers, "If-Match": 'W/"2"', "Prefer": "return=minimal"})
    assert minimal.status_code == 200 and minimal.content == b""


@pytest.mark.parametrize("path, body, extra, status, expression", [
    ("/fhir/Encounter/th01-enc-1", {**VISIT, "id": "th01-enc-9"}, {}, 400, "Encounter.id"),
    ("/fhir/Encounter/th01-enc-1", {k: v for k, v in VISIT.items() if k != "id"}, {}, 400, "Encounter.id"),
    ("/fhir/Encounter/th01-enc-1", {**VISIT, "resourceType": "Observation"}, {}, 400, "Encounter.resourceType"),
    ("/fhir/Encounter/th01-enc-1", VISIT, {"If-Match": "yesterday"}, 400, "If-Match"),
    ("/fhir/Encounter/th01-enc-77", {**VISIT, "id": "th01-enc-77"}, {"If-Match": 'W/"1"'}, 412, "If-Match"),
    ("/fhir/Encounter/th02-enc-3", {**VISIT, "id": "th02-enc-3"}, {}, 403, "Encounter.id"),  # another member's
    ("/fhir/Encounter/visit-77", {**VISIT, "id": "visit-77"}, {}, 400, "Encounter.id"),  # not a th01 id
    ("/fhir/Patient/th01-pat-5", {**PATIENT, "id": "th01-pat-5"}, {}, 400, "Patient.id"),  # record number 88001
])
def test_update_refuses_clearly_and_publishes_nothing(door, community: Community, path: str, body: dict,
                                                      extra: dict, status: int, expression: str) -> None:
    client, outbox = door
    response = client.put(path, json=body, headers={**auth(community.tokens["connector_th01"]), **extra})
    assert response.status_code == status, response.text
    assert response.json()["issue"][0]["expression"] == [expression]
    assert outbox.count() == 0


def test_update_of_a_new_own_id_creates(door, community: Community) -> None:
    client, outbox = door
    headers = auth(community.tokens["connector_th01"])
    created = client.put("/fhir/Patient/th01-pat-88001", json={**PATIENT, "id": "th01-pat-88001"}, headers=headers)
    assert created.status_code == 201 and created.json()["id"] == "th01-pat-88001"
    assert client.put("/fhir/Encounter/th01-enc-1", json=VISIT, headers=auth(community.tokens["reader"])).status_code == 403
    assert [e.resource["id"] for e in events_in(outbox)] == ["th01-pat-88001"]


def _put(resource: dict, if_match: str | None = None) -> dict:
    request = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    if if_match:
        request["ifMatch"] = if_match
    return {"resource": resource, "request": request}


def test_bundle_updates_check_if_match_per_entry(door, community: Community) -> None:
    client, outbox = door
    headers = auth(community.tokens["connector_th01"])
    stale = {"resourceType": "Bundle", "type": "transaction", "entry": [
        _put(VISIT, 'W/"1"'), _put({**VISIT, "id": "th01-enc-88"}), _put({**VISIT, "id": "th01-enc-2"}, 'W/"1"')]}
    refused = client.post("/fhir", json=stale, headers=headers)
    assert refused.status_code == 412  # th01-enc-2 is not stored: nothing of the transaction is published
    assert refused.json()["issue"][0]["expression"] == ["Bundle.entry[2].request.ifMatch"]
    assert outbox.count() == 0
    stale["entry"].pop()
    done = client.post("/fhir", json=stale, headers=headers)
    assert done.status_code == 200
    assert [e["response"]["status"] for e in done.json()["entry"]] == ["200 OK", "201 Created"]
    assert sorted(e.resource["id"] for e in events_in(outbox)) == ["th01-enc-1", "th01-enc-88"]
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        _put(VISIT, 'W/"5"'), _put({**VISIT, "id": "th02-enc-3"}), {**_put(VISIT), "request": {"method": "PUT", "url": "Encounter"}},
        _put({**VISIT, "id": "th01-enc-89"})]}
    answered = client.post("/fhir", json=batch, headers={**headers, "Prefer": "return=minimal"})
    assert [e["response"]["status"] for e in answered.json()["entry"]] == ["412", "403", "400", "201 Created"]
    assert "resource" not in answered.json()["entry"][3]
    delete = {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": VISIT, "request": {"method": "DELETE"}}]}
    assert client.post("/fhir", json=delete, headers=headers).json()["entry"][0]["response"]["status"] == "400"
