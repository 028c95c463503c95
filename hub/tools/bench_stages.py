"""The benchmark's stages, each run alone: one HIS connector, its relay, each consumer on a pre-filled
topic, and the record store's reads under a steady write load.

Every figure comes with CPU seconds per 1,000 events: the process's CPU time (time.process_time, user
and system of every thread) from a stage's start to its end. Each stage runs alone in this process
(nothing else of the benchmark is running meanwhile), so that CPU is the stage's own and compares
across machines; the broker runs in its own process and is not counted.

  connector     the county hospital's HIS database, pre-filled by the simulated county, read by its
                connector: rows read, mapped, validated and written to its outbox, from the first poll
                to the poll that finds nothing new.
  relay         that outbox published to the broker, from the first send to the last mark.
  consumers     the demo's event mix (every member's connector, patients with matching at their
                share) published to fresh topics, then each consumer alone drains them into a fresh
                database: timed from its first commit to its last, counting the events after the first
                batch (the group join before it, about 3 s on Tansu, is not the consumer's speed).
                The record store runs first; the other consumers find its shared record filled.
  ecg_consumer  the ECG consumer alone on a topic of DICOM 12-lead ECGs read at the door.
  reads_under_load  Patient searches and $everything over HTTP while the record store writes new
                events at a steady rate (paced after each commit).
"""

from __future__ import annotations

import io
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from connectors.dicom.ingest import ingest_dicom
from consumers.record_store.models import StoredResource
from hub.app import parts as registered
from hub.core.blobs import FileBlobStore
from hub.core.config import HubSettings
from hub.core.connector_runtime import ConnectorRuntime
from hub.core.consuming import ConsumerRunner
from hub.core.db import Database
from hub.core.outbox import Outbox, OutboxRelay
from hub.core.parts import PartContext
from hub.core.pipeline import Sink
from hub.core.results import ResultOutbox
from hub.core.schema_registry import make_registry
from hub.core.serialization import EventCodec
from hub.core.topics import spec_for
from hub.tools.bench_http import READS, SEARCHES, searchable, served, timed_read
from hub.tools.demo.county import County, build_county
from hub.tools.demo.ecgs import EcgSpec, Subject, ecg_dataset
from hub.tools.demo.generator import CountySimulator

log = logging.getLogger(__name__)

CONSUMER_STAGES = ("record_store", "reading", "pharmacy")
ECG_STUDIES = 30  # each costs about a second of CPU to measure


@dataclass
class Timed:
    """What a stage did (events or rows) in how long, and the process CPU it took meanwhile."""

    events: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0

    def figures(self, stage: str, unit: str = "events") -> dict[str, float]:
        if self.events <= 0 or self.seconds <= 0:
            raise RuntimeError(f"the {stage} stage moved nothing; is the benchmark too small?")
        return {f"stage_{stage}_{unit}_per_s": round(self.events / self.seconds, 1),
                f"stage_{stage}_cpu_s_per_1000": round(self.cpu_s * 1000 / self.events, 3)}


@contextmanager
def stopwatch(timed: Timed) -> Iterator[Timed]:
    """Wall and process CPU time of the block, added to `timed`."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield timed
    finally:
        timed.seconds += time.perf_counter() - wall
        timed.cpu_s += time.process_time() - cpu


def _codec(settings: HubSettings) -> EventCodec:
    return EventCodec(make_registry(settings.schema_registry_url), settings.topic_prefix)


def _fill(county: County, settings: HubSettings, rows: int, simulator: CountySimulator | None = None) -> CountySimulator:
    """The members' HIS databases with about `rows` more new or changed rows (the demo's mix)."""
    if simulator is None:
        simulator = CountySimulator(county, rate=1.0, seed=settings.demo_seed)
        simulator.seed_population()
    written = 0
    while written < rows:
        written += simulator.step(min(2000, rows - written))
    return simulator


def drain_connector(rt: ConnectorRuntime, on_topic: Counter[str] | None = None) -> int:
    """Polls one connector into its outbox until it has read everything; returns the rows read (events
    and rejections). `on_topic` counts the new events by the topic they will be published to."""
    rows = 0
    while True:
        result = rt.connector.poll(rt.sink.checkpoints())
        if result.empty:
            return rows
        report = rt.sink.accept(result)
        rows += len(result.events) + len(result.rejected)
        if on_topic is not None:
            types = {e.event_id: e.event_type for e in result.events}
            for outcome in report.outcomes:
                if outcome.accepted and not outcome.duplicate and outcome.event_id in types:
                    on_topic[spec_for(types[outcome.event_id]).topic(rt.relay.settings)] += 1


def publish_outbox(rt: ConnectorRuntime) -> int:
    """Publishes everything waiting in one connector's outbox; returns how many events."""
    sent = 0
    while count := rt.relay.publish_pending():
        sent += count
    return sent


