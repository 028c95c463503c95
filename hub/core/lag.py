"""Consumer lag in messages and in seconds for the hub's consumer groups, running or stopped.

Lag in seconds is the age of the oldest event a group has not applied: now minus the Kafka
timestamp of the record at the group's committed offset (the time the outbox relay sent it, or
the broker's append time on a topic configured so). The record is read once per committed offset
and its time kept, so a stopped group's lag keeps growing at no cost, and a running group costs
one small fetch per partition that moved. End offsets are the high watermarks those same fetches
return: Tansu 0.6 answers ListOffsets(latest) with the first offset of the last batch, not the end.
One monitor (one admin client, one group-less consumer) serves the whole process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.core import kafka_io, metrics
from hub.core.config import HubSettings

log = logging.getLogger(__name__)

TopicPartition = kafka_io.TopicPartition


@dataclass(frozen=True)
class WatchedGroup:
    consumer: str  # the consumer's name, the `consumer` label
    group_id: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class PartitionLag:
    consumer: str
    topic: str
    partition: int
    next_offset: int  # the first offset the group has not applied
    end_offset: int
    messages: int
    seconds: float | None  # None: the oldest unapplied record could not be read in time

    @property
    def key(self) -> str:
        return f"{self.topic}[{self.partition}]"


class LagMonitor:
    def __init__(self, settings: HubSettings, groups: Sequence[WatchedGroup], clock: Callable[[], float] = time.time,
                 read_timeout_s: float = 3.0) -> None:
        self.settings = settings
        self.groups = list(groups)
        self.clock = clock
        self.read_timeout_s = read_timeout_s
        self._admin: Any = None
        self._probe: Any = None
        self._stamps: dict[tuple[str, int, int], float] = {}  # (topic, partition, offset) -> record time (s)

    def sample(self) -> list[PartitionLag]:
        """One look at every watched group; sets hub_consumer_lag and hub_consumer_lag_seconds.
        Raises KafkaError when the broker does not answer (the clients are dropped and made again)."""
        try:
            return self._sample()
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        admin, self._admin = self._admin, None
        probe, self._probe = self._probe, None
        kafka_io.close_quietly(admin, "lag monitor admin client")
        kafka_io.close_quietly(probe, "lag monitor consumer", autocommit=False)

    # One sample -----------------------------------------------------------------------------------

    def _sample(self) -> list[PartitionLag]:
        if self._admin is None:
            self._admin = kafka_io.admin(self.settings)
            self._probe = kafka_io.probe(self.settings)
        partitions = {topic: self._partitions(topic) for group in self.groups for topic in group.topics}
        every = sorted({tp for tps in partitions.values() for tp in tps})
        if not every:
            return []
        starts: dict[Any, int] = self._probe.beginning_offsets(every)
        # The first unapplied offset of each group: its commit, or the log start when it has none yet
        # (consumers start from the earliest) or when retention removed what it had not read.
        unapplied: dict[str, dict[Any, int]] = {}
        for group in self.groups:
            committed = kafka_io.group_offsets(self.settings, group.group_id, self._admin)
            unapplied[group.group_id] = {
                tp: max(committed.get(tp, starts.get(tp, 0)), starts.get(tp, 0))
                for topic in group.topics for tp in partitions[topic]
            }
        wanted: dict[Any, set[int]] = {tp: set() for tp in every}
        for offsets in unapplied.values():
            for tp, offset in offsets.items():
                wanted[tp].add(offset)
        ends = self._read(wanted)
        now = self.clock()
        lags = []
        for group in self.groups:
            for tp, offset in sorted(unapplied[group.group_id].items()):
                end = ends.get(tp)
                if end is None:
                    continue  # the partition did not answer in time: its gauges keep their last value
                behind = max(0, end - offset)
                stamp = self._stamps.get((tp.topic, tp.partition, offset))
                seconds = 0.0 if behind == 0 else (None if stamp is None else max(0.0, now - stamp))
                lag = PartitionLag(group.consumer, tp.topic, tp.partition, offset, end, behind, seconds)
                lags.append(lag)
                labels = (group.consumer, tp.topic, str(tp.partition))
                metrics.CONSUMER_LAG.labels(*labels).set(behind)
                if seconds is not None:
                    metrics.CONSUMER_LAG_SECONDS.labels(*labels).set(seconds)
        keep = {(tp.topic, tp.partition, offset) for tp, offsets in wanted.items() for offset in offsets}
        self._stamps = {key: stamp for key, stamp in self._stamps.items() if key in keep}  # bounded: one per group and partition
        return lags

    def _partitions(self, topic: str) -> list[Any]:
        numbers = self._probe.partitions_for_topic(topic) or ()
        return [TopicPartition(topic, p) for p in sorted(numbers)]

    def _read(self, wanted: dict[Any, set[int]]) -> dict[Any, int]:
        """Reads the record at each wanted offset whose time is not known yet, and learns every
        partition's end; returns the ends. Each round seeks every partition to one offset."""
        todo = {
            tp: sorted(o for o in offsets if (tp.topic, tp.partition, o) not in self._stamps) or [max(offsets)]
            for tp, offsets in wanted.items()
        }
        ends: dict[Any, int] = {}
        while todo:
            targets = {tp: offsets.pop(0) for tp, offsets in todo.items()}
            todo = {tp: offsets for tp, offsets in todo.items() if offsets}
            for tp, end in self._read_round(targets).items():
                ends[tp] = max(end, ends.get(tp, 0))
            # An offset at or past the end has no record to read.
            todo = {tp: [o for o in offsets if tp not in ends or o < ends[tp]] for tp, offsets in todo.items()}
            todo = {tp: offsets for tp, offsets in todo.items() if offsets}
        return ends

    def _read_round(self, targets: dict[Any, int]) -> dict[Any, int]:
        probe = self._probe
        # Dropped and assigned afresh: an assignment of the same partitions would keep their pauses and
        # the high watermarks of an earlier round, which must not pass for this round's answers.
        probe.unsubscribe()
        probe.assign(list(targets))
        for tp, offset in targets.items():
            probe.seek(tp, offset)
        pending = set(targets)
        deadline = time.monotonic() + self.read_timeout_s
        while pending and time.monotonic() < deadline:
            for tp, records in probe.poll(timeout_ms=100).items():
                first = next((r for r in records if r.offset >= targets[tp]), None)
                if tp in pending and first is not None:
                    self._stamps[(tp.topic, tp.partition, targets[tp])] = first.timestamp / 1000
                    pending.discard(tp)
                    probe.pause(tp)  # one record was all it needed: fetch no more of a long backlog
            for tp in list(pending):
                end = probe.highwater(tp)
                if end is not None and targets[tp] >= end:
                    pending.discard(tp)  # nothing to read there: the group is caught up
        if pending:
            log.warning("lag monitor: no answer in %.0f s for %s", self.read_timeout_s,
                        ", ".join(f"{tp.topic}[{tp.partition}]@{targets[tp]}" for tp in sorted(pending)))
        return {tp: end for tp in targets if (end := probe.highwater(tp)) is not None}
