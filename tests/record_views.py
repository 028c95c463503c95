"""Events from a door into the shared record, as the record store consumer applies them, and the
check that a stored resource reaches every view of the patient it names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi.testclient import TestClient

from consumers.record_store.consumer import RecordStoreConsumer
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.events import Event
from hub.core.fhir_fields import patient_reference
from hub.core.outbox import Outbox
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import DEAD_LETTER, spec_for

CODEC = EventCodec(FileSchemaRegistry())


def published(outbox: Outbox) -> list[Event]:
    """The events a door wrote to its outbox (not its dead letters), decoded from their Avro bytes."""
    return [CODEC.decode(r.record.value) for r in outbox.pending(100_000) if r.record.topic != DEAD_LETTER.name]


def dead_letters(outbox: Outbox) -> list[Any]:
    return [r.record for r in outbox.pending(100_000) if r.record.topic == DEAD_LETTER.name]


def apply(db: Database, events: Iterable[Event]) -> None:
    """One consumer batch of the record store, in one transaction, as `hub run` applies it."""
    deliveries = [
        Delivery(spec_for(e.event_type).name, 0, i, e.patient_key.encode(), None, (), 0, e) for i, e in enumerate(events)
    ]
    with db.transaction() as session:
        RecordStoreConsumer().apply_batch(session, deliveries)


def apply_patients_last(db: Database, events: list[Event]) -> None:
    """Patients after everything else, in a later batch: topics are consumed in no fixed order."""
    apply(db, [e for e in events if e.event_type != "patient"])
    apply(db, [e for e in events if e.event_type == "patient"])


def resources(events: Iterable[Event]) -> list[dict[str, Any]]:
    return [r for e in events for r in (e.resource, *e.related)]


def assert_in_every_view(client: TestClient, headers: dict[str, str], resource: dict[str, Any]) -> None:
    """Readable by id; found by `patient=` search on the Patient it names; in that Patient's
    `$everything` (and, for a Patient, in its own)."""
    rtype, rid = resource["resourceType"], resource["id"]
    read = client.get(f"/fhir/{rtype}/{rid}", headers=headers)
    assert read.status_code == 200, f"{rtype}/{rid} is not stored: {read.text}"
    patient = rid if rtype == "Patient" else patient_reference(resource)
    assert patient, f"{rtype}/{rid} names no patient"
    if rtype != "Patient":
        found = client.get(f"/fhir/{rtype}", params={"patient": patient, "_count": 500}, headers=headers)
        assert found.status_code == 200, found.text
        ids = {e["resource"]["id"] for e in found.json().get("entry", [])}
        assert rid in ids, f"{rtype}/{rid} is not found by {rtype}?patient={patient}"
    everything = client.get(f"/fhir/Patient/{patient}/$everything", params={"_count": 500}, headers=headers)
    assert everything.status_code == 200, f"Patient/{patient}/$everything: {everything.text}"
    held = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in everything.json().get("entry", [])}
    assert (rtype, rid) in held, f"{rtype}/{rid} is not in Patient/{patient}/$everything"
