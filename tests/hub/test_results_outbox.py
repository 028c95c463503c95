"""The hub's own events (reports, notices): committed with the change they report, published by the
results relay to the real broker, never twice in the outbox, and never half-written."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.db.models import ResultOutboxRow
from hub.core.errors import PermanentError
from hub.core.events import Event, Source, deterministic_event_id
from hub.core.outbox import OutboxRelay
from hub.core.results import ResultOutbox
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import spec_for
from tests.hub.test_outbox import read_all
from tests.waiting import wait_for


def report_event(version: int = 1, conclusion: str = "窦性心律，正常心电图") -> Event:
    report = {
        "resourceType": "DiagnosticReport",
        "id": f"rd-1-v{version}",
        "status": "final" if version == 1 else "amended",
        "code": {"coding": [{"system": "http://loinc.org", "code": "11524-6", "display": "EKG study"}]},
        "subject": {"reference": "Patient/th01-pat-1"},
        "conclusion": conclusion,
    }
    return Event(
        event_id=deterministic_event_id("th01", "reading", "report:rd-1", str(version)),
        event_type="diagnostic_report",
        source=Source("th01", "reading", f"rd-1/{version}"),
        occurred_at=datetime.now(UTC),
        recorded_at=datetime.now(UTC),
        patient_key="th01/1",
        resource=report,
    )


def _outbox(settings: HubSettings, db: Database) -> ResultOutbox:
    return ResultOutbox(db, EventCodec(FileSchemaRegistry(), settings.topic_prefix), settings)


def _rows(db: Database) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(ResultOutboxRow)) or 0)


def test_events_commit_with_the_change_and_are_added_once(settings: HubSettings, db: Database) -> None:
    results = _outbox(settings, db)
    with pytest.raises(RuntimeError), db.transaction() as session:
        results.add(session, [report_event()], "reading")
        raise RuntimeError("the signing failed after the event was added")
    assert _rows(db) == 0  # rolled back with the change it reported

    with db.transaction() as session:
        assert results.add(session, [report_event()], "reading") == [report_event().event_id]
    with db.transaction() as session:  # signed twice, or a redelivered event: not added again
        assert results.add(session, [report_event(), report_event()], "reading") == []
    assert _rows(db) == 1 and results.backlog() == 1


def test_a_result_that_could_not_be_published_fails_the_transaction(settings: HubSettings, db: Database) -> None:
    results = _outbox(settings, db)
    broken = dataclasses.replace(report_event(), resource={**report_event().resource, "status": "signed-ish"})
    with pytest.raises(PermanentError, match="status"), db.transaction() as session:
        results.add(session, [broken], "reading")
    assert _rows(db) == 0


@pytest.mark.broker
def test_the_relay_publishes_in_order_and_wakes_on_commit(broker_settings: HubSettings, db: Database) -> None:
    results = _outbox(broker_settings, db)
    relay = OutboxRelay(results, broker_settings)
    results.on_added(relay.wake)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop, 30.0), daemon=True)  # idle 30 s: only a wake sends
    thread.start()
    try:
        wait_for(lambda: relay.broker_up or results.backlog() == 0, 30)
        with db.transaction() as session:
            results.add(session, [report_event(1), report_event(2, "窦性心动过缓")], "reading")
        wait_for(lambda: results.backlog() == 0, 30)
    finally:
        stop.set()
        relay.wake()
        thread.join(10)
    codec = EventCodec(FileSchemaRegistry(), broker_settings.topic_prefix)
    messages = read_all(broker_settings, spec_for("diagnostic_report").topic(broker_settings), 2)
    events = [codec.decode(m.value) for m in messages]
    assert [e.resource["conclusion"] for e in events] == ["窦性心律，正常心电图", "窦性心动过缓"]
    assert {m.key for m in messages} == {b"th01/1"}
    assert dict(messages[0].headers)["hub.producer"] == b"reading"


def test_a_lost_broker_makes_published_results_pending_again(settings: HubSettings, db: Database) -> None:
    results = _outbox(settings, db)
    with db.transaction() as session:
        results.add(session, [report_event(1), report_event(2)], "reading")
    pending = results.pending(10)
    results.mark_published([row.seq for row in pending])
    assert results.backlog() == 0
    assert results.mark_for_replay() == 2 and [r.record.event_id for r in results.pending(10)] == [
        r.record.event_id for r in pending
    ]
    results.set_meta("broker_epoch", "a")
    results.set_meta("broker_epoch", "b")
    assert results.get_meta("broker_epoch") == "b"
