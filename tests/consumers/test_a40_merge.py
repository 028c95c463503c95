"""HL7 A40 end to end: messages over a real MLLP socket, the listener's events applied by the
record store; the merged-away record joins the survivor's community and keeps its data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from consumers.record_store import queries
from consumers.record_store.consumer import RecordStoreConsumer
from consumers.record_store.links import LinkEditor
from consumers.record_store.models import LinkHistory, MatchReview, PatientLink, StoredResource
from consumers.record_store.writer import RecordWriter
from hub.core.consumer import Delivery
from hub.core.db import Database
from tests.connectors.test_mllp import PID, PV1, Listener, a01, msa, msh


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    running = Listener(tmp_path)
    yield running
    running.close()


def deliver(db: Database, events: list) -> None:
    with db.transaction() as session:
        RecordStoreConsumer().apply_batch(session, [Delivery("t", 0, i, None, None, (), 0, e) for i, e in enumerate(events)])


def community(db: Database, key: str) -> str:
    with db.sessions() as session:
        return session.get(PatientLink, key).community_patient_id


def test_a40_merges_and_unmerge_restores(listener: Listener, db: Database) -> None:
    # The same woman registered twice: no ID card the second time, a homophone, a birth year typo.
    duplicate = PID.replace("~330122199206105328^^^^NI", "").replace("000123", "000099")
    duplicate = duplicate.replace("王^秀英", "王^秀音").replace("19920610", "19930610").replace("V0001", "V0002")
    assert msa(listener.send(a01("M1")))[1] == "AA"
    assert msa(listener.send(a01("M2", duplicate)))[1] == "AA"
    deliver(db, listener.events())
    survivor, merged = community(db, "th01/000123"), community(db, "th01/000099")
    assert survivor != merged  # typed differently enough that the index asked a person instead
    with db.sessions() as session:
        (review,) = session.scalars(select(MatchReview)).all()
    assert review.patient_key == "th01/000099" and review.status == "requested"

    a40 = "\r".join([msh("ADT^A40^ADT_A39", "M3"), "EVN|A40|20261123083000", PID, "MRG|000099^^^TH01^MR"])
    assert msa(listener.send(a40))[1] == "AA"
    deliver(db, listener.events()[-1:])
    assert community(db, "th01/000099") == survivor
    with db.sessions() as session:
        retired = json.loads(session.get(StoredResource, ("Patient", "th01-pat-000099")).content)
        rows, _ = queries.everything(session, survivor, 0, 100)
        (merge,) = session.scalars(select(LinkHistory).where(LinkHistory.action == "a40-merge")).all()
        old_golden = json.loads(session.get(StoredResource, ("Patient", merged)).content)
    assert retired["active"] is False
    assert {"other": {"reference": "Patient/th01-pat-000123"}, "type": "replaced-by"} in retired["link"]
    ids = {r.id for r in rows}
    assert {"th01-pat-000123", "th01-pat-000099"} <= ids  # both source records, nothing dropped
    assert sum(1 for r in rows if r.resource_type == "Encounter") == 2
    assert old_golden["active"] is False and merge.actor == "th01 (HL7 A40)"
    with db.sessions() as session:
        assert session.get(MatchReview, review.id).status == "cancelled"  # the member settled it

    with db.transaction() as session:
        writer = RecordWriter(session)
        LinkEditor(writer, "registrar").unmerge(merge.operation_id, "merged in error")
        writer.finish()
    assert community(db, "th01/000099") == merged


def test_a40_for_an_unknown_record_is_kept_in_the_history(listener: Listener, db: Database) -> None:
    a40 = "\r".join([msh("ADT^A40^ADT_A39", "M9"), "EVN|A40|20261123083000", PID, "MRG|000777^^^TH01^MR"])
    assert msa(listener.send(a40))[1] == "AA"
    deliver(db, listener.events())
    with db.sessions() as session:
        (row,) = session.scalars(select(LinkHistory).where(LinkHistory.action == "a40-merge")).all()
    assert row.source_patient_id == "th01-pat-000777" and "not known" in row.detail
    assert PV1  # the A01 fixture's visit segment is what gives the encounters above
