"""The outbox: atomic with its checkpoint, duplicate-proof, and nothing lost while the broker is away."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from hub.core import kafka_io
from hub.core.blobs import FileBlobStore
from hub.core.broker import EmbeddedBroker
from hub.core.config import HubSettings
from hub.core.dead_letter import H_QUARANTINE, H_REASON
from hub.core.events import PollResult, Rejected
from hub.core.outbox import Outbox, OutboxRecord, OutboxRelay
from hub.core.pipeline import Sink
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import DEAD_LETTER, spec_for
from tests.conftest import free_port
from tests.factories import encounter_event, patient_event, random_events
from tests.waiting import wait_for


def make_sink(settings: HubSettings, name: str = "th01-his", relay: OutboxRelay | None = None) -> Sink:
    outbox = Outbox(settings.outbox_path(name), name)
    return Sink(name, "th01", outbox, EventCodec(FileSchemaRegistry(), settings.topic_prefix), settings, relay)


def read_all(settings: HubSettings, topic: str, expected: int, timeout_s: float = 30) -> list:
    consumer = kafka_io.consumer(settings, None, [topic], consumer_timeout_ms=1000)
    messages: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                messages.extend(batch)
    finally:
        consumer.close()
    return messages


def test_events_and_checkpoint_commit_together(settings: HubSettings) -> None:
    sink = make_sink(settings)
    report = sink.accept(PollResult(events=[patient_event()], checkpoints={"pat_info": "5"}))
    assert report.accepted == 1
    assert sink.checkpoints() == {"pat_info": "5"}
    # A failing write keeps neither the events nor the checkpoint.
    outbox = sink.outbox
    with pytest.raises(sqlite3.IntegrityError):
        outbox.write([OutboxRecord("x", "t", b"k", b"v"), OutboxRecord("y", "t", b"k", None)], {"pat_info": "9"})  # type: ignore[arg-type]
    assert outbox.checkpoints() == {"pat_info": "5"} and outbox.count() == 1


def test_duplicate_event_is_stored_once(settings: HubSettings) -> None:
    sink = make_sink(settings)
    first = sink.accept(PollResult(events=[patient_event()]))
    again = sink.accept(PollResult(events=[patient_event()]))
    assert (first.accepted, again.accepted, again.duplicates) == (1, 0, 1)
    assert sink.outbox.count() == 1


def test_invalid_fhir_and_oversize_go_to_dead_letters(settings: HubSettings) -> None:
    sink = make_sink(settings)
    bad = patient_event()
    bad.resource["birthDate"] = "1990-13-45"
    huge = encounter_event()
    huge.resource["text"] = {"status": "generated", "div": "<div>" + "x" * 1_100_000 + "</div>"}
    rejected = Rejected("row has no patient id", "map", '{"BRID": null}', "HZXX:1")
    report = sink.accept(PollResult(events=[bad, huge, patient_event(local_id="2")], rejected=[rejected]))
    assert report.accepted == 1 and report.rejected == 3
    reasons = [o.reason for o in report.outcomes if not o.accepted]
    assert "Patient.birthDate" in reasons[0]
    assert "limit" in reasons[1]
    pending = sink.outbox.pending(10)
    dead = [r for r in pending if r.record.topic == DEAD_LETTER.topic(settings)]
    assert len(dead) == 3
    # The oversized input is kept whole in the blob store; the dead letter points at it.
    refs = [dict(r.record.headers)[H_QUARANTINE].decode() for r in dead if H_QUARANTINE in dict(r.record.headers)]
    assert len(refs) == 1 and len(FileBlobStore(settings.data_dir / "blobs").get(refs[0])) > 1_000_000
    assert all(dict(r.record.headers).get(H_REASON) for r in dead)


@pytest.mark.broker
def test_relay_publishes_in_order_per_patient(broker_settings: HubSettings) -> None:
    relay_holder: list[OutboxRelay] = []
    sink = make_sink(broker_settings)
    relay = OutboxRelay(sink.outbox, broker_settings)
    relay_holder.append(relay)
    events = random_events(300)
    sink.accept(PollResult(events=events))
    relay.check_epoch(force=True)
    while sink.outbox.backlog():
        relay.publish_pending()
    relay.close()
    topic = spec_for("encounter").topic(broker_settings)
    messages = read_all(broker_settings, topic, 280)
    assert len(messages) == 280
    codec = EventCodec(FileSchemaRegistry())
    by_key: dict[bytes, list[int]] = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        visit = int(codec.decode(m.value).resource["id"].rsplit("-", 1)[1])
        by_key.setdefault(m.key, []).append(visit)
    assert all(v == sorted(v) for v in by_key.values())


@pytest.mark.broker
@pytest.mark.slow
def test_broker_down_for_30s_loses_nothing(tmp_path: Path, database_url: str) -> None:
    """The connector keeps accepting while the broker is away; a broker that came back empty
    (memory only) gets everything again, in per-patient order."""
    port = free_port()
    settings = HubSettings(data_dir=tmp_path, database_url=database_url, kafka_bootstrap=f"127.0.0.1:{port}")
    broker = EmbeddedBroker(port, log_file=tmp_path / "b.log").start()
    sink = make_sink(settings)
    relay = OutboxRelay(sink.outbox, settings, epoch_check_s=1.0)
    sink.relay = relay
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    events = random_events(600)
    try:
        sink.accept(PollResult(events=events[:200]))
        wait_for(lambda: sink.outbox.backlog() == 0, 20)
        broker.stop()
        written_during_outage = 0
        outage_end = time.monotonic() + 30
        for chunk in range(200, 600, 50):  # input keeps arriving while the broker is down
            report = sink.accept(PollResult(events=events[chunk : chunk + 50]))
            written_during_outage += report.accepted
            time.sleep(max(0.0, min(3.5, outage_end - time.monotonic())))
        time.sleep(max(0.0, outage_end - time.monotonic()))
        assert written_during_outage == 400 and sink.outbox.backlog() > 0
        assert not relay.broker_up
        broker.start()
        wait_for(lambda: sink.outbox.backlog() == 0 and relay.broker_up, 40)
        patients = read_all(settings, spec_for("patient").topic(settings), 20)
        encounters = read_all(settings, spec_for("encounter").topic(settings), 580)
        got = {EventCodec(FileSchemaRegistry()).decode(m.value).event_id for m in patients + encounters}
        assert got == {e.event_id for e in events}
    finally:
        stop.set()
        thread.join(10)
        broker.stop()


@pytest.mark.broker
@pytest.mark.slow
def test_restarted_broker_that_reissued_the_producer_id_loses_nothing(tmp_path: Path, database_url: str) -> None:
    """Defect 1 of issue 8: a memory broker that restarted hands this relay's producer id to another
    client; the relay's old producer then got "duplicate sequence" (success, offset -1) for records
    the broker never stored, and marked them published."""
    port = free_port()
    settings = HubSettings(data_dir=tmp_path, database_url=database_url, kafka_bootstrap=f"127.0.0.1:{port}")
    broker = EmbeddedBroker(port, log_file=tmp_path / "b.log").start()
    sink = make_sink(settings)
    relay = OutboxRelay(sink.outbox, settings)
    sink.relay = relay
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    events = random_events(400)
    try:
        thread.start()
        sink.accept(PollResult(events=events[:100]))
        wait_for(lambda: sink.outbox.backlog() == 0, 20)
        assert broker._process is not None
        broker._process.kill()  # SIGKILL: the broker forgets everything, producer ids included
        broker._process.wait()
        broker.start()
        # Another client (another connector's relay) is first to ask the new broker for a producer id.
        kafka_io.ensure_topics(settings)
        other = kafka_io.producer(settings)
        for spec in (spec_for("patient"), spec_for("encounter")):
            for partition in range(spec.partitions):
                for i in range(300):
                    other.send(spec.topic(settings), partition=partition, value=b"other %d" % i)
        other.flush(30)
        other.close()
        sink.accept(PollResult(events=events[100:]))
        wait_for(lambda: sink.outbox.backlog() == 0 and relay.broker_up, 40)
        time.sleep(6)  # past the relay's next epoch check
        wait_for(lambda: sink.outbox.backlog() == 0, 40)
        codec = EventCodec(FileSchemaRegistry())
        messages = read_all(settings, spec_for("patient").topic(settings), 20 + 6 * 300)
        messages += read_all(settings, spec_for("encounter").topic(settings), 380 + 6 * 300)
        got = {codec.decode(m.value).event_id for m in messages if not m.value.startswith(b"other")}
        missing = {e.event_id for e in events} - got
        assert not missing, f"{len(missing)} events marked published never reached the broker"
    finally:
        stop.set()
        thread.join(10)
        broker.stop()
