"""`hub connector backfill`: a member's history through its own outbox, against the real broker:
every row once, resumable after a kill, live events first, and the live connector taking over
exactly where the history ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from connectors.his_db.connector import HisDbConnector
from hub.core import kafka_io
from hub.core.backfill import SUFFIX, Backfill, BackfillError
from hub.core.config import HubSettings
from hub.core.connector import ConnectorConfig
from hub.core.events import PollResult
from hub.core.outbox import Outbox, OutboxRelay
from hub.core.pipeline import Sink
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import DEAD_LETTER, all_topics
from hub.tools.demo.county import County, build_county
from hub.tools.demo.generator import CountySimulator
from tests.factories import patient_event
from tests.waiting import wait_for

pytestmark = pytest.mark.broker


@pytest.fixture(scope="module")
def his(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One township health centre's HIS (vendor_b) with a few hundred rows of history."""
    county = build_county(tmp_path_factory.mktemp("his"))
    one = County(county.data_dir, (county.facility("th01"),), county.connector_configs[:1])
    simulator = CountySimulator(one, seed=5)
    simulator.seed_population(40)
    simulator.step(500)
    simulator.close()
    return Path(county.facility("th01").database_url.removeprefix("sqlite:///"))


def his_copy(his: Path, tmp_path: Path) -> str:
    copy = tmp_path / "his.db"
    copy.write_bytes(his.read_bytes())
    return f"sqlite:///{copy}"


def config(url: str, **options: object) -> ConnectorConfig:
    return ConnectorConfig(name="th01-his", kind="his_db", facility_id="th01",
                           options={"database_url": url, "mapping": "vendor_b", **options})


def codec(settings: HubSettings) -> EventCodec:
    return EventCodec(FileSchemaRegistry(), settings.topic_prefix)


def history(url: str) -> list[str]:
    """The event id of every row of the HIS, as the live connector makes them."""
    connector = HisDbConnector(config(url, reconcile_every_s=0), HubSettings())
    ids: list[str] = []
    checkpoints: dict[str, str] = {}
    while not (result := connector.poll(checkpoints)).empty:
        ids += [e.event_id for e in result.events]
        checkpoints.update(result.checkpoints)
    connector.close()
    return ids


def published_ids(settings: HubSettings, expected: int) -> list[str]:
    topics = [t.topic(settings) for t in all_topics() if t.topic(settings) != DEAD_LETTER.topic(settings)]
    consumer = kafka_io.consumer(settings, None, topics, consumer_timeout_ms=1000)
    ids: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while len(set(ids)) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                ids += [codec(settings).decode(m.value).event_id for m in batch]
    finally:
        consumer.close()
    return ids


@pytest.mark.parametrize("workers", [0, 1])
def test_history_is_published_once_and_the_live_connector_takes_over(his: Path, broker_settings: HubSettings,
                                                                     tmp_path: Path, workers: int) -> None:
    url = his_copy(his, tmp_path)
    expected = history(url)
    cfg = config(url, reconcile_every_s=0.001)
    backfill = Backfill(cfg, broker_settings, HisDbConnector, batch_size=120, codec=codec(broker_settings),
                        workers=workers)
    assert backfill.remaining() == len(expected)
    read: list[int] = []
    report = backfill.run(threading.Event(), read.append)
    backfill.close()
    assert (report.read, report.accepted, report.rejected, report.remaining, report.unpublished) == (
        len(expected), len(expected), 0, 0, 0)
    assert max(read) == 120 and sum(read) == len(expected)
    ids = published_ids(broker_settings, len(expected))
    assert sorted(set(ids)) == sorted(expected)

    # The live connector starts where the history ended. Its first look back lists the window behind
    # that position: rows of the history again, with their ids (duplicates the consumers drop), which
    # also catches any that committed behind the backfill. Then nothing of it again, only what is new.
    live = Outbox(broker_settings.outbox_path(cfg.name), cfg.name)
    connector = HisDbConnector(cfg, broker_settings)
    connector._last_reconcile = time.monotonic() + 3600  # no deletion look in this poll
    while not (window := connector.poll(live.checkpoints())).empty:  # the window, a batch at a time
        assert window.events and {e.event_id for e in window.events} <= set(expected)
        live.write([], window.checkpoints)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text('UPDATE "HZXX" SET "LXDH" = \'13900000000\', "XGSJ" = \'2099-01-01 00:00:00.000000\' '
                          'WHERE "BRID" = (SELECT MIN("BRID") FROM "HZXX")'))
    (changed,) = connector.poll(live.checkpoints()).events
    assert changed.event_id not in expected
    # The history's rows are remembered for deletions: one deleted at the source is found by the live side.
    with engine.begin() as conn:
        conn.execute(text('DELETE FROM "JZJL" WHERE "JZID" = (SELECT MIN("JZID") FROM "JZJL")'))
    connector._last_reconcile = 0.0
    deleted = connector.poll(live.checkpoints())
    assert [e.resource["status"] for e in deleted.events] == ["entered-in-error"]
    connector.close()


