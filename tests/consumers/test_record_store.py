"""The record store applies a whole batch in one transaction, whatever the batch holds."""

from __future__ import annotations

import json
from dataclasses import replace

from sqlalchemy import event, func, select

from consumers.record_store.consumer import RecordStoreConsumer
from consumers.record_store.models import LinkHistory, PatientLink, StoredResource
from hub.core.consumer import Delivery
from hub.core.db import Database
from tests.factories import encounter_event, patient_event


def deliveries(events) -> list[Delivery]:
    return [Delivery("t", 0, i, None, None, (), 0, e) for i, e in enumerate(events)]


def test_one_batch_with_repeats_and_shared_identifiers(db: Database) -> None:
    rid = "110101199003074573"
    first = encounter_event("th01", "1", visit=1)
    later = replace(encounter_event("th01", "1", visit=1, version=5), event_id="enc-v5")
    later.resource["status"] = "cancelled"
    batch = [
        patient_event("th01", "1", resident_id=rid),
        patient_event("vc03", "77", resident_id=rid),  # same person, new at both members, same batch
        patient_event("cty01", "A9", resident_id=rid),
        first,
        later,  # the same encounter twice in one batch
        replace(patient_event("th01", "1", resident_id=rid, version=3, phone="13900000000"), event_id="pat-v3"),
    ]
    with db.transaction() as session:
        RecordStoreConsumer().apply_batch(session, deliveries(batch))
    with db.sessions() as session:
        links = session.execute(select(PatientLink.patient_key, PatientLink.community_patient_id)).all()
        encounter = session.get(StoredResource, ("Encounter", "th01-enc-1"))
        golden_count = session.scalar(select(func.count()).where(StoredResource.golden.is_(True)))
        golden = session.scalar(select(StoredResource).where(StoredResource.golden.is_(True)))
    assert len({cp for _, cp in links}) == 1 and len(links) == 3
    assert golden_count == 1
    assert json.loads(encounter.content)["status"] == "cancelled" and encounter.version_id == 2
    telecoms = [t["value"] for t in json.loads(golden.content)["telecom"]]
    assert telecoms[0] == "13900000000"  # the newest source record's phone comes first


def test_a_batch_loads_the_rows_it_touches_in_bulk_not_one_by_one(db: Database) -> None:
    """Prefetched rows must outlive the prefetch (the identity map holds them weakly): on PostgreSQL a
    query per resource cost the record store most of its time under the demo's load."""
    patients = [patient_event("th01", str(i), resident_id=None) for i in range(40)]
    encounters = [encounter_event("th01", str(i), visit=i) for i in range(40)]
    with db.transaction() as session:
        RecordStoreConsumer().apply_batch(session, deliveries([*patients, *encounters]))
    updates = [replace(encounter_event("th01", str(i), visit=i, version=2), event_id=f"u{i}") for i in range(40)]
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        with db.transaction() as session:
            RecordStoreConsumer().apply_batch(session, deliveries(updates))
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM fhir_resource" in s]
    assert len(reads) <= 5, f"{len(reads)} reads of fhir_resource for 40 updates: {reads[:3]}"


def test_a_batch_of_new_patients_costs_a_few_statements_not_one_per_event(db: Database) -> None:
    """Every new member record writes a link-history row: written one INSERT each, 100 new patients
    cost SQLite over 100 statements; the batch's rows go in one executemany per table instead."""
    batch = [e for i in range(100) for e in (patient_event("th01", str(i), resident_id=None),
                                             encounter_event("th01", str(i), visit=i))]
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        with db.transaction() as session:
            RecordStoreConsumer().apply_batch(session, deliveries(batch))
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    history = [s for s in statements if "INSERT INTO mpi_link_history" in s]
    assert len(history) == 1, f"{len(history)} statements for the link history of 100 new patients"
    assert len(statements) <= 40, f"{len(statements)} statements for a batch of 200 events"
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PatientLink)) == 100
        actions = session.scalars(select(LinkHistory.patient_key).order_by(LinkHistory.id)).all()
    assert actions == [f"th01/{i}" for i in range(100)]  # in the order the batch linked them
