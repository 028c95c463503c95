"""`make bench`: the whole path and the bare transport, on the same broker, in one run.

Whole path: a simulated county's HIS databases are filled first; then the HIS connectors map
the rows to FHIR, validate, write their outboxes, the relays publish, and the record store
applies every event to the database. Timed from the first poll to the last database commit.
Latency: afterwards the county runs at a steady 100 events/s for 20 s; each event's latency is
from the moment its connector read and mapped the row to the record store's database commit. Then
at a steady 200 and 1,000 events/s, 20 s each (the backlog drained between them), from the member's
commit (the HIS row's change time, the event's occurred_at) to the record store's commit: this
includes the connectors' poll interval, which the 100 events/s figure does not.
Transport: kafka-python alone produces and consumes the same encoded payloads on the same broker.
Everything but the broker runs in this one process, as `hub run` does; CPU seconds per 1,000 events
are the process's (the broker's not counted). The stages alone (one connector, its relay, each
consumer, reads under load) are in bench_stages.py, the memory soak in bench_soak.py.
"""

from __future__ import annotations

import logging
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from connectors.dicom.ingest import ingest_dicom
from consumers.ecg.consumer import EcgConsumer
from consumers.record_store.consumer import RecordStoreConsumer
from hub.app import parts as registered
from hub.core import kafka_io, pipeline
from hub.core.blobs import FileBlobStore
from hub.core.broker import EmbeddedBroker, port_open
from hub.core.config import HubSettings
from hub.core.connector_runtime import ConnectorRuntime
from hub.core.consumer import Delivery
from hub.core.consuming import ConsumerRunner
from hub.core.db import Database
from hub.core.outbox import Outbox, OutboxRelay, _stored
from hub.core.schema_registry import make_registry
from hub.core.serialization import EventCodec
from hub.core.topics import TopicSpec
from hub.tools.bench_reading import run_reading_benchmark
from hub.tools.bench_soak import run_soak
from hub.tools.bench_stages import CONSUMER_STAGES, ecg_file, percentile, run_stages
from hub.tools.demo.county import build_county
from hub.tools.demo.generator import CountySimulator
from hub.tools.scratch import scratch_database

log = logging.getLogger(__name__)


class _TimedRecordStore(RecordStoreConsumer):
    """The real record store, noting when each event was applied (inside its transaction): from its
    connector's read (`latencies_ms`) and from the member's commit (`commit_latencies_ms`)."""

    def __init__(self, settings: HubSettings) -> None:
        super().__init__(settings)
        self.latencies_ms: list[float] = []
        self.commit_latencies_ms: list[float] = []

    def apply_batch(self, session: Any, deliveries: list[Delivery]) -> None:
        super().apply_batch(session, deliveries)
        now = time.time()
        self.latencies_ms += [(now - d.event.recorded_at.timestamp()) * 1000 for d in deliveries if d.event]
        self.commit_latencies_ms += [(now - d.event.occurred_at.timestamp()) * 1000 for d in deliveries if d.event]

    def clear(self) -> None:
        self.latencies_ms.clear()
        self.commit_latencies_ms.clear()


# What `hub bench --stages` may name; the default runs them all.
STAGES = ("e2e", "latency", "transport", "ecg", "connector", "relay", "record_store", "reading", "pharmacy",
          "ecg_consumer", "reads_under_load", "reading_worklist", "mpi", "pharmacy_review", "soak")
LATENCY_RATES = (200.0, 1000.0)  # events/s of the steady phases after the whole path's 100/s


