"""An unacknowledged notice escalates: sent again to the member (level 1, 第2次通知), then the county duty
doctors are called (level 2); each step once, and a restarted worker repeats none. Driven by a fake clock."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import yaml
from prometheus_client import REGISTRY
from sqlalchemy import select

from consumers.critical_values.escalation import Escalator, run
from consumers.critical_values.models import CriticalNotice
from consumers.critical_values.notices import Acknowledgement, acknowledge
from consumers.critical_values.rules import DEFAULT_RULES
from hub.app import parts as registered
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.db.models import AuditLog, ResultOutboxRow
from hub.core.events import utcnow
from hub.core.parts import PartContext
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from tests.critical_values.factories import (
    Clock,
    apply,
    bound_consumer,
    lab_event,
    potassium,
    results_outbox,
    sodium,
)
from tests.waiting import wait_for


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _row(db: Database, notice: str) -> CriticalNotice:
    with db.sessions() as session:
        row = session.get(CriticalNotice, notice)
        assert row is not None
        return row


def test_an_unacknowledged_critical_value_escalates_to_level_1_then_2(settings: HubSettings, db: Database) -> None:
    clock = Clock(utcnow())
    consumer = bound_consumer(settings, db, clock)
    apply(consumer, db, lab_event([potassium(7.2)]))
    assert consumer.desk is not None
    escalator = Escalator(db, consumer.desk, clock)
    notice = _row_by_patient(db, "th01/1").id
    before = (_metric("hub_critical_escalations_total", level="1"), _metric("hub_critical_escalations_total", level="2"))

    clock.advance(599)
    assert escalator.run_once() == []  # still within its 10 minutes
    assert _metric("hub_critical_notices_open", level="0") == 1
    clock.advance(1)
    assert escalator.run_once() == [(notice, 1)]
    row = _row(db, notice)
    assert (row.level, row.version, row.level1_at, row.status) == (1, 2, clock.now, "open")
    assert (row.due_at - clock.now).total_seconds() == 600  # level2_after_s: null, so the same 600 s
    assert escalator.run_once() == []  # each step once
    # The member is told again: a new version of the same Communication, on the results outbox.
    codec = EventCodec(FileSchemaRegistry(), settings.topic_prefix)
    with db.sessions() as session:
        sent = [codec.decode(v) for v in session.scalars(select(ResultOutboxRow.value).order_by(ResultOutboxRow.seq))]
    assert [e.resource["meta"]["versionId"] for e in sent] == ["1", "2"]
    again = sent[1].resource
    assert again["id"] == notice and again["priority"] == "stat" and again["status"] == "in-progress"
    assert again["payload"][0]["contentString"].startswith("【危急值·第2次通知】血钾 7.2 mmol/L")
    assert {"url": "urn:hub:notice:attempt", "valueInteger": 2} in again["extension"]
    assert sent[1].event_id != sent[0].event_id and sent[1].patient_key == "th01/1"

    clock.advance(599)
    assert escalator.run_once() == []
    clock.advance(1)
    assert escalator.run_once() == [(notice, 2)]
    row = _row(db, notice)
    assert row.level == 2 and row.level2_at == clock.now and row.status == "open"
    assert [d["name"] for d in json.loads(row.escalated_to or "[]")] == ["县医院医务科总值班", "县医院急诊科值班医师"]
    assert _metric("hub_critical_notices_open", level="2") == 1

    # Durable across restarts: a new worker (a restarted hub) finds nothing left to do, however late.
    clock.advance(86400)
    assert Escalator(db, consumer.desk, clock).run_once() == []
    assert _row(db, notice).version == 2
    after = (_metric("hub_critical_escalations_total", level="1"), _metric("hub_critical_escalations_total", level="2"))
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    with db.sessions() as session:
        steps = [(a.action, a.query) for a in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert [action for action, _ in steps] == ["critical_raised", "critical_queued", "critical_escalated",
                                               "critical_queued", "critical_escalated"]
    assert "level 1" in (steps[2][1] or "") and "第2次通知" in (steps[2][1] or "")
    assert "level 2" in (steps[4][1] or "") and "县医院医务科总值班" in (steps[4][1] or "")


def test_an_acknowledged_notice_never_escalates(settings: HubSettings, db: Database) -> None:
    clock = Clock(utcnow())
    consumer = bound_consumer(settings, db, clock)
    apply(consumer, db, lab_event([potassium(1.9)]))
    assert consumer.desk is not None
    notice = _row_by_patient(db, "th01/1").id
    clock.advance(300)
    with db.transaction() as session:
        row = session.get(CriticalNotice, notice)
        assert row is not None
        acknowledge(session, consumer.desk, row, Acknowledgement("李娜", "护士", "已通知值班医师，复查血钾", "th01-his",
                                                                 "connector", "th01"), clock.now)
    clock.advance(7200)
    assert Escalator(db, consumer.desk, clock).run_once() == []
    assert _row(db, notice).level == 0


def test_a_rule_with_its_own_time_sets_the_clock(settings: HubSettings, db: Database) -> None:
    clock = Clock(utcnow())
    consumer = bound_consumer(settings.model_copy(update={"critical_ack_s": 900.0}), db, clock)
    ph = {**potassium(7.0), "code": {"coding": [{"system": "http://loinc.org", "code": "2744-1", "display": "pH"}]},
          "valueQuantity": {"value": 7.05, "unit": "[pH]", "code": "[pH]", "system": "http://unitsofmeasure.org"},
          "referenceRange": []}
    apply(consumer, db, lab_event([ph]), lab_event([potassium(7.0, local_id="2")], local_id="2", report="2"))
    assert _row_by_patient(db, "th01/1").ack_s == 300  # ph_arterial: ack_s 300 in rules.yaml
    assert _row_by_patient(db, "th01/2").ack_s == 900  # HUB_CRITICAL_ACK_S


def _row_by_patient(db: Database, key: str) -> CriticalNotice:
    with db.sessions() as session:
        return session.scalars(select(CriticalNotice).where(CriticalNotice.patient_key == key)).one()


def test_the_worker_the_hub_starts_takes_the_due_steps(settings: HubSettings, db: Database, tmp_path: Path) -> None:
    rules = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    rules["escalation"]["check_every_s"] = 0.2
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    settings = settings.model_copy(update={"critical_rules": tmp_path / "rules.yaml"})
    consumer = bound_consumer(settings, db, Clock(utcnow() - timedelta(seconds=601)))  # raised 10 minutes ago
    apply(consumer, db, lab_event([potassium(7.2)]))
    notice = _row_by_patient(db, "th01/1").id
    stop = threading.Event()
    context = PartContext(settings, db, registered.services(), results_outbox(settings, db))
    worker = threading.Thread(target=run, args=(context, stop), daemon=True)
    worker.start()
    try:
        wait_for(lambda: _row(db, notice).level == 1)
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive() and _row(db, notice).version == 2


def test_a_corrected_result_withdraws_the_open_notice(settings: HubSettings, db: Database) -> None:
    clock = Clock(utcnow())
    consumer = bound_consumer(settings, db, clock)
    apply(consumer, db, lab_event([potassium(7.2)]))
    notice = _row_by_patient(db, "th01/1").id
    # The laboratory finds the sample haemolysed and corrects the potassium: no critical value any more.
    clock.advance(120)
    apply(consumer, db, lab_event([potassium(4.4)], version=1, status="amended"))
    row = _row(db, notice)
    assert (row.status, row.version) == ("withdrawn", 2)
    codec = EventCodec(FileSchemaRegistry(), settings.topic_prefix)
    with db.sessions() as session:
        sent = [codec.decode(v) for v in session.scalars(select(ResultOutboxRow.value).order_by(ResultOutboxRow.seq))]
        actions = list(session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    withdrawal = sent[-1].resource
    assert withdrawal["status"] == "entered-in-error" and withdrawal["id"] == notice
    assert withdrawal["payload"][0]["contentString"].startswith("【危急值更正】此前的危急值通知（血钾 7.2 mmol/L")
    assert "已更正为 钾 4.4 mmol/L，不再是危急值，无需确认" in withdrawal["payload"][0]["contentString"]
    assert sent[-1].related[0]["valueQuantity"]["value"] == 4.4
    assert actions[-2:] == ["critical_withdrawn", "critical_queued"]
    clock.advance(3600)
    assert consumer.desk is not None and Escalator(db, consumer.desk, clock).run_once() == []  # nothing to chase
    # The critical value comes back in a later version: a notice again, whatever was sent before.
    apply(consumer, db, lab_event([potassium(7.2)], version=2, status="amended"))
    row = _row(db, notice)
    assert (row.status, row.version, row.level) == ("open", 3, 0)
    # Normal results of other reports touch nothing.
    apply(consumer, db, lab_event([potassium(4.0, local_id="2", n="k9")], local_id="2", report="9"))
    assert _row(db, notice).version == 3


def test_a_later_version_without_the_critical_value_in_it_withdraws_nothing(settings: HubSettings, db: Database) -> None:
    consumer = bound_consumer(settings, db, Clock(utcnow()))
    apply(consumer, db, lab_event([potassium(7.2)]))
    notice = _row_by_patient(db, "th01/1").id
    # The same report re-sent with only another test (a partial result) or the potassium without a value.
    apply(consumer, db, lab_event([sodium(140)], version=1, status="amended"),
          lab_event([{k: v for k, v in potassium(7.2).items() if k != "valueQuantity"}], version=2, status="amended"))
    assert _row(db, notice).status == "open"
    # The report entered in error: withdrawn.
    apply(consumer, db, lab_event([sodium(140)], version=3, status="entered-in-error"))
    assert _row(db, notice).status == "withdrawn"
