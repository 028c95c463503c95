"""Lab results and readers' reports through the real broker become notices: a row, an audit trail and a
`notice` event on hub.notice.v1 (read back with the codec); redelivered or amended-but-same results
notify nobody again."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import func, select

from consumers.critical_values.models import CriticalNotice, CriticalUnchecked
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.db.models import AuditLog, ProcessedEvent, ResultOutboxRow
from hub.core.errors import PermanentError
from hub.core.events import utcnow
from hub.core.outbox import Outbox, OutboxRelay
from hub.core.results import ResultOutbox
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import spec_for
from tests.critical_values.factories import (
    Clock,
    apply,
    bound_consumer,
    lab_event,
    observation,
    potassium,
    reader_report,
    results_outbox,
    sodium,
)
from tests.hub.test_consuming import count, publish, runner_for, running
from tests.hub.test_outbox import read_all
from tests.waiting import wait_for

pytestmark = pytest.mark.broker


def relay_results(results: ResultOutbox, settings: HubSettings) -> None:
    relay = OutboxRelay(results, settings)
    relay.check_epoch(force=True)
    while results.backlog():
        relay.publish_pending()
    relay.close()


def notices(db: Database) -> list[CriticalNotice]:
    with db.sessions() as session:
        return list(session.scalars(select(CriticalNotice).order_by(CriticalNotice.raised_at)))


def outbox_rows(db: Database) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ResultOutboxRow)) or 0)


def test_a_critical_lab_value_becomes_a_notice_on_the_notice_topic(broker_settings: HubSettings, db: Database) -> None:
    clock = Clock(utcnow())
    consumer = bound_consumer(broker_settings, db, clock)
    lab = lab_event([potassium(7.2), sodium(140)])
    glucose_in_g = observation("th01", "1", "g", ("http://loinc.org", "2345-7", "葡萄糖"), 3.1, "g/L")
    normal = lab_event([potassium(4.1, local_id="2", n="k2"), glucose_in_g], local_id="2", report="2")
    publish(broker_settings, [lab, normal])
    with running(runner_for(consumer, broker_settings, db)):
        wait_for(lambda: count(db, CriticalNotice) == 1 and count(db, CriticalUnchecked) == 1)
    (row,) = notices(db)
    assert (row.facility_id, row.patient_key, row.patient_id, row.source) == ("th01", "th01/1", "th01-pat-1", "lab_rule")
    assert (row.status, row.level, row.version, row.ack_s) == ("open", 0, 1, 600)
    assert (row.due_at - row.raised_at).total_seconds() == 600 and row.raised_at == clock.now
    assert row.about == "DiagnosticReport/th01-dr-1" and "血钾 7.2 mmol/L" in row.summary and "钠" not in row.summary

    results = results_outbox(broker_settings, db)
    relay_results(results, broker_settings)
    codec = EventCodec(FileSchemaRegistry(), broker_settings.topic_prefix)
    (message,) = read_all(broker_settings, spec_for("notice").topic(broker_settings), 1)
    notice = codec.decode(message.value)
    assert message.key == b"th01/1" and notice.event_type == "notice" and notice.patient_key == "th01/1"
    assert (notice.source.facility_id, notice.source.system, notice.source.position) == ("th01", "critical_values", row.id)
    communication = notice.resource
    assert communication["resourceType"] == "Communication" and communication["id"] == row.id
    assert (communication["status"], communication["priority"]) == ("in-progress", "stat")
    assert communication["category"][0]["coding"][0]["code"] == "alert"
    assert communication["subject"] == {"reference": "Patient/th01-pat-1"}
    assert {"reference": "Observation/th01-obs-k1"} in communication["about"]
    assert {"reference": "DiagnosticReport/th01-dr-1"} in communication["about"]
    text = communication["payload"][0]["contentString"]
    assert text.startswith("【危急值】血钾 7.2 mmol/L（参考范围 3.5–5.5 mmol/L），高于危急值上限 6.5 mmol/L")
    assert "10 分钟" in text and communication["sent"]
    (critical,) = [r for r in notice.related if r["resourceType"] == "Observation"]
    assert critical["id"] == "th01-obs-k1" and critical["interpretation"][0]["coding"][0]["code"] == "HH"

    with db.sessions() as session:
        steps = [(a.action, a.actor, a.facility_id, a.resource_id) for a in
                 session.scalars(select(AuditLog).order_by(AuditLog.id))]
        unchecked = session.scalars(select(CriticalUnchecked)).one()
    assert steps == [("critical_raised", "critical_values", "th01", row.id),
                     ("critical_queued", "critical_values", "th01", row.id)]
    assert (unchecked.analyte, unchecked.unit, unchecked.facility_id) == ("glucose", "g/L", "th01")


def test_redelivered_and_amended_results_do_not_notify_twice(broker_settings: HubSettings, db: Database) -> None:
    clock = Clock(utcnow())
    consumer = bound_consumer(broker_settings, db, clock)
    publish(broker_settings, [lab_event([potassium(7.2)])])
    with running(runner_for(consumer, broker_settings, db)):
        wait_for(lambda: count(db, CriticalNotice) == 1)
        # The connector's outbox sent again (a replay, a broker that restarted): the same event ids.
        outbox = Outbox(broker_settings.outbox_path("th01-his"), "th01-his")
        assert outbox.mark_for_replay() == 1
        relay = OutboxRelay(outbox, broker_settings)
        while outbox.backlog():
            relay.publish_pending()
        relay.close()
        # The same report amended (a new event) with the same critical value, and the lab's copy of it.
        amended = lab_event([potassium(7.2)], version=1, status="amended")
        publish(broker_settings, [amended])
        wait_for(lambda: _processed(db) == 2)
        assert [r.version for r in notices(db)] == [1] and outbox_rows(db) == 1
        # Amended again with a changed critical value: the notice is raised again, as version 2.
        clock.advance(120)
        publish(broker_settings, [lab_event([potassium(7.9)], version=2, status="amended")])
        wait_for(lambda: notices(db)[0].version == 2)
    (row,) = notices(db)
    assert "7.9 mmol/L" in row.summary and row.raised_at == clock.now and outbox_rows(db) == 2
    relay_results(results_outbox(broker_settings, db), broker_settings)
    codec = EventCodec(FileSchemaRegistry(), broker_settings.topic_prefix)
    events = [codec.decode(m.value) for m in read_all(broker_settings, spec_for("notice").topic(broker_settings), 2)]
    assert [e.resource["meta"]["versionId"] for e in events] == ["1", "2"]
    assert len({e.event_id for e in events}) == 2 and {e.resource["id"] for e in events} == {row.id}


def _processed(db: Database) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ProcessedEvent)
                                  .where(ProcessedEvent.consumer == "critical_values")) or 0)


def test_a_readers_critical_finding_becomes_a_notice(broker_settings: HubSettings, db: Database) -> None:
    clock = Clock(utcnow())
    consumer = bound_consumer(broker_settings, db, clock)
    results = results_outbox(broker_settings, db)
    # The reading part signs its report into the results outbox; the relay publishes it.
    with db.transaction() as session:
        results.add(session, [reader_report(), reader_report(report="r2", local_id="2", flag="H"),
                              reader_report(report="r3", local_id="3", flag=None, critical_extension=True)], "reading")
    relay_results(results, broker_settings)
    with running(runner_for(consumer, broker_settings, db)):
        wait_for(lambda: count(db, CriticalNotice) == 2)
    by_report = {row.about: row for row in notices(db)}
    assert set(by_report) == {"DiagnosticReport/rd-r1", "DiagnosticReport/rd-r3"}
    hh = by_report["DiagnosticReport/rd-r1"]
    assert (hh.source, hh.patient_key) == ("reader", "th01/1") and "QTc 612 ms" in hh.summary
    assert "阅片/诊断医师标记为危急偏高 (HH)" in hh.summary
    only_flag = by_report["DiagnosticReport/rd-r3"]
    assert "QTc 显著延长" in only_flag.summary and json.loads(only_flag.related)[0]["resourceType"] == "DiagnosticReport"


def test_events_of_another_shape_are_refused_clearly(settings: HubSettings, db: Database) -> None:
    consumer = bound_consumer(settings, db, Clock(utcnow()))
    wrong = dataclasses.replace(lab_event([potassium(7.2)]), resource={"resourceType": "Patient", "id": "x"})
    with pytest.raises(PermanentError, match="reads DiagnosticReport and Observation, not Patient"):
        apply(consumer, db, wrong)
