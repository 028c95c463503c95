"""Broker SIGKILL and restart under load (defect 1 of issue 8): the memory broker forgets every
record, topic and producer id; the outboxes must refill it and the record must end up with every
event exactly once."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from hub.core.broker import EmbeddedBroker
from hub.core.config import HubSettings
from hub.core.db import Database
from tests.conftest import free_port
from tests.faults.harness import (
    assert_nothing_lost_or_doubled,
    compare,
    feeds,
    kill_broker,
    member_backlog,
    other_members_replay,
    record_store,
)

pytestmark = [pytest.mark.faults, pytest.mark.broker, pytest.mark.slow]


def test_broker_killed_four_times_under_load(tmp_path: Path, db: Database, database_url: str) -> None:
    port = free_port()
    settings = HubSettings(data_dir=tmp_path, database_url=database_url, kafka_bootstrap=f"127.0.0.1:{port}")
    broker = EmbeddedBroker(port, log_file=tmp_path / "broker.log").start()
    try:
        others = member_backlog(600)
        with feeds(settings, count=8, rate=12) as running, record_store(settings, db):
            time.sleep(5)
            # The issue's outages were 30 s and 13 s; short ones, under the relays' 5 s epoch check, race more.
            for down_s in (12, 1, 0.3, 2):
                kill_broker(broker)
                time.sleep(down_s)
                broker.start()
                other_members_replay(settings, others)
                time.sleep(random.uniform(3, 6))
            for feed in running:
                feed.stop_feeding()
            sent = set().union(*(feed.sent for feed in running), {e.event_id for e in others})
            result = compare("broker SIGKILL x4 under load", settings, db, sent,
                             outboxes=[feed.outbox for feed in running])
        assert_nothing_lost_or_doubled(result)
    finally:
        broker.stop()
