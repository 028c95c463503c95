"""FHIR REST ingest routes referrals (and the Tasks answering them) to the referral topic."""

from __future__ import annotations

from collections.abc import Iterator
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
from tests.api.test_fhir_ingest import transaction

REFERRAL = {
    "resourceType": "ServiceRequest",
    "identifier": [{"system": "urn:hub:facility:th01:referral", "value": "ZZ-2026-0001"}],
    "status": "active",
    "intent": "order",
    "category": [
        {"coding": [{"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}]}
    ],
    "code": {"text": "上转县人民医院心内科"},
    "subject": {"reference": "Patient/th01-pat-1"},
    "performer": [{"reference": "Organization/cty01"}],
    "authoredOn": "2026-11-20T09:00:00+08:00",
}
ECG_READ = {
    "resourceType": "ServiceRequest",
    "identifier": [{"system": "urn:hub:facility:th01:ecg", "value": "E-77"}],
    "status": "active",
    "intent": "order",
    "code": {"coding": [{"system": "http://loinc.org", "code": "11524-6"}]},
    "subject": {"reference": "Patient/th01-pat-1"},
}


@pytest.fixture
def ingest(community: Community, tmp_path: Path) -> Iterator[tuple[TestClient, Outbox]]:
    settings = community.client.app.state.settings
    outbox = Outbox(tmp_path / "fhir-rest.db", "fhir-rest")
    sink = Sink(
        "fhir-rest", "hub", outbox, EventCodec(FileSchemaRegistry()), settings, facilities={"th01", "cty01"}
    )
    app = create_app(settings, community.db, community.runtime, {"fhir_rest": sink})
    with TestClient(app) as client:
        yield client, outbox


def published(outbox: Outbox) -> list[tuple[str, str, str]]:
    """(topic, event type, resource type) of every event in the outbox but dead letters."""
    codec = EventCodec(FileSchemaRegistry())
    records = [r.record for r in outbox.pending(1000) if r.record.topic != DEAD_LETTER.name]
    return [(r.topic, (e := codec.decode(r.value)).event_type, e.resource_type) for r in records]


def test_a_referral_lands_on_the_referral_topic(ingest, community: Community) -> None:
    client, outbox = ingest
    headers = auth(community.tokens["connector_th01"])
    assert client.post("/fhir/ServiceRequest", json=REFERRAL, headers=headers).status_code == 201
    assert client.post("/fhir/ServiceRequest", json=ECG_READ, headers=headers).status_code == 201
    assert published(outbox) == [
        ("hub.referral.v1", "referral", "ServiceRequest"),
        ("hub.imaging-request.v1", "imaging_request", "ServiceRequest"),
    ]


def test_a_task_answering_a_referral_follows_it(ingest, community: Community) -> None:
    client, outbox = ingest
    task = {
        "resourceType": "Task",
        "status": "accepted",
        "intent": "order",
        "focus": {"reference": "urn:uuid:00000000-0000-0000-0000-000000000000"},
        "for": {"reference": "Patient/th01-pat-1"},
    }
    response = client.post(
        "/fhir", json=transaction(REFERRAL, task), headers=auth(community.tokens["connector_th01"])
    )
    assert response.status_code == 200, response.text
    assert [kind for _, kind, _ in published(outbox)] == ["referral", "referral"]
    task_id = response.json()["entry"][1]["resource"]["id"]
    assert task_id.startswith("th01-task-")
    assert response.json()["entry"][1]["resource"]["focus"]["reference"].startswith("ServiceRequest/th01-sr-")


def test_a_task_about_something_else_is_refused(ingest, community: Community) -> None:
    client, outbox = ingest
    task = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "for": {"reference": "Patient/th01-pat-1"},
    }
    response = client.post("/fhir/Task", json=task, headers=auth(community.tokens["connector_th01"]))
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Task.focus"]
    assert outbox.count() == 0
