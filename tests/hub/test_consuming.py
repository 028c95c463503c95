"""The consumer framework against the real broker and database: exactly once in effect."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from consumers.dead_letters.consumer import DeadLetterStore
from consumers.record_store.consumer import RecordStoreConsumer
from consumers.record_store.models import StoredResource
from hub.core import kafka_io, pipeline
from hub.core.config import HubSettings
from hub.core.consumer import Delivery
from hub.core.consuming import ConsumerRunner
from hub.core.db import Database
from hub.core.db.models import DeadLetter, ProcessedEvent
from hub.core.events import PollResult
from hub.core.outbox import Outbox, OutboxRelay
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import DEAD_LETTER, spec_for
from tests.factories import encounter_event, patient_event, random_events
from tests.waiting import wait_for

pytestmark = pytest.mark.broker


def publish(settings: HubSettings, events, name: str = "th01-his") -> None:
    outbox = Outbox(settings.outbox_path(name), name)
    sink = pipeline.Sink(name, "th01", outbox, EventCodec(FileSchemaRegistry(), settings.topic_prefix), settings)
    sink.accept(PollResult(events=list(events)))
    relay = OutboxRelay(outbox, settings)
    relay.check_epoch(force=True)
    while outbox.backlog():
        relay.publish_pending()
    relay.close()


@contextmanager
def running(runner: ConsumerRunner) -> Iterator[ConsumerRunner]:
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield runner
    finally:
        stop.set()
        thread.join(15)


def count(db: Database, model, *where) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def runner_for(consumer, settings: HubSettings, db: Database) -> ConsumerRunner:
    return ConsumerRunner(consumer, settings, db, EventCodec(FileSchemaRegistry(), settings.topic_prefix))


def test_events_reach_the_record_and_duplicates_change_nothing(broker_settings: HubSettings, db: Database) -> None:
    events = random_events(200)
    publish(broker_settings, events)
    with running(runner_for(RecordStoreConsumer(), broker_settings, db)):
        wait_for(lambda: count(db, ProcessedEvent) == 200)
        with db.sessions() as session:
            versions = dict(session.execute(select(StoredResource.id, StoredResource.version_id)).all())
        # Republish everything (as `hub replay` or a broker restart would): nothing changes.
        outbox = Outbox(broker_settings.outbox_path("th01-his"), "th01-his")
        assert outbox.mark_for_replay() == 200
        relay = OutboxRelay(outbox, broker_settings)
        while outbox.backlog():
            relay.publish_pending()
        relay.close()
        wait_for(lambda: _lag_zero(broker_settings))
    assert count(db, ProcessedEvent) == 200
    with db.sessions() as session:
        assert dict(session.execute(select(StoredResource.id, StoredResource.version_id)).all()) == versions
    assert count(db, StoredResource, StoredResource.resource_type == "Encounter") == 180


def _lag_zero(settings: HubSettings) -> bool:
    committed = kafka_io.group_offsets(settings, f"{settings.topic_prefix}hub.record_store")
    return sum(committed.values()) >= 400


def test_poison_event_goes_to_dead_letters_and_partition_moves_on(broker_settings: HubSettings, db: Database) -> None:
    topic = spec_for("patient").topic(broker_settings)
    kafka_io.ensure_topics(broker_settings)
    producer = kafka_io.producer(broker_settings)
    producer.send(topic, key=b"th01/1", value=b"\x00not avro at all").get(10)
    producer.close()
    no_id = patient_event(local_id="2")
    del no_id.resource["id"]
    publish(broker_settings, [no_id, patient_event(local_id="1"), encounter_event(local_id="1")])
    with running(runner_for(RecordStoreConsumer(), broker_settings, db)), running(
        runner_for(DeadLetterStore(), broker_settings, db)
    ):
        wait_for(lambda: count(db, ProcessedEvent, ProcessedEvent.consumer == "record_store") == 2)
        wait_for(lambda: count(db, DeadLetter) == 2)
    with db.sessions() as session:
        letters = {d.stage: d for d in session.scalars(select(DeadLetter))}
    assert set(letters) == {"decode", "validate"}
    assert letters["decode"].origin_topic == topic and letters["decode"].origin_offset == 0
    assert letters["decode"].payload == b"\x00not avro at all"
    assert "without an id" in letters["validate"].reason
    assert count(db, StoredResource, StoredResource.resource_type == "Encounter") == 1


class FlakyDatabaseConsumer(RecordStoreConsumer):
    """Fails like a database that is down, a few times, then recovers."""

    failures_left = 3

    def apply_batch(self, session: Session, deliveries: list[Delivery]) -> None:
        if FlakyDatabaseConsumer.failures_left > 0:
            FlakyDatabaseConsumer.failures_left -= 1
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        super().apply_batch(session, deliveries)


def test_database_down_pauses_instead_of_dead_lettering(broker_settings: HubSettings, db: Database) -> None:
    publish(broker_settings, random_events(50))
    with running(runner_for(FlakyDatabaseConsumer(), broker_settings, db)):
        wait_for(lambda: count(db, ProcessedEvent) == 50, 60)
    assert FlakyDatabaseConsumer.failures_left == 0
    dlq = kafka_io.consumer(broker_settings, None, [DEAD_LETTER.topic(broker_settings)])
    assert sum(len(b) for b in dlq.poll(timeout_ms=2000).values()) == 0
    dlq.close()


@pytest.mark.slow
def test_consumer_killed_mid_batch_loses_and_duplicates_nothing(broker_settings: HubSettings, db: Database) -> None:
    events = random_events(3000, patients=100)
    publish(broker_settings, events)
    env = {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP": broker_settings.bootstrap,
        "HUB_DATABASE_URL": db.url,
        "HUB_TOPIC_PREFIX": broker_settings.topic_prefix,
        "HUB_DATA_DIR": str(broker_settings.data_dir),
        "HUB_CONSUMER_BATCH_SIZE": "100",
        "HUB_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "hub.app.cli", "consumer", "run", "record_store"]
    first = subprocess.Popen(command, env=env)
    try:
        wait_for(lambda: count(db, ProcessedEvent) >= 300, 60)
        first.send_signal(signal.SIGKILL)  # no clean shutdown: mid-batch, offsets maybe uncommitted
        first.wait(10)
        killed_at = count(db, ProcessedEvent)
        assert killed_at < 3000, "the consumer finished before it could be killed"
        second = subprocess.Popen(command, env=env)
        try:
            wait_for(lambda: count(db, ProcessedEvent) == 3000, 90)
            time.sleep(2)  # anything more would be a duplicate
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(15) == 0
    finally:
        if first.poll() is None:
            first.kill()
    assert count(db, ProcessedEvent) == 3000
    with db.sessions() as session:
        rows = session.execute(select(StoredResource.resource_type, func.count()).group_by(StoredResource.resource_type)).all()
        max_version = session.scalar(
            select(func.max(StoredResource.version_id)).where(StoredResource.resource_type == "Encounter")
        )
    assert dict(rows)["Encounter"] == 2900
    assert max_version == 1  # no encounter was applied twice


def test_offsets_committed_before_a_memory_broker_restart_are_not_trusted(broker_settings: HubSettings,
                                                                        db: Database) -> None:
    """A commit can wait out a restart of the memory broker and land on the new one with the old
    broker's offsets (seen in the fault suite); a consumer that trusted them would skip what the new
    broker holds. Here such offsets point at the end of every partition."""
    events = random_events(120)
    publish(broker_settings, events)
    runner = runner_for(RecordStoreConsumer(), broker_settings, db)
    stale = kafka_io.consumer(broker_settings, runner.group_id)
    try:
        partitions = [kafka_io.TopicPartition(t, p) for t in runner.topics for p in stale.partitions_for_topic(t) or ()]
        stale.assign(partitions)
        stale.seek_to_beginning(*partitions)
        ends: dict[kafka_io.TopicPartition, int] = {}
        wait_for(lambda: sum(len(r) for r in _read_into(stale, ends)) == 0 and len(ends) > 0)
        stale.commit({tp: kafka_io.OffsetAndMetadata(end, "", -1) for tp, end in ends.items()})
    finally:
        stale.close(autocommit=False)
    assert kafka_io.group_offsets(broker_settings, runner.group_id) == ends
    with running(runner):
        wait_for(lambda: count(db, ProcessedEvent) == 120)


def _read_into(client, ends: dict) -> list:
    """One poll; the offset after each partition's last record goes into `ends`."""
    polled = client.poll(timeout_ms=1000)
    for tp, records in polled.items():
        ends[tp] = max(ends.get(tp, 0), records[-1].offset + 1)
    return list(polled.values())
