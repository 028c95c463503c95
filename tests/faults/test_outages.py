"""Outages under load: the database unreachable (PostgreSQL behind a proxy that is cut; SQLite
locked by another process), a full disk under the outboxes, and a bad network between the
connectors and the broker (delay, dropped connections, silence, cut). Each ends with the full
comparison of what the sources sent and what the topics and the record hold."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from hub.core.broker import EmbeddedBroker
from hub.core.config import HubSettings
from hub.core.db import Database
from tests.conftest import free_port
from tests.faults.harness import (
    FaultyProxy,
    assert_nothing_lost_or_doubled,
    compare,
    feeds,
    record_store,
)

pytestmark = [pytest.mark.faults, pytest.mark.broker, pytest.mark.slow]


def test_database_unreachable(broker_settings: HubSettings, db: Database, database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        proxy = FaultyProxy(url.port or 5432)
        via_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        consumer_db = Database(via_proxy)
        settings = broker_settings.model_copy(update={"database_url": via_proxy})
        scenario = "PostgreSQL unreachable 12 s (proxy cut)"
    else:
        proxy = None
        consumer_db = db
        settings = broker_settings
        scenario = "SQLite locked 12 s by another process"
    try:
        with feeds(broker_settings, count=3, rate=25) as running, record_store(settings, consumer_db):
            time.sleep(4)
            if proxy is not None:
                proxy.cut(True)  # every connection closed, new ones refused
                time.sleep(12)
                proxy.cut(False)
            else:
                with sqlite_locked(Path(url.database or "")):
                    time.sleep(12)
            time.sleep(3)
            for feed in running:
                feed.stop_feeding()
            sent = set().union(*(feed.sent for feed in running))
            result = compare(scenario, broker_settings, db, sent, outboxes=[f.outbox for f in running])
    finally:
        if proxy is not None:
            proxy.close()
            consumer_db.dispose()
    assert_nothing_lost_or_doubled(result)


@contextmanager
def sqlite_locked(path: Path) -> Iterator[None]:
    """Another process (a backup tool, a curious sqlite3 shell) holding the write lock."""
    holder = subprocess.Popen(
        ["python3", "-c", "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); "
         "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(600)", str(path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait(10)


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A real, tiny filesystem (tmpfs) mounted at `path`: writes beyond it fail with ENOSPC."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs for the disk-full scenario (needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Takes every free byte of the filesystem under `directory`."""
    filler = directory / "filler"
    # Unbuffered: a buffered file would flush its last block again on close, raise ENOSPC out of the
    # `with`, and leave the disk full for good (the filler never removed).
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def test_disk_full_under_the_outboxes(broker_settings: HubSettings, db: Database, tmp_path: Path) -> None:
    settings = broker_settings
    with (
        small_disk(settings.data_dir / "outbox", "16m") as disk,
        feeds(settings, count=3, rate=25) as running,
        record_store(settings, db),
    ):
        time.sleep(3)
        filler = fill(disk)
        time.sleep(6)  # writes are refused now: the sources keep what was not taken
        refused = sum(feed.refused for feed in running)
        filler.unlink()  # an operator frees space
        time.sleep(4)
        for feed in running:
            feed.stop_feeding()
        sent = set().union(*(feed.sent for feed in running))
        result = compare("outbox disk full 6 s", settings, db, sent, outboxes=[f.outbox for f in running])
        for feed in running:
            check = sqlite3.connect(feed.outbox.path).execute("PRAGMA integrity_check").fetchone()[0]
            assert check == "ok", f"outbox {feed.name} damaged by the full disk: {check}"
    assert refused > 0, "the disk never filled up: the scenario proved nothing"
    assert_nothing_lost_or_doubled(result)


def test_bad_network_between_connectors_and_broker(tmp_path: Path, db: Database, database_url: str) -> None:
    broker_port = free_port()
    proxy = FaultyProxy(broker_port)
    # Clients reach the broker only through the proxy: it advertises the proxy's port.
    broker = EmbeddedBroker(broker_port, log_file=tmp_path / "broker.log", advertised_port=proxy.port).start()
    settings = HubSettings(data_dir=tmp_path, database_url=database_url, kafka_bootstrap=f"127.0.0.1:{proxy.port}")
    try:
        with feeds(settings, count=3, rate=25) as running, record_store(settings, db):
            time.sleep(4)
            proxy.delay_s = 0.08  # 40-120 ms on every chunk
            time.sleep(6)
            proxy.reset_p = 0.03  # and now and then a connection dropped mid-request
            time.sleep(8)
            proxy.delay_s, proxy.reset_p = 0.0, 0.0
            proxy.blackhole = True  # silence: nothing arrives, nothing closes
            time.sleep(6)
            proxy.blackhole = False
            proxy.cut(True)  # the link is down
            time.sleep(5)
            proxy.cut(False)
            time.sleep(2)
            for feed in running:
                feed.stop_feeding()
            sent = set().union(*(feed.sent for feed in running))
            result = compare("network delay, drops, silence and cut", settings, db, sent,
                             outboxes=[f.outbox for f in running])
    finally:
        proxy.close()
        broker.stop()
    assert_nothing_lost_or_doubled(result)
