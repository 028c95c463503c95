"""The whole way back to the member: results published on the real broker, the delivery consumer
queues them, the sender carries them to a real MLLP listener and a real FHIR endpoint. A result that
cannot be written as a message goes to the hub's dead letters with the reason."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from consumers.dead_letters.consumer import DeadLetterStore
from consumers.delivery.consumer import DeliveryConsumer
from consumers.delivery.models import ACKNOWLEDGED
from consumers.delivery.sender import run_senders
from hub.core import kafka_io
from hub.core.config import HubSettings
from hub.core.consuming import ConsumerRunner
from hub.core.db import Database
from hub.core.db.models import DeadLetter, ProcessedEvent
from hub.core.events import Event
from hub.core.parts import PartContext
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.services import Services
from hub.core.topics import spec_for
from tests.delivery.factories import notice_event, report_event
from tests.delivery.harness import QUICK, fhir, member_config, messages, mllp
from tests.delivery.members import FhirMember, MllpMember, field_of
from tests.waiting import wait_for

pytestmark = pytest.mark.broker


def publish(settings: HubSettings, events: list[Event]) -> None:
    """As the hub's producers publish results: Avro with the codec, keyed by the patient key."""
    kafka_io.ensure_topics(settings)
    codec = EventCodec(FileSchemaRegistry(), settings.topic_prefix)
    producer = kafka_io.producer(settings)
    try:
        for event in events:
            producer.send(spec_for(event.event_type).topic(settings), key=event.patient_key.encode(),
                          value=codec.encode(event)).get(10)
    finally:
        producer.close()


@contextmanager
def hub_running(settings: HubSettings, db: Database, context: PartContext) -> Iterator[None]:
    stop = threading.Event()
    consumer = DeliveryConsumer(settings)
    consumer.bind(context)
    codec = EventCodec(FileSchemaRegistry(), settings.topic_prefix)
    threads = [
        threading.Thread(target=ConsumerRunner(consumer, settings, db, codec).run, args=(stop,), daemon=True),
        threading.Thread(target=ConsumerRunner(DeadLetterStore(), settings, db, codec).run, args=(stop,), daemon=True),
        threading.Thread(target=run_senders, args=(context, stop, QUICK), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(20)


def applied(db: Database) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ProcessedEvent)
                                  .where(ProcessedEvent.consumer == "delivery")) or 0)


def test_reports_and_notices_reach_the_member_that_ordered_them(broker_settings: HubSettings, db: Database) -> None:
    township = MllpMember(charset="gb18030").start()
    fhir_member = FhirMember().start()
    configs = (member_config("th01", mllp(township.port, "GB18030")), member_config("th02", fhir(fhir_member.url)))
    context = PartContext(broker_settings, db, Services(), connector_configs=configs)
    reports = [report_event("th01", "1", n) for n in (1, 2, 3)]
    unwritable = report_event("th01", "5", 9)
    del unwritable.resource["code"]
    events = [*reports, notice_event("th01", "1", 4), report_event("th02", "9", 1),
              report_event("th03", "7", 1),  # th03 names no destination: counted, not queued
              unwritable]
    try:
        publish(broker_settings, events)
        with hub_running(broker_settings, db, context):
            wait_for(lambda: applied(db) == 6)
            wait_for(lambda: len(messages(db)) == 5 and all(m.state == ACKNOWLEDGED for m in messages(db)))
            wait_for(lambda: _dead_letters(db) == 1)
            # Everything is published again (a replay, a broker that lost its data): nothing new goes out.
            publish(broker_settings, events)
            wait_for(lambda: _offsets_reached(broker_settings, len(events) * 2))
        assert len(messages(db)) == 5
        assert [field_of(m, "OBR", 3) for m in township.received] == ["R00001", "R00002", "R00003",
                                                                      "cty01-com-th01-1-4"]
        assert field_of(township.received[-1], "OBX", 8) == "HH"  # the critical value, flagged
        assert "心电图" in township.received[0]
        assert len(township.control_ids()) == len(set(township.control_ids())) == 4
        assert [b["entry"][0]["resource"]["id"] for b in fhir_member.received] == ["cty01-dr-th02-9-1"]
        with db.sessions() as session:
            letter = session.scalars(select(DeadLetter)).one()
        assert (letter.origin, letter.stage) == ("delivery", "render")
        assert "DiagnosticReport.code" in letter.reason
    finally:
        township.stop()
        fhir_member.stop()


def _dead_letters(db: Database) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(DeadLetter)) or 0)


def _offsets_reached(settings: HubSettings, total: int) -> bool:
    committed = kafka_io.group_offsets(settings, f"{settings.topic_prefix}hub.delivery")
    return sum(committed.values()) >= total

