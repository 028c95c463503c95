"""Shared helpers of the fault suite: brokers to kill, loads to run, a faulty network, and the one
comparison every scenario ends with (what the sources sent against what the topics and the record hold)."""

from __future__ import annotations

import logging
import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select as sql_select

from consumers.record_store.consumer import RecordStoreConsumer
from consumers.record_store.models import StoredResource
from hub.core import kafka_io
from hub.core.broker import EmbeddedBroker
from hub.core.config import HubSettings
from hub.core.consuming import ConsumerRunner
from hub.core.db import Database
from hub.core.db.models import ProcessedEvent
from hub.core.events import Event, PollResult
from hub.core.outbox import Outbox, OutboxRelay
from hub.core.pipeline import Sink
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import CATALOGUE, spec_for
from tests.factories import encounter_event, patient_event, unique_facility
from tests.waiting import wait_for

log = logging.getLogger("faults")
ROOT = Path(__file__).resolve().parents[2]


# The tally every scenario adds to; tests/faults/conftest.py prints it as the suite's last line ----


@dataclass
class Tally:
    scenarios: int = 0
    compared: int = 0
    lost: int = 0
    doubled: int = 0
    resent_copies: int = 0
    lines: list[str] = field(default_factory=list)


TALLY = Tally()


# Brokers -------------------------------------------------------------------------------------------


def kill_broker(broker: EmbeddedBroker) -> None:
    """SIGKILL, as an out-of-memory killer or a power cut would: no goodbye to any client."""
    process = broker._process
    assert process is not None and process.poll() is None, "the broker is not running"
    process.send_signal(signal.SIGKILL)
    process.wait(10)


# Load: connectors (sink, outbox, relay) fed by a thread each ----------------------------------------


class Feed:
    """One simulated member connector: a sink with its outbox and relay, and a thread writing new
    patients and visits into it at `rate` events per second until stopped. `sent` is every event the
    sink accepted (what the member was told is safe)."""

    def __init__(self, settings: HubSettings, name: str, rate: float = 20.0, relay_on: bool = True) -> None:
        self.settings = settings
        self.name = name
        self.facility = unique_facility()
        self.outbox = Outbox(settings.outbox_path(name), name)
        self.relay = OutboxRelay(self.outbox, settings)  # the hub's own 5 s epoch check
        self.sink = Sink(name, self.facility, self.outbox, EventCodec(FileSchemaRegistry(), settings.topic_prefix),
                         settings, self.relay)
        self.rate = rate
        self.sent: set[str] = set()
        self.refused = 0  # writes the outbox refused (disk full, ...): the source sends them again
        self._n = 0
        self._pending: list[Event] = []
        self._threads: list[threading.Thread] = []
        self._stop_feed = threading.Event()
        self._stop_relay = threading.Event()
        self.relay_on = relay_on

    def _next_events(self) -> list[Event]:
        if self._pending:  # refused last time: the source offers the same events again
            return self._pending
        n, self._n = self._n, self._n + 1
        patient = str(n // 4)
        if n % 4 == 0:
            return [patient_event(self.facility, patient, resident_id=None)]
        return [encounter_event(self.facility, patient, visit=n)]

    def feed_once(self) -> bool:
        events = self._next_events()
        try:
            report = self.sink.accept(PollResult(events=events))
        except Exception as exc:  # noqa: BLE001 - e.g. "database or disk is full": not accepted, offered again
            self.refused += 1
            self._pending = events
            log.debug("%s: write refused: %s", self.name, exc)
            return False
        self._pending = []
        assert report.rejected == 0, [o.reason for o in report.outcomes]
        self.sent.update(e.event_id for e in events)
        return True

    def _feed(self) -> None:
        interval = 1.0 / self.rate
        while not self._stop_feed.is_set():
            self.feed_once()
            self._stop_feed.wait(interval * random.uniform(0.5, 1.5))

    def start(self) -> Feed:
        self._threads = [threading.Thread(target=self._feed, name=f"feed-{self.name}", daemon=True)]
        if self.relay_on:
            self._threads.append(
                threading.Thread(target=self.relay.run, args=(self._stop_relay,), name=f"relay-{self.name}", daemon=True)
            )
        for thread in self._threads:
            thread.start()
        return self

    def stop_feeding(self) -> None:
        self._stop_feed.set()
        self._threads[0].join(10)
        while self._pending:  # what the outbox refused, the source still holds: offer it until taken
            if not self.feed_once():
                time.sleep(0.2)

    def stop(self) -> None:
        self.stop_feeding()
        self._stop_relay.set()
        for thread in self._threads[1:]:
            thread.join(15)
        self.outbox.close()


@contextmanager
def feeds(settings: HubSettings, count: int, rate: float = 20.0, relay_on: bool = True) -> Iterator[list[Feed]]:
    started = [Feed(settings, f"fault-{i}", rate, relay_on).start() for i in range(count)]
    try:
        yield started
    finally:
        for feed in started:
            feed.stop()


@contextmanager
def record_store(settings: HubSettings, database: Database) -> Iterator[ConsumerRunner]:
    """The record store consumer in a thread, as `hub run` runs it."""
    runner = ConsumerRunner(RecordStoreConsumer(settings), settings, database,
                            EventCodec(FileSchemaRegistry(), settings.topic_prefix))
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), name="record-store", daemon=True)
    thread.start()
    try:
        yield runner
    finally:
        stop.set()
        thread.join(20)