def _runtimes(county: County, settings: HubSettings) -> list[ConnectorRuntime]:
    codec = _codec(settings)
    return [ConnectorRuntime.build(c, settings, registered.connector_class(c.kind), codec)
            for c in map(registered.load_connector_config, county.connector_configs)]


def _close(runtimes: list[ConnectorRuntime]) -> None:
    for rt in runtimes:
        rt.relay.close()
        rt.connector.close()
        rt.outbox.close()


def connector_stages(base: HubSettings, rows: int) -> tuple[dict[str, float], list[bytes]]:
    """One connector (the county hospital's, the busiest member) on its pre-filled HIS database, then
    its relay on the outbox it wrote. Returns the figures and a sample of the encoded events."""
    settings = base.model_copy(update={"data_dir": base.data_dir / "stage-connector",
                                       "topic_prefix": f"{base.topic_prefix}connector."})
    county = build_county(settings.data_dir, seed=settings.demo_seed)
    hospital = County(county.data_dir, county.facilities[:1], county.connector_configs[:1])
    _fill(hospital, settings, rows).close()
    (rt,) = _runtimes(hospital, settings)
    try:
        read, sent = Timed(), Timed()
        with stopwatch(read):
            read.events = drain_connector(rt)
        payloads = [row.record.value for row in rt.outbox.pending(2000)]
        rt.relay.check_epoch(force=True)  # the topics made before the clock starts
        with stopwatch(sent):
            sent.events = publish_outbox(rt)
    finally:
        _close([rt])
    return read.figures("connector", "rows") | sent.figures("relay"), payloads


@dataclass
class Prefilled:
    """Topics of their own filled with the simulated county's events, as every member's connector and
    relay published them; `add` publishes more."""

    settings: HubSettings
    county: County
    simulator: CountySimulator
    runtimes: list[ConnectorRuntime]
    on_topic: Counter[str] = field(default_factory=Counter)

    @classmethod
    def start(cls, base: HubSettings, events: int) -> Prefilled:
        settings = base.model_copy(update={"data_dir": base.data_dir / "stage-prefill",
                                           "topic_prefix": f"{base.topic_prefix}stages."})
        county = build_county(settings.data_dir, seed=settings.demo_seed)
        filled = cls(settings, county, _fill(county, settings, 0), _runtimes(county, settings))
        filled.add(events)
        return filled

    def add(self, events: int) -> None:
        _fill(self.county, self.settings, events, self.simulator)
        for rt in self.runtimes:
            drain_connector(rt, self.on_topic)
            publish_outbox(rt)

    @property
    def configs(self) -> tuple[Any, ...]:
        return tuple(rt.config for rt in self.runtimes)

    def expected(self, runner: ConsumerRunner) -> int:
        return sum(self.on_topic[topic] for topic in runner.topics)

    def close(self) -> None:
        _close(self.runtimes)
        self.simulator.close()


def bound_runner(settings: HubSettings, database: Database, name: str, batch_size: int | None = None,
            connector_configs: tuple[Any, ...] = ()) -> ConsumerRunner:
    """The registered consumer `name`, bound as the hub binds it, in its own consumer group."""
    if batch_size is not None:
        settings = settings.model_copy(update={"consumer_batch_size": batch_size})
    codec = _codec(settings)
    consumer = registered.consumer_class(name)(settings)
    consumer.bind(PartContext(settings, database, registered.services(), ResultOutbox(database, codec, settings),
                              connector_configs=connector_configs))
    return ConsumerRunner(consumer, settings, database, codec)