def run_benchmark(base: HubSettings, events: int = 20000, stages: Collection[str] = STAGES,
                  connector_rows: int = 20000, read_seconds: float = 30.0, soak_s: float = 600.0,
                  latency_seconds: float = 20.0) -> dict[str, Any]:
    """The selected stages (bench_mpi's and bench_pharmacy's are the caller's); one JSON-ready dict."""
    wanted = set(stages)
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp, scratch_database(
        base.database_url, Path(tmp), "bench"
    ) as database:
        data_dir = Path(tmp)
        broker: EmbeddedBroker | None = None
        bootstrap = base.kafka_bootstrap
        if bootstrap is None:
            port = base.broker_port + 7  # beside a running `make run`, not on top of it
            while port_open("127.0.0.1", port):
                port += 1
            broker = EmbeddedBroker(port, log_file=data_dir / "broker.log").start()
            bootstrap = broker.bootstrap
        settings = base.model_copy(
            update={
                "kafka_bootstrap": bootstrap,
                "data_dir": data_dir,
                "topic_prefix": f"{base.topic_prefix}bench{int(time.time())}.",
                "database_url": database.url,
            }
        )
        try:
            kafka_io.ensure_topics(settings)
            payloads: list[bytes] = []
            if wanted & {"e2e", "latency"}:
                rates = (100.0 if "e2e" in wanted else None, *(LATENCY_RATES if "latency" in wanted else ()))
                e2e = _whole_path(settings, database, events, rates, latency_seconds)
                payloads = e2e.pop("payloads")
                result |= e2e
            if "e2e_events_per_s" in result:  # the whole path's ratio is to the transport of the same payloads
                result["transport_events_per_s"] = round(_transport(settings, payloads), 1)
                result["ratio"] = round(result["e2e_events_per_s"] / result["transport_events_per_s"], 4)
            if "ecg" in wanted:
                ecg = _ecg_stage(settings, database)
                result |= {"ecg_ingest_to_ready_ms_p50": round(statistics.median(ecg), 1),
                           "ecg_ingest_to_ready_ms_p99": round(percentile(ecg, 99), 1), "ecg_studies": len(ecg)}
            # The whole path's peak, as before the stages were added (they run after it in this process).
            result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            if wanted & {"connector", "relay", *CONSUMER_STAGES, "ecg_consumer", "reads_under_load"}:
                with scratch_database(base.database_url, data_dir, "bench_stages") as stage_db:
                    figures, sample = run_stages(settings, stage_db, wanted, events, connector_rows, read_seconds)
                result |= figures
                payloads = payloads or sample
            if "transport" in wanted and "transport_events_per_s" not in result:
                result["transport_events_per_s"] = round(_transport(settings, payloads or [b"x" * 1000]), 1)
        finally:
            if broker is not None:
                broker.stop()
    result["database"] = settings.db_url.split(":", 1)[0]
    if "reading_worklist" in wanted:
        result |= run_reading_benchmark(base)  # the reading centres' worklist and claims at 10,000 open items
    if "soak" in wanted and soak_s > 0:
        with tempfile.TemporaryDirectory(prefix="hub-bench-soak-") as tmp:
            result |= run_soak(base, Path(tmp), soak_s)
    return result


class _TimedEcg(EcgConsumer):
    """The real ECG consumer, noting when each study was stored (inside its transaction)."""

    def __init__(self, settings: HubSettings) -> None:
        super().__init__(settings)
        self.ready: dict[str, float] = {}

    def apply_batch(self, session: Any, deliveries: list[Delivery]) -> None:
        super().apply_batch(session, deliveries)
        now = time.time()
        self.ready.update({d.event.event_id: now for d in deliveries if d.event})


def _ecg_stage(settings: HubSettings, database: Database, studies: int = 20) -> list[float]:
    """ECG ingest to ready: a DICOM 12-lead ECG read at the door (parse, waveform to the blob store,
    outbox, broker) until its measurements are stored. One at a time, a cart's pace."""
    blobs = FileBlobStore(settings.data_dir / "blobs")
    outbox = Outbox(settings.outbox_path("bench-ecg"), "bench-ecg")
    sink = pipeline.Sink("bench-ecg", "th01", outbox, EventCodec(make_registry(settings.schema_registry_url), settings.topic_prefix), settings)
    relay = OutboxRelay(outbox, settings)
    relay.check_epoch(force=True)
    consumer = _TimedEcg(settings)
    runner = ConsumerRunner(consumer, settings, database, EventCodec(make_registry(settings.schema_registry_url), settings.topic_prefix))
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    started: dict[str, float] = {}
    try:
        _wait(lambda: runner.assigned, 60, "the ECG consumer never got its partitions")
        for n in range(studies + 1):  # the first warms up (group join, the libraries' first calls) and is not counted
            dicom = ecg_file(n)
            t0 = time.time()
            result = ingest_dicom(dicom, f"bench{n}.dcm", "th01", blobs)
            sink.accept(result)
            while outbox.backlog():
                relay.publish_pending()
            event_id = result.events[0].event_id
            if n:
                started[event_id] = t0
            _wait(lambda e=event_id: e in consumer.ready, 120, "an ECG was not measured within 120 s")
    finally:
        stop.set()
        thread.join(15)
        relay.close()
    return [(consumer.ready[e] - t0) * 1000 for e, t0 in started.items()]