def other_members_replay(settings: HubSettings, events: list[Event], producers: int = 6) -> None:
    """Other members' relays, first to reach a restarted broker, each replaying its retained events
    with a fresh producer: they take the lowest producer ids the new broker hands out (the ids the
    old broker gave to the relays under test) and move their sequence numbers far ahead."""
    codec = EventCodec(FileSchemaRegistry(), settings.topic_prefix)
    records = [(spec_for(e.event_type).topic(settings), e.patient_key.encode(), codec.encode(e)) for e in events]
    kafka_io.ensure_topics(settings)
    for _ in range(producers):
        producer = kafka_io.producer(settings)
        try:
            for topic, key, value in records:
                producer.send(topic, key=key, value=value)
            producer.flush(30)
        finally:
            producer.close(5)


def member_backlog(count: int) -> list[Event]:
    """A member's retained events (visits of 50 patients), for other_members_replay."""
    facility = unique_facility()
    return [patient_event(facility, str(p), resident_id=None) for p in range(50)] + [
        encounter_event(facility, str(i % 50), visit=i) for i in range(count - 50)
    ]


def hub_process(args: list[str], settings: HubSettings, log_path: Path, **env: str) -> subprocess.Popen[bytes]:
    """`hub ARGS` in its own process, configured like `settings` (so it can be SIGKILLed)."""
    environment = {
        **os.environ,
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_DATABASE_URL": settings.db_url,
        "HUB_KAFKA_BOOTSTRAP": settings.bootstrap,
        "HUB_TOPIC_PREFIX": settings.topic_prefix,
        **env,
    }
    return subprocess.Popen([sys.executable, "-m", "hub.app.cli", *args], env=environment, cwd=ROOT,
                            stdout=log_path.open("ab"), stderr=subprocess.STDOUT)


# The comparison ------------------------------------------------------------------------------------


@dataclass
class Comparison:
    sent: int
    lost_in_topics: set[str]
    lost_in_record: set[str]
    doubled_in_record: set[str]
    resent_copies: int  # copies of one event in the topics: sent again to a broker that restarted

    @property
    def lost(self) -> int:
        return len(self.lost_in_topics | self.lost_in_record)

    @property
    def doubled(self) -> int:
        return len(self.doubled_in_record)

    def line(self, scenario: str) -> str:
        return (f"{scenario}: {self.sent} events sent, lost {self.lost} (topics {len(self.lost_in_topics)}, "
                f"record {len(self.lost_in_record)}), doubled {self.doubled}, resent copies {self.resent_copies}")


def applied(database: Database, ids: set[str]) -> int:
    return len(ids & _processed(database))


def _processed(database: Database) -> set[str]:
    with database.reading() as session:  # never queue for (or hold) the hub's write lock
        return set(session.scalars(
            sql_select(ProcessedEvent.event_id).where(ProcessedEvent.consumer == "record_store")
        ))


def topic_event_ids(settings: HubSettings, quiet_s: float = 3.0,
                    where: dict[str, list[tuple[str, int, int]]] | None = None) -> Counter[str]:
    """Every event id in the catalogue's topics, read from the start, with how often it is there (and,
    into `where`, the topic, partition and offset of each copy)."""
    codec = EventCodec(FileSchemaRegistry())
    consumer = kafka_io.consumer(settings, None, [spec.topic(settings) for spec in CATALOGUE])
    seen: Counter[str] = Counter()
    try:
        last_new = time.monotonic()
        while time.monotonic() - last_new < quiet_s:
            polled = consumer.poll(timeout_ms=500, max_records=5000)
            for batch in polled.values():
                for message in batch:
                    event_id = codec.decode(message.value).event_id
                    seen[event_id] += 1
                    if where is not None:
                        where.setdefault(event_id, []).append((message.topic, message.partition, message.offset))
                last_new = time.monotonic()
    finally:
        consumer.close()
    return seen


