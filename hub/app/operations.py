"""The operations figures of the running hub and their last hour, for the status page and `hub status`.

A sampler thread in `hub run` looks every `operations_sample_s` (15 s) at the consumer groups' lag
(one LagMonitor), the outboxes and the data disk, and keeps the last hour in a ring buffer: 240
points of a few numbers per consumer, topic and connector, so memory stays bounded (some 2.5 MB for
the demo county's 10 consumers, 16 topics and 30 outboxes). Latency percentiles are estimated from hub_event_latency_seconds' buckets as
Prometheus' histogram_quantile does: per window from the change of the buckets, and since the start.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Metric

from hub.app.parts import all_consumers
from hub.core import metrics
from hub.core.config import HubSettings
from hub.core.lag import LagMonitor, PartitionLag, WatchedGroup
from hub.core.topics import spec_for

log = logging.getLogger(__name__)

HISTORY_S = 3600.0  # the status page's charts show the last hour


def watched_groups(settings: HubSettings) -> list[WatchedGroup]:
    """Every consumer part's group, running here or not: a stopped group must show its growing lag."""
    return [
        WatchedGroup(c.name, f"{settings.topic_prefix}hub.{c.name}",
                     tuple(spec_for(t).topic(settings) for t in c.event_types))
        for c in all_consumers()
    ]


# Latency percentiles from histogram buckets --------------------------------------------------------

Buckets = dict[str, list[tuple[float, float]]]  # topic -> [(upper bound, cumulative count)], by bound


def latency_buckets(families: Iterable[Metric]) -> Buckets:
    """hub_event_latency_seconds' cumulative buckets per topic, summed over consumers and facilities.
    `families`: the histogram's own collect() in the hub, or a parsed /metrics text from another process."""
    sums: dict[str, dict[float, float]] = {}
    name = metrics.family_name(metrics.EVENT_LATENCY)
    for family in families:
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                topic = sample.labels.get("topic", "")
                bound = float(sample.labels["le"])
                sums.setdefault(topic, {})[bound] = sums.get(topic, {}).get(bound, 0.0) + sample.value
    return {topic: sorted(bounds.items()) for topic, bounds in sums.items()}


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The q-quantile of a cumulative histogram, interpolated inside its bucket (None: no events).
    In the +Inf bucket it is the largest finite bound, as in Prometheus."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def _minus(now: list[tuple[float, float]], before: list[tuple[float, float]] | None) -> list[tuple[float, float]]:
    earlier = dict(before or ())
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in now]


@dataclass(frozen=True)
class TopicLatency:
    topic: str
    events: int
    p50_s: float | None
    p99_s: float | None


def latency_summary(buckets: Buckets) -> list[TopicLatency]:
    return [
        TopicLatency(topic, int(b[-1][1]), quantile(0.5, b), quantile(0.99, b))
        for topic, b in sorted(buckets.items()) if b and b[-1][1] > 0
    ]


# The last hour -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    t: float  # unix time of the sample
    lag: dict[str, int]  # consumer -> messages behind, over its partitions
    lag_seconds: dict[str, float]  # consumer -> age of its oldest unapplied event (worst partition)
    latency_p50: dict[str, float]  # topic -> seconds, events applied since the previous point
    latency_p99: dict[str, float]
    outbox_backlog: dict[str, int]  # connector -> unpublished events
    outbox_oldest_s: dict[str, float]  # connector -> age of the oldest of them


@dataclass
class OperationsHistory:
    """The last hour of points, oldest first; thread-safe (the sampler adds, requests read)."""

    interval_s: float = 15.0
    points: deque[Point] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.points = deque(self.points, maxlen=max(2, int(HISTORY_S / self.interval_s)))

    def add(self, point: Point) -> None:
        with self.lock:
            self.points.append(point)

    def as_dict(self, since: float | None = None) -> dict[str, Any]:
        """The points after `since` (a page polling every few seconds asks only for the new ones)."""
        with self.lock:
            points = [asdict(p) for p in self.points if since is None or p.t > since]
        return {"interval_s": self.interval_s, "span_s": HISTORY_S, "points": points}


def _gauge_values(families: Iterable[Metric], gauge: Any, label: str) -> dict[str, float]:
    values: dict[str, float] = {}
    name = metrics.family_name(gauge)
    for family in families:
        if family.name == name:
            for sample in family.samples:
                values[sample.labels[label]] = sample.value
    return values


class OperationsSampler:
    """The hub process's one lag monitor and the history's clock (a thread of `hub run`)."""

    def __init__(self, settings: HubSettings, monitor: LagMonitor | None = None,
                 registry: CollectorRegistry = REGISTRY) -> None:
        self.settings = settings
        self.registry = registry  # this process's metrics, or merged with the children's (hub/app/child_state.py)
        self.monitor = monitor or LagMonitor(settings, watched_groups(settings))
        self.history = OperationsHistory(settings.operations_sample_s)
        self.latest: list[PartitionLag] | None = None  # the last lag sample; None until one succeeded
        self._buckets: Buckets = {}

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                started = time.monotonic()
                self.sample_once()
                stop.wait(max(0.5, self.settings.operations_sample_s - (time.monotonic() - started)))
        finally:
            self.monitor.close()

    def sample_once(self) -> None:
        try:
            self.latest = self.monitor.sample()
        except Exception as exc:  # noqa: BLE001 - a broker that is down is reported by /readyz and the relays
            log.info("lag monitor: %s", exc)
            self.latest = None
        self._disk()
        self.history.add(self._point())

    def _disk(self) -> None:
        try:
            usage = shutil.disk_usage(self.settings.data_dir)
        except OSError:
            return
        metrics.DATA_DISK_FREE.set(usage.free)
        metrics.DATA_DISK_SIZE.set(usage.total)

    def _point(self) -> Point:
        lag: dict[str, int] = {}
        seconds: dict[str, float] = {}
        for part in self.latest or ():
            lag[part.consumer] = lag.get(part.consumer, 0) + part.messages
            if part.seconds is not None:
                seconds[part.consumer] = max(seconds.get(part.consumer, 0.0), part.seconds)
        families = list(self.registry.collect())
        buckets = latency_buckets(families)
        p50: dict[str, float] = {}
        p99: dict[str, float] = {}
        for topic, now in buckets.items():
            window = _minus(now, self._buckets.get(topic))
            if (median := quantile(0.5, window)) is not None:
                p50[topic] = median
                p99[topic] = quantile(0.99, window) or median
        self._buckets = buckets
        return Point(
            t=time.time(), lag=lag, lag_seconds=seconds, latency_p50=p50, latency_p99=p99,
            outbox_backlog={k: int(v) for k, v in _gauge_values(families, metrics.OUTBOX_BACKLOG, "connector").items()},
            outbox_oldest_s=_gauge_values(families, metrics.OUTBOX_OLDEST_SECONDS, "connector"),
        )


def totals(lags: Iterable[PartitionLag]) -> Mapping[str, tuple[int, float | None]]:
    """Per consumer: messages behind and the worst partition's seconds (None when unknown)."""
    out: dict[str, tuple[int, float | None]] = {}
    for part in lags:
        messages, seconds = out.get(part.consumer, (0, 0.0))
        worst = None if seconds is None or part.seconds is None else max(seconds, part.seconds)
        out[part.consumer] = (messages + part.messages, worst)
    return out