def drain(runner: ConsumerRunner, expected: int, timeout_s: float = 900,
          pace: Callable[[int], None] | None = None) -> Timed:
    """Runs `runner` until it has committed `expected` more events; timed from its first commit to its
    last, counting the events after the first batch. `pace` is called after each commit."""
    if expected < 1:
        raise RuntimeError(f"the topics of the {runner.consumer.name} consumer hold nothing for it; "
                           "is the benchmark too small?")
    timed, done, first = Timed(), threading.Event(), threading.Event()
    marks: dict[str, float] = {}
    delivered = 0

    def on_batch(count: int) -> None:
        nonlocal delivered
        delivered += count
        now, cpu = time.perf_counter(), time.process_time()
        if not first.is_set():
            marks.update(wall=now, cpu=cpu)
            first.set()
        else:
            timed.events += count
            timed.seconds, timed.cpu_s = now - marks["wall"], cpu - marks["cpu"]
        if delivered >= expected:
            done.set()
        elif pace is not None:
            pace(delivered)

    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop, on_batch), name=f"bench-{runner.consumer.name}", daemon=True)
    thread.start()
    try:
        if not done.wait(timeout_s):
            if timed.events <= 0:
                raise TimeoutError(f"the {runner.consumer.name} consumer applied {delivered} of {expected} events "
                                   f"in {timeout_s:.0f} s")
            # A slow consumer's figures over what it applied: a run of many stages is not lost to one.
            log.warning("the %s consumer applied %d of %d events in %.0f s; its figures are over those",
                        runner.consumer.name, delivered, expected, timeout_s)
    finally:
        stop.set()
        thread.join(30)
    return timed


