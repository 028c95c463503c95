"""Lag in seconds and end-to-end latency against the real broker and database (issue 13)."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta

import pytest

from consumers.record_store.consumer import RecordStoreConsumer
from hub.core import metrics
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.db.models import ProcessedEvent
from hub.core.lag import LagMonitor, WatchedGroup
from hub.core.outbox import Outbox, OutboxRelay
from hub.core.topics import spec_for
from tests.factories import encounter_event, patient_event
from tests.hub.test_consuming import count, publish, runner_for, running
from tests.waiting import wait_for

pytestmark = pytest.mark.broker


class Clock:
    """Wall time plus a jump the test chooses: lag can grow by a minute without waiting one."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


def gauge(metric, *labels: str) -> float:
    return float(metric.labels(*labels)._value.get())


def replay(settings: HubSettings, name: str = "th01-his") -> None:
    outbox = Outbox(settings.outbox_path(name), name)
    outbox.mark_for_replay()
    relay = OutboxRelay(outbox, settings)
    while outbox.backlog():
        relay.publish_pending()
    relay.close()
    outbox.close()


def histogram_count(consumer: str, topic: str, facility: str) -> float:
    for family in metrics.EVENT_LATENCY.collect():
        for sample in family.samples:
            if sample.name.endswith("_count") and sample.labels == {
                "consumer": consumer, "topic": topic, "facility": facility,
            }:
                return sample.value
    return 0.0


def test_lag_seconds_grow_while_a_consumer_is_stopped_and_fall_after_it_catches_up(
    broker_settings: HubSettings, db: Database
) -> None:
    settings = broker_settings
    topics = tuple(spec_for(t).topic(settings) for t in ("patient", "encounter"))
    runner = runner_for(RecordStoreConsumer(), settings, db)
    clock = Clock()
    # The running group, and one that never ran (a part whose consumer is stopped from the start).
    monitor = LagMonitor(settings, [WatchedGroup("record_store", runner.group_id, topics),
                                    WatchedGroup("idle", f"{settings.topic_prefix}hub.idle", topics)], clock=clock)
    try:
        first = [patient_event("th01", str(p), resident_id=None) for p in range(6)]
        publish(settings, first)
        with running(runner):
            wait_for(lambda: count(db, ProcessedEvent) == 6)
        caught_up = {(p.consumer, p.key): p for p in monitor.sample()}
        assert sum(p.messages for (c, _), p in caught_up.items() if c == "record_store") == 0
        assert all(p.seconds == 0 for (c, _), p in caught_up.items() if c == "record_store")
        assert sum(p.messages for (c, _), p in caught_up.items() if c == "idle") == 6

        # The consumer is stopped; 9 more events arrive (end offsets checked against what was sent:
        # the broker's ListOffsets answer is not trusted).
        sent_at = time.time()
        publish(settings, [encounter_event("th01", str(v % 6), visit=v) for v in range(9)])
        stopped = [p for p in monitor.sample() if p.consumer == "record_store"]
        assert sum(p.messages for p in stopped) == 9
        behind = [p for p in stopped if p.messages]
        assert behind and all(p.seconds is not None for p in behind)
        worst = max(p.seconds or 0.0 for p in behind)
        assert 0 <= worst <= time.time() - sent_at + 1  # the age of the oldest unapplied record

        clock.ahead = 60.0  # a minute later, still stopped: the same records are a minute older
        later = {p.key: p for p in monitor.sample() if p.consumer == "record_store"}
        for p in behind:
            assert later[p.key].messages == p.messages
            assert later[p.key].seconds == pytest.approx((p.seconds or 0) + 60, abs=2)
        labels = ("record_store", behind[0].topic, str(behind[0].partition))
        assert gauge(metrics.CONSUMER_LAG_SECONDS, *labels) >= 60
        assert gauge(metrics.CONSUMER_LAG, *labels) == behind[0].messages
        idle = [p for p in monitor.sample() if p.consumer == "idle"]
        assert sum(p.messages for p in idle) == 15 and max(p.seconds or 0 for p in idle) >= 60

        with running(runner):  # restarted: it catches up and the lag falls to nothing
            wait_for(lambda: count(db, ProcessedEvent) == 15)
            wait_for(lambda: all(p.messages == 0 for p in monitor.sample() if p.consumer == "record_store"))
        assert gauge(metrics.CONSUMER_LAG_SECONDS, *labels) == 0
        assert gauge(metrics.CONSUMER_LAG, *labels) == 0
    finally:
        monitor.close()


def test_latency_is_observed_once_per_applied_event_with_its_facility(
    broker_settings: HubSettings, db: Database
) -> None:
    settings = broker_settings
    facility = "th01"  # the test connector's member; topics are private to this test
    topic, old_topic = spec_for("patient").topic(settings), spec_for("encounter").topic(settings)
    now = datetime.now(UTC)
    recent = [dataclasses.replace(patient_event(facility, str(p), resident_id=None),
                                  occurred_at=now - timedelta(seconds=2)) for p in range(4)]
    # A member's history read for the first time (row change times days ago): not pipeline latency.
    history = [dataclasses.replace(encounter_event(facility, "1", visit=1), occurred_at=now - timedelta(days=3))]
    publish(settings, [*recent, *history])
    before = metrics.EVENT_LATENCY.labels("record_store", topic, facility)._sum.get()
    started = time.time()
    with running(runner_for(RecordStoreConsumer(), settings, db)):
        wait_for(lambda: count(db, ProcessedEvent) == 5)
        replay(settings)  # all again, as `hub replay` would: duplicates are skipped, not observed again
        wait_for(lambda: metrics.EVENTS_DUPLICATE.labels("record_store", topic)._value.get() >= 4)
    assert histogram_count("record_store", topic, facility) == 4
    observed = metrics.EVENT_LATENCY.labels("record_store", topic, facility)._sum.get() - before
    assert 4 * 2 <= observed <= 4 * (2 + time.time() - started + 1)  # from occurred_at to the commit
    assert histogram_count("record_store", old_topic, facility) == 0
