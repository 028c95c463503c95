"""The operations figures around the lag monitor: latency percentiles from buckets, the sampled hour,
the outboxes' oldest event, the data disk (issue 13)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hub.app.operations import OperationsSampler, latency_buckets, quantile
from hub.core import metrics
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.lag import PartitionLag
from hub.core.outbox import Outbox, OutboxRecord, OutboxRelay
from hub.core.results import ResultOutbox
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import spec_for
from tests.hub.test_results_outbox import report_event


def test_quantiles_interpolate_inside_the_bucket_as_prometheus_does() -> None:
    inf = float("inf")
    buckets = [(0.1, 0.0), (0.5, 50.0), (1.0, 90.0), (5.0, 100.0), (inf, 100.0)]
    assert quantile(0.5, buckets) == pytest.approx(0.5)
    assert quantile(0.25, buckets) == pytest.approx(0.1 + 0.4 * 25 / 50)
    assert quantile(0.99, buckets) == pytest.approx(1.0 + 4.0 * 9 / 10)
    assert quantile(0.99, [(1.0, 1.0), (inf, 10.0)]) == 1.0  # in +Inf: the largest finite bound
    assert quantile(0.5, [(1.0, 0.0), (inf, 0.0)]) is None


class StoppedGroups:
    """A lag monitor's answer without a broker: one group 7 behind on two partitions."""

    def __init__(self) -> None:
        self.closed = False

    def sample(self) -> list[PartitionLag]:
        return [PartitionLag("reading", "t.hub.imaging_request.v1", 0, 3, 8, 5, 40.0),
                PartitionLag("reading", "t.hub.imaging_request.v1", 1, 0, 2, 2, 95.5),
                PartitionLag("record_store", "t.hub.patient.v1", 0, 9, 9, 0, 0.0)]

    def close(self) -> None:
        self.closed = True


def test_each_point_of_the_hour_holds_lag_latency_of_its_window_outboxes_and_disk(settings: HubSettings) -> None:
    sampler = OperationsSampler(settings, monitor=StoppedGroups())  # type: ignore[arg-type]
    topic = f"t{time.monotonic_ns()}.hub.lab_result.v1"  # the histogram is process-wide
    metrics.OUTBOX_BACKLOG.labels("ops-test-his").set(12)
    metrics.OUTBOX_OLDEST_SECONDS.labels("ops-test-his").set(33.0)
    sampler.sample_once()
    for seconds in (0.2, 0.3, 0.4, 0.45, 20.0):
        metrics.EVENT_LATENCY.labels("record_store", topic, "th01").observe(seconds)
    sampler.sample_once()
    sampler.sample_once()  # nothing applied in this window: no latency point for the topic
    first, second, third = sampler.history.as_dict()["points"]
    assert second["lag"] == {"reading": 7, "record_store": 0}
    assert second["lag_seconds"] == {"reading": 95.5, "record_store": 0.0}
    assert topic not in first["latency_p50"] and topic not in third["latency_p50"]
    assert 0.25 <= second["latency_p50"][topic] <= 0.5 and 10 <= second["latency_p99"][topic] <= 30
    assert second["outbox_backlog"]["ops-test-his"] == 12 and second["outbox_oldest_s"]["ops-test-his"] == 33.0
    assert metrics.DATA_DISK_SIZE._value.get() > metrics.DATA_DISK_FREE._value.get() > 0
    since = sampler.history.as_dict(since=second["t"])["points"]
    assert [p["t"] for p in since] == [third["t"]]
    assert latency_buckets(metrics.EVENT_LATENCY.collect())[topic][-1] == (float("inf"), 5.0)


def test_the_history_keeps_one_hour(settings: HubSettings) -> None:
    sampler = OperationsSampler(settings.model_copy(update={"operations_sample_s": 600}),
                                monitor=StoppedGroups())  # type: ignore[arg-type]
    for _ in range(9):
        sampler.sample_once()
    assert len(sampler.history.as_dict()["points"]) == 6


def test_outbox_oldest_event_age(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "th01-his.db", "th01-his")
    assert outbox.oldest_pending() is None
    before = time.time()
    outbox.write([OutboxRecord("e1", "t", b"k", b"v"), OutboxRecord("e2", "t", b"k", b"v")])
    oldest = outbox.oldest_pending()
    assert oldest is not None and before <= oldest <= time.time()
    outbox.mark_published([row.seq for row in outbox.pending(1)])
    assert outbox.oldest_pending() is not None
    outbox.mark_published([row.seq for row in outbox.pending(10)])
    assert outbox.oldest_pending() is None
    outbox.close()


def test_results_outbox_oldest_event_age(db: Database, settings: HubSettings) -> None:
    results = ResultOutbox(db, EventCodec(FileSchemaRegistry(), settings.topic_prefix), settings)
    assert results.oldest_pending() is None
    before = time.time()
    with db.transaction() as session:
        results.add(session, [report_event()], "reading")
    oldest = results.oldest_pending()
    assert oldest is not None and before - 1 <= oldest <= time.time()
    results.mark_published([row.seq for row in results.pending(10)])
    assert results.oldest_pending() is None


@pytest.mark.broker
def test_the_relay_reports_the_age_of_what_still_waits(broker_settings: HubSettings, tmp_path: Path) -> None:
    name = f"age-{time.monotonic_ns()}"
    outbox = Outbox(tmp_path / f"{name}.db", name)
    topic = spec_for("patient").topic(broker_settings)
    outbox.write([OutboxRecord("a1", topic, b"th01/1", b"one"), OutboxRecord("a2", topic, b"th01/1", b"two")])
    relay = OutboxRelay(outbox, broker_settings, batch_size=1)
    try:
        time.sleep(0.05)  # so the second event is measurably old
        assert relay.publish_pending() == 1
        assert metrics.OUTBOX_OLDEST_SECONDS.labels(name)._value.get() >= 0.05
        assert metrics.OUTBOX_BACKLOG.labels(name)._value.get() == 1
        assert relay.publish_pending() == 1
        assert metrics.OUTBOX_OLDEST_SECONDS.labels(name)._value.get() == 0
    finally:
        relay.close()
        outbox.close()