def _whole_path(settings: HubSettings, database: Database, events: int, rates: tuple[float | None, ...],
                latency_seconds: float) -> dict[str, Any]:
    """Throughput of the whole path on a filled county, then a steady phase at each of `rates` (None: no
    100 events/s phase). Returns the figures (the existing keys and latency_<rate>_ms_*) and payloads."""
    county = build_county(settings.data_dir, seed=settings.demo_seed)
    simulator = CountySimulator(county, rate=1.0, seed=settings.demo_seed)
    simulator.seed_population()
    written = 0
    while written < events:
        written += simulator.step(min(2000, events - written))
    codec = EventCodec(make_registry(settings.schema_registry_url), settings.topic_prefix)
    consumer = _TimedRecordStore(settings)
    runner = ConsumerRunner(consumer, settings, database, codec)
    stop = threading.Event()
    consumer_thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    consumer_thread.start()
    _wait(lambda: runner.assigned, 60, "the benchmark consumer never got its partitions")

    runtimes = [ConnectorRuntime.build(c, settings, registered.connector_class(c.kind), codec)
                for c in map(registered.load_connector_config, county.connector_configs)]
    started, cpu = time.perf_counter(), time.process_time()
    threads = [t for rt in runtimes for t in rt.threads(stop)]
    for thread in threads:
        thread.start()
    # Done when every connector has read all its rows and everything it accepted was applied.
    def finished() -> bool:
        idle = all(rt.outbox.backlog() == 0 for rt in runtimes)
        produced = sum(_events_in(rt) for rt in runtimes)
        return idle and produced > 0 and runner.applied_total >= produced and _sources_drained(runtimes)

    _wait(finished, 900, "the whole path did not finish within 15 minutes")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    applied = runner.applied_total
    figures: dict[str, Any] = {
        "events": applied,
        "e2e_events_per_s": round(applied / seconds, 1),
        "e2e_cpu_s_per_1000": round(cpu * 1000 / applied, 3),
        "connectors": len(runtimes),
    }

    # Latency at steady clinical rates (the backlog above measures throughput, not latency).
    for rate in rates:
        if rate is None:
            continue
        consumer.clear()
        before = runner.applied_total
        simulator.rate = rate
        sim_stop = threading.Event()
        sim_thread = threading.Thread(target=simulator.run, args=(sim_stop,), daemon=True)
        phase = time.perf_counter()
        sim_thread.start()
        time.sleep(latency_seconds)
        sim_stop.set()
        sim_thread.join(10)
        _wait(finished, 900, f"the latency phase at {rate:.0f} events/s did not drain")
        if rate == 100.0:  # the original figure: from the connector's read
            latencies = consumer.latencies_ms or [0.0]
            figures |= {"latency_ms_p50": round(statistics.median(latencies), 1),
                        "latency_ms_p99": round(percentile(latencies, 99), 1)}
            continue
        latencies = consumer.commit_latencies_ms or [0.0]
        figures |= {f"latency_{rate:.0f}_ms_p50": round(statistics.median(latencies), 1),
                    f"latency_{rate:.0f}_ms_p99": round(percentile(latencies, 99), 1),
                    # what the county wrote and the path applied (with its drain) over the phase
                    f"latency_{rate:.0f}_applied_events_per_s": round(
                        (runner.applied_total - before) / (time.perf_counter() - phase), 1)}
    stop.set()
    for thread in [*threads, consumer_thread]:
        thread.join(10)
    payloads = []
    for rt in runtimes[:3]:
        payloads += [row.record.value for row in _sample(rt)]
    simulator.close()
    return figures | {"payloads": payloads or [b"x" * 1000]}


def _events_in(rt: ConnectorRuntime) -> int:
    conn = rt.outbox._conn()
    dead = "%dead-letter%"
    return int(conn.execute("SELECT COUNT(*) FROM outbox WHERE topic NOT LIKE ?", (dead,)).fetchone()[0])


def _sources_drained(runtimes: list[ConnectorRuntime]) -> bool:
    # A poll that finds nothing new leaves the checkpoints where they are; two equal looks a
    # poll interval apart mean the connector has caught up with its HIS database.
    before = [rt.outbox.checkpoints() for rt in runtimes]
    time.sleep(max(rt.config.poll_interval_s for rt in runtimes) * 1.5)
    return before == [rt.outbox.checkpoints() for rt in runtimes]


def _sample(rt: ConnectorRuntime, limit: int = 2000) -> list[Any]:
    rows = rt.outbox._conn().execute(
        "SELECT seq, event_id, topic, key, value, headers, created_at, published_at FROM outbox "
        "WHERE topic NOT LIKE '%dead-letter%' ORDER BY seq LIMIT ?",
        (limit,),
    ).fetchall()
    return [_stored(r) for r in rows]


def _transport(settings: HubSettings, payloads: list[bytes], total: int | None = None) -> float:
    """Bare kafka-python: produce and consume the same payloads, concurrently, same settings."""
    total = total or max(20000, len(payloads))
    topic = f"{settings.topic_prefix}transport"

    kafka_io.ensure_topics(settings, [TopicSpec("transport", "transport", 6, (), "benchmark")])
    consumer = kafka_io.consumer(settings, f"{settings.topic_prefix}transport-bench", [topic])
    while not consumer.assignment():
        consumer.poll(timeout_ms=200)
    received = 0
    started = time.perf_counter()

    def produce() -> None:
        producer = kafka_io.producer(settings)
        for i in range(total):
            producer.send(topic, key=str(i % 500).encode(), value=payloads[i % len(payloads)])
        producer.flush()
        producer.close()

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300
    while received < total and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            received += len(batch)
    seconds = time.perf_counter() - started
    thread.join(30)
    consumer.close()
    return received / seconds


def _wait(condition: Any, timeout_s: float, message: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError(message)