def test_a_live_event_goes_before_the_remaining_history(his: Path, broker_settings: HubSettings,
                                                        tmp_path: Path) -> None:
    url = his_copy(his, tmp_path)
    cfg = config(url, reconcile_every_s=0)
    backfill = Backfill(cfg, broker_settings, HisDbConnector, batch_size=40, codec=codec(broker_settings),
                        relay_batch=10)
    history_box = backfill.outbox
    done: list[object] = []
    runner = threading.Thread(target=lambda: done.append(backfill.run(threading.Event())))
    runner.start()
    wait_for(lambda: history_box.count() - history_box.backlog() >= 30, timeout_s=60)

    # A live event arrives; its relay starts a moment later (as if busy). History waits for it.
    live = Sink(cfg.name, "th01", Outbox(broker_settings.outbox_path(cfg.name), cfg.name), codec(broker_settings),
                broker_settings)
    live.accept(PollResult(events=[patient_event(local_id="live-1")]))
    sent_at_write = history_box.count() - history_box.backlog()
    time.sleep(1.5)
    sent_while_waiting = history_box.count() - history_box.backlog() - sent_at_write
    assert sent_while_waiting <= 10  # at most the one batch already on its way
    live_relay = OutboxRelay(live.outbox, broker_settings)
    live_relay.check_epoch(force=True)
    assert live_relay.publish_pending() == 1
    live_relay.close()
    assert history_box.backlog() > 0 or not done  # history was still waiting when the live event left
    runner.join(120)
    assert done and history_box.backlog() == 0
    backfill.close()


def test_a_killed_backfill_resumes_without_duplicates(his: Path, broker_settings: HubSettings,
                                                      tmp_path: Path) -> None:
    url = his_copy(his, tmp_path)
    expected = history(url)
    path = tmp_path / "th01-his.yaml"
    path.write_text(yaml.safe_dump({"name": "th01-his", "kind": "his_db", "facility_id": "th01",
                                    "options": {"database_url": url, "mapping": "vendor_b"}}))
    env = {**os.environ, "HUB_KAFKA_BOOTSTRAP": broker_settings.bootstrap, "HUB_DATA_DIR": str(tmp_path),
           "HUB_TOPIC_PREFIX": broker_settings.topic_prefix, "HUB_DATABASE_URL": broker_settings.db_url}
    command = [sys.executable, "-m", "hub.app.cli", "connector", "backfill", str(path), "--batch-size", "25", "-q"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    history_path = broker_settings.outbox_path("th01-his" + SUFFIX)
    wait_for(lambda: history_path.exists() and Outbox(history_path, "h").count() >= 100, timeout_s=60, interval_s=0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    stored = Outbox(history_path, "h").count()
    assert 100 <= stored < len(expected)  # killed half way

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("complete")
    assert f"{len(expected) - stored} rows read" in again.stdout  # resumed after the last checkpoint
    outbox = Outbox(history_path, "h")
    assert (outbox.count(), outbox.backlog()) == (len(expected), 0)
    ids = published_ids(broker_settings, len(expected))
    assert sorted(set(ids)) == sorted(expected)  # a batch the kill cut off may be sent again: same ids

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0 and "0 rows read" in finished.stdout
    other = subprocess.run([*command, "--since", "2020-01-01"], env=env, capture_output=True, text=True, timeout=60)
    assert other.returncode != 0 and "was started with --since (none)" in other.stderr


def test_only_history_kinds_backfill(broker_settings: HubSettings) -> None:
    from connectors.mllp.connector import MllpConnector

    cfg = ConnectorConfig(name="mllp", kind="mllp", facility_id="th01", options={})
    with pytest.raises(BackfillError, match="has no history to backfill"):
        Backfill(cfg, broker_settings, MllpConnector)
