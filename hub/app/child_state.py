"""What the hub knows of its child processes: each child's /metrics (HUB_METRICS_PORT, loopback), read
briefly cached, and merged with the hub's own metrics for /metrics, the status page and /readyz.

Every sample read from a child gets the label `child` (e.g. child="consumer-record_store"): two
children may export the same series (each consumer process relays the results outbox), and Prometheus
needs them apart. One scrape of the hub (`hub:8080/metrics`) thus covers every process of `hub run`.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from hub.app.supervisor import Child, Supervisor
from hub.core.metrics import family_name

CHILD_LABEL = "child"


def _scrape(child: Child, timeout_s: float) -> list[Metric]:
    if not child.alive or child.metrics_port is None:
        return []
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{child.metrics_port}/metrics", timeout=timeout_s) as answer:  # noqa: S310
            text = answer.read().decode("utf-8")
    except (OSError, ValueError):
        return []  # starting, stopping or stuck: its state is unknown until the next read
    families = list(text_string_to_metric_families(text))
    for family in families:
        family.samples = [s._replace(labels={**s.labels, CHILD_LABEL: child.spec.name}) for s in family.samples]
    return families


class ChildrenMetrics:
    """The children's metric families, read at most once per `ttl_s` (/readyz and the status page poll)."""

    def __init__(self, supervisor: Supervisor, ttl_s: float = 1.0, timeout_s: float = 1.0) -> None:
        self.supervisor = supervisor
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._read_at = 0.0
        self._families: list[Metric] = []
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="child-metrics")

    def families(self) -> list[Metric]:
        with self._lock:
            if time.monotonic() - self._read_at > self.ttl_s:
                children = self.supervisor.children
                read = self._pool.map(lambda c: _scrape(c, self.timeout_s), children)
                self._families = [family for families in read for family in families]
                self._read_at = time.monotonic()
            return self._families

    def values(self, metric: Any, label: str) -> dict[str, float]:
        """A gauge's or counter's (hub/core/metrics.py) values in the children, by `label`, summed."""
        name = family_name(metric)
        wanted = (name, f"{name}_total")  # a counter's samples; not its `_created`
        out: dict[str, float] = {}
        for family in self.families():
            if family.name != name:
                continue
            for sample in family.samples:
                if sample.name in wanted and label in sample.labels:
                    key = sample.labels[label]
                    out[key] = out.get(key, 0.0) + sample.value
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Merged(Collector):
    """A collector of the hub's own families and its children's, one family per name."""

    def __init__(self, local: CollectorRegistry, children: ChildrenMetrics) -> None:
        self.local = local
        self.children = children

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration: the names are those of the hub's own metrics

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for family in chain(self.local.collect(), self.children.families()):
            known = merged.get(family.name)
            if known is None:
                copy = Metric(family.name, family.documentation, family.type, family.unit)
                copy.samples = list(family.samples)
                merged[family.name] = copy
            elif known.type == family.type:
                known.samples.extend(family.samples)
        yield from merged.values()


def merged_registry(children: ChildrenMetrics, local: CollectorRegistry = REGISTRY) -> CollectorRegistry:
    """A registry whose collection is the hub's metrics and every child's (what the hub's /metrics serves)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged(local, children))
    return registry