def compare(scenario: str, settings: HubSettings, database: Database, sent: set[str], *, topics: bool = True,
            settle_s: float = 120.0, outboxes: list[Outbox] | None = None) -> Comparison:
    """Waits until the record holds everything sent (or `settle_s` passed), then compares every event
    with the topics and the record; adds the result to the suite's tally."""
    with suppress(AssertionError):  # the comparison below says what is missing
        if outboxes:
            wait_for(lambda: all(o.backlog() == 0 for o in outboxes), settle_s, interval_s=0.5)
        wait_for(lambda: applied(database, sent) == len(sent), settle_s, interval_s=0.5)
    in_record = _processed(database)
    positions: dict[str, list[tuple[str, int, int]]] = {}
    copies = topic_event_ids(settings, where=positions) if topics else Counter()
    result = Comparison(
        sent=len(sent),
        lost_in_topics={e for e in sent if not copies[e]} if topics else set(),
        lost_in_record=sent - in_record,
        doubled_in_record=_doubled(database, sent),
        resent_copies=sum(n - 1 for e, n in copies.items() if e in sent and n > 1),
    )
    if result.lost_in_record and positions:
        print(_where_lost(result.lost_in_record, positions))
    TALLY.scenarios += 1
    TALLY.compared += result.sent
    TALLY.lost += result.lost
    TALLY.doubled += result.doubled
    TALLY.resent_copies += result.resent_copies
    TALLY.lines.append(result.line(scenario))
    print(result.line(scenario))
    return result


def _where_lost(lost: set[str], positions: dict[str, list[tuple[str, int, int]]]) -> str:
    """Where the events the record lacks sit in the topics, per partition (offsets first..last of
    the partition's size): a prefix of a partition points at an offset that was trusted wrongly."""
    sizes: Counter[tuple[str, int]] = Counter()
    for copies in positions.values():
        for topic, partition, _ in copies:
            sizes[(topic, partition)] += 1
    spans: dict[tuple[str, int], list[int]] = {}
    for event_id in lost:
        for topic, partition, offset in positions.get(event_id, ()):
            spans.setdefault((topic, partition), []).append(offset)
    return "lost in record, by partition: " + "; ".join(
        f"{topic}[{partition}] {len(offsets)} at offsets {min(offsets)}..{max(offsets)} of {sizes[(topic, partition)]}"
        for (topic, partition), offsets in sorted(spans.items())
    )


def _doubled(database: Database, sent: set[str]) -> set[str]:
    """Events the record applied more than once: each test visit is one event, so a stored Encounter
    in a version above 1 was written twice."""
    with database.reading() as session:  # never queue for (or hold) the hub's write lock
        rows = session.execute(
            sql_select(StoredResource.source_event_id, StoredResource.version_id).where(
                StoredResource.resource_type == "Encounter", StoredResource.version_id > 1
            )
        ).all()
        counted = session.execute(
            sql_select(ProcessedEvent.event_id, func.count()).where(ProcessedEvent.consumer == "record_store")
            .group_by(ProcessedEvent.event_id).having(func.count() > 1)
        ).all()
    return {str(event_id) for event_id, _ in rows if event_id in sent} | {str(e) for e, _ in counted if e in sent}


def assert_nothing_lost_or_doubled(result: Comparison) -> None:
    assert result.lost == 0 and result.doubled == 0, (
        f"lost in topics {sorted(result.lost_in_topics)[:5]}, lost in record {sorted(result.lost_in_record)[:5]}, "
        f"doubled {sorted(result.doubled_in_record)[:5]}"
    )


# A faulty network: a TCP proxy that delays, drops and cuts ------------------------------------------


class FaultyProxy:
    """Forwards 127.0.0.1:`port` to `target`. Faults: `delay_s` before each chunk goes on, `reset_p`
    the chance that a chunk resets its connection instead (a lost link), `blackhole` (nothing is
    forwarded and nothing is closed: heavy packet loss as a client sees it, timeouts) and `cut` (every
    connection closed, new ones refused)."""

    def __init__(self, target_port: int, port: int = 0) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = int(self.listener.getsockname()[1])
        self.delay_s = 0.0
        self.reset_p = 0.0
        self.blackhole = False
        self._cut = False
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def cut(self, on: bool = True) -> None:
        self._cut = on
        if on:
            with self._lock:
                pairs, self._pairs = self._pairs, []
            for pair in pairs:
                for sock in pair:
                    _close(sock)

    def close(self) -> None:
        self._stop.set()
        self.cut(True)
        _close(self.listener)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self._cut:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                if self.blackhole:  # nothing moves and nothing closes: the peer sees only silence
                    time.sleep(0.1)
                    continue
                ready, _, _ = select.select([src], [], [], 0.5)
                if not ready:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                if self.reset_p and random.random() < self.reset_p:
                    break
                if self.delay_s:
                    time.sleep(self.delay_s * random.uniform(0.5, 1.5))
                dst.sendall(data)
        except (OSError, ValueError):  # the other direction (or a cut) closed the sockets
            pass
        finally:
            _close(src)
            _close(dst)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()


def run_for(seconds: float, every_s: float, action: Callable[[], None]) -> None:
    """Calls `action` every `every_s` seconds for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(min(every_s, max(0.0, deadline - time.monotonic())))
        if time.monotonic() < deadline:
            action()