def consumer_stage(prefilled: Prefilled, database: Database, name: str, batch_size: int | None = None) -> dict[str, float]:
    """The consumer `name` alone, draining what the pre-filled topics hold for it into `database`."""
    runner = bound_runner(prefilled.settings, database, name, batch_size, prefilled.configs)
    expected = prefilled.expected(runner)
    # The first batch carries the group join and is not timed: a topic shorter than 20 batches is read
    # in 20, so that what is timed is most of it.
    runner.batch_size = min(runner.batch_size, max(1, expected // 20))
    return drain(runner, expected).figures(name)


def ecg_file(n: int) -> bytes:
    """The `n`th of the benchmark's 12-lead resting ECGs as a DICOM file (a different tracing each)."""
    spec = EcgSpec(heart_rate=55 + 3 * (n % 30), qrs_axis=-20 + 5 * (n % 20), seed=n)
    dataset = ecg_dataset(spec, Subject(f"bench{n}", "测^试"), datetime(2026, 11, 27, 8, n % 60))
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ecg_stage(base: HubSettings, database: Database, studies: int) -> dict[str, float]:
    """The ECG consumer alone (waveform measured, observations stored) on a topic pre-filled with
    `studies` ECGs read at the door (DICOM parsed, waveform to the blob store it reads from)."""
    settings = base.model_copy(update={"data_dir": base.data_dir / "stage-ecg",
                                       "topic_prefix": f"{base.topic_prefix}ecg."})
    blobs = FileBlobStore(settings.data_dir / "blobs")  # where the ECG consumer looks (HUB_DATA_DIR/blobs)
    outbox = Outbox(settings.outbox_path("bench-ecg"), "bench-ecg")
    relay = OutboxRelay(outbox, settings)
    sink = Sink("bench-ecg", "th01", outbox, _codec(settings), settings)
    try:
        for n in range(studies):
            sink.accept(ingest_dicom(ecg_file(n), f"bench{n}.dcm", "th01", blobs))
        relay.check_epoch(force=True)
        while relay.publish_pending():
            pass
    finally:
        relay.close()
        outbox.close()
    return drain(bound_runner(settings, database, "ecg"), studies).figures("ecg")


def _stored_patients(database: Database, limit: int = 2000) -> tuple[list[str], list[dict[str, Any]]]:
    """Community patient ids and source Patients the record store holds (what the reads ask for)."""
    with database.reading() as session:
        golden = list(session.scalars(select(StoredResource.id).where(
            StoredResource.resource_type == "Patient", StoredResource.golden.is_(True)).limit(limit)))
        sources = [json.loads(content) for content in session.scalars(select(StoredResource.content).where(
            StoredResource.resource_type == "Patient", StoredResource.golden.is_(False)).limit(limit))]
    return golden, searchable(sources)


def reads_under_load(prefilled: Prefilled, database: Database, rate: float = 500.0, seconds: float = 30.0,
                     seed: int = 20261128) -> dict[str, float]:
    """Search and $everything p99 over HTTP while the record store (its group resuming where the record
    store stage stopped) applies about `rate` new events a second in batches of rate/10."""
    communities, patients = _stored_patients(database)
    if not communities or not patients:
        raise RuntimeError("the reads under load need a record store that already holds patients")
    runner = bound_runner(prefilled.settings, database, "record_store", max(1, int(rate / 10)), prefilled.configs)
    before = prefilled.expected(runner)
    prefilled.add(int(rate * seconds * 1.1))  # what the writer will apply, with a margin
    expected = prefilled.expected(runner) - before
    writing = threading.Event()
    clock: dict[str, float] = {}

    def pace(delivered: int) -> None:
        """Holds the writer to `rate` from its first commit (the group join before it writes nothing)."""
        started = clock.setdefault("started", time.monotonic())
        writing.set()
        time.sleep(max(0.0, delivered / rate - (time.monotonic() - started)))

    timings: dict[str, list[float]] = {kind: [] for kind in READS}
    rng = random.Random(seed)
    written: list[Timed] = []
    writer = threading.Thread(target=lambda: written.append(drain(runner, expected, pace=pace)), daemon=True)
    with served(prefilled.settings, database) as client:
        for kind in READS:  # connections and caches warm before the writer starts
            timed_read(client, kind, communities, patients, rng)
        writer.start()
        while writer.is_alive():
            for kind in READS:
                elapsed = timed_read(client, kind, communities, patients, rng)
                if writing.is_set() and writer.is_alive():  # only reads that met the writes count
                    timings[kind].append(elapsed)
        writer.join()
    if not written:
        raise RuntimeError("the record store's writer stopped before it had written its events")
    searches = [t for kind in SEARCHES for t in timings[kind]]
    if not searches or not timings["everything"]:
        raise RuntimeError("no read met the writes; give the reads under load more seconds")
    return {
        "reads_under_load_search_ms_p99": round(percentile(searches, 99), 1),
        "reads_under_load_everything_ms_p99": round(percentile(timings["everything"], 99), 1),
        "reads_under_load_write_events_per_s": round(written[0].events / written[0].seconds, 1),
        "reads_under_load_reads": len(searches) + len(timings["everything"]),
    }


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def run_stages(base: HubSettings, database: Database, stages: set[str], events: int, connector_rows: int,
               read_seconds: float) -> tuple[dict[str, Any], list[bytes]]:
    """The selected stages, one after another, on a running broker; their figures and a sample of
    encoded events (for the bare transport)."""
    result: dict[str, Any] = {}
    payloads: list[bytes] = []
    if stages & {"connector", "relay"}:
        figures, payloads = connector_stages(base, connector_rows)
        result |= figures
    wanted = [name for name in CONSUMER_STAGES if name in stages]
    if "reads_under_load" in stages and "record_store" not in wanted:
        wanted.insert(0, "record_store")  # the reads need a filled record
    if "ecg_consumer" in stages:
        result |= ecg_stage(base, database, ECG_STUDIES)
    if wanted:
        prefilled = Prefilled.start(base, events)
        try:
            for name in wanted:
                result |= consumer_stage(prefilled, database, name)
                log.info("stage %s: %s", name, result)
            if "reads_under_load" in stages:
                result |= reads_under_load(prefilled, database, seconds=read_seconds)
        finally:
            prefilled.close()
    return result, payloads
