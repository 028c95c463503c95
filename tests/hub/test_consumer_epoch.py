"""A busy broker is not a new broker: a consumer re-reads its topics from the start only when the
broker's epoch really changed, and a consumer rebuilt after a broker error resumes where it committed.
Each case failed before: under load the record store re-read every topic again and again and applied
nothing new for minutes."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from consumers.record_store.consumer import RecordStoreConsumer
from hub.core import kafka_io
from hub.core.config import HubSettings
from hub.core.consuming import ConsumerRunner, _EpochGuard
from hub.core.db import Database
from hub.core.db.models import ProcessedEvent
from tests.factories import encounter_event, random_events
from tests.hub.test_consuming import count, publish, runner_for, running
from tests.waiting import wait_for

pytestmark = pytest.mark.broker


def later_visits(n: int) -> list:
    """Encounters of random_events' patients that random_events never makes."""
    return [encounter_event("th01", str(i % 20), visit=10_000 + i) for i in range(n)]


def duplicates(runner: ConsumerRunner) -> float:
    return sum(REGISTRY.get_sample_value("hub_events_duplicate_total", {"consumer": runner.consumer.name, "topic": t})
               or 0.0 for t in runner.topics)


class _Answers:
    """The runner's epoch look, answering from a script first (an exception is raised), then truly."""

    def __init__(self, runner: ConsumerRunner, script: list[Any]) -> None:
        self.truly = runner._broker_epoch
        self.script = script

    def __call__(self) -> str | None:
        if self.script:
            answer = self.script.pop(0)
            if isinstance(answer, BaseException):
                raise answer
            return answer
        return self.truly()


@pytest.mark.parametrize("moment", ["timeout", "no answer"])
def test_an_epoch_the_broker_cannot_say_now_reads_nothing_again(broker_settings: HubSettings, db: Database,
                                                               moment: str) -> None:
    publish(broker_settings, random_events(100))
    runner = runner_for(RecordStoreConsumer(), broker_settings, db)
    with running(runner):
        wait_for(lambda: count(db, ProcessedEvent) == 100)
        hiccup = kafka_io.KafkaError("request timed out") if moment == "timeout" else None
        runner._broker_epoch = _Answers(runner, [hiccup] * 3)  # type: ignore[method-assign]
        runner._last_epoch_check = 0.0  # the main loop looks at once
        publish(broker_settings, later_visits(50))
        wait_for(lambda: count(db, ProcessedEvent) == 150 and not runner._broker_epoch.script)  # type: ignore[attr-defined]
    assert duplicates(runner) == 0


class _FailsOnce:
    """A Kafka consumer whose next poll fails once when told (a broker error mid-run)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.fail = False

    def poll(self, **options: Any) -> Any:
        if self.fail:
            self.fail = False
            raise kafka_io.KafkaError("connection reset")
        return self.inner.poll(**options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_consumer_rebuilt_after_a_broker_error_resumes_where_it_committed(broker_settings: HubSettings,
                                                                            db: Database) -> None:
    publish(broker_settings, random_events(100))
    runner = runner_for(RecordStoreConsumer(), broker_settings, db)
    built: list[_FailsOnce] = []

    def build() -> _FailsOnce:
        client = _FailsOnce(kafka_io.consumer(broker_settings, runner.group_id, runner.topics, listener=_EpochGuard(runner)))
        built.append(client)
        return client

    runner._kafka_factory = build
    with running(runner):
        wait_for(lambda: count(db, ProcessedEvent) == 100)
        built[0].fail = True
        wait_for(lambda: len(built) == 2 and runner.assigned)
        publish(broker_settings, later_visits(30))
        wait_for(lambda: count(db, ProcessedEvent) == 130)
    assert duplicates(runner) == 0
