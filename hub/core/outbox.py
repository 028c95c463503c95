"""A connector's local outbox (SQLite): events and their read checkpoint commit together.

The relay publishes rows in order with the idempotent producer and marks them published; rows
stay for the retention period so `hub replay` can send them again. A memory-only broker that
restarted empty is noticed by the changed id of its epoch topic, and everything still retained
is sent again (consumers drop what they already applied).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hub.core import kafka_io, metrics
from hub.core.config import HubSettings
from hub.core.retry import Backoff
from hub.core.topics import EPOCH, all_topics

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    headers TEXT NOT NULL DEFAULT '[]',
    created_at REAL NOT NULL,
    published_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox(seq) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_created ON outbox(created_at);
CREATE TABLE IF NOT EXISTS checkpoint (name TEXT PRIMARY KEY, position TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counter (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
"""
# The unpublished count is kept in a row moved in the same transaction as the rows it counts, so
# `backlog()` is one key lookup in every process (a COUNT(*) per look cost the relays and status pages
# a scan of the outbox each time). An outbox from before the counter gets it counted once.
_INIT_BACKLOG = (
    "INSERT INTO counter(name, n) SELECT 'backlog', COUNT(*) FROM outbox WHERE published_at IS NULL "
    "ON CONFLICT(name) DO NOTHING"
)
_MOVE_BACKLOG = "UPDATE counter SET n = n + ? WHERE name = 'backlog'"
_IN_CHUNK = 500  # event ids per `IN (...)` look-up, well under SQLite's variable limit


@dataclass(frozen=True)
class OutboxRecord:
    event_id: str
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = field(default=())


@dataclass(frozen=True)
class StoredRecord:
    seq: int
    record: OutboxRecord
    created_at: float
    published_at: float | None


class Outbox:
    """One SQLite file per connector. Safe to use from several threads (one connection each)."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        conn = self._conn()
        conn.executescript(_SCHEMA)
        with self._transaction() as conn:
            conn.execute(_INIT_BACKLOG)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # an ACK promises the event survives a power cut
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # Writing ------------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # a COMMIT that failed (disk full) was already rolled back by SQLite
                conn.execute("ROLLBACK")
            raise

    def write(self, records: Iterable[OutboxRecord], checkpoints: Mapping[str, str] | None = None) -> list[str]:
        """Appends records and moves checkpoints in one transaction. Returns the ids that were new:
        a record whose event id is already in the outbox (or earlier in `records`) is a duplicate
        and is not stored again."""
        batch = list(records)
        now = time.time()
        with self._transaction() as conn:
            # Under the write lock nobody else inserts, so the ids found here are all the duplicates.
            seen = self._existing(conn, [rec.event_id for rec in batch])
            fresh: list[OutboxRecord] = []
            for rec in batch:
                if rec.event_id not in seen:
                    seen.add(rec.event_id)
                    fresh.append(rec)
            conn.executemany(
                # ON CONFLICT, not OR IGNORE: only a repeated event id is skipped, never a NOT NULL violation.
                "INSERT INTO outbox(event_id, topic, key, value, headers, created_at) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(event_id) DO NOTHING",
                [(rec.event_id, rec.topic, rec.key, rec.value, _dump_headers(rec.headers), now) for rec in fresh],
            )
            if fresh:
                conn.execute(_MOVE_BACKLOG, (len(fresh),))
            conn.executemany(
                "INSERT INTO checkpoint(name, position, updated_at) VALUES (?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET position=excluded.position, updated_at=excluded.updated_at",
                [(name, position, now) for name, position in (checkpoints or {}).items()],
            )
        return [rec.event_id for rec in fresh]

    @staticmethod
    def _existing(conn: sqlite3.Connection, event_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(event_ids), _IN_CHUNK):
            chunk = event_ids[start:start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in conn.execute(f"SELECT event_id FROM outbox WHERE event_id IN ({marks})", chunk))
        return found

    def claim_checkpoints(self, checkpoints: Mapping[str, str]) -> dict[str, str]:
        """Sets the checkpoints that are not set yet (others are left as they are) and returns all of
        them, in one transaction: a backfill hands the live connector the place where history ends."""
        now = time.time()
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO checkpoint(name, position, updated_at) VALUES (?,?,?) ON CONFLICT(name) DO NOTHING",
                [(name, position, now) for name, position in checkpoints.items()],
            )
            return dict(conn.execute("SELECT name, position FROM checkpoint").fetchall())

    def contains(self, event_id: str) -> bool:
        return self._conn().execute("SELECT 1 FROM outbox WHERE event_id=?", (event_id,)).fetchone() is not None

    def checkpoints(self) -> dict[str, str]:
        return dict(self._conn().execute("SELECT name, position FROM checkpoint").fetchall())

    def get_meta(self, name: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        self._conn().execute(
            "INSERT INTO meta(name, value) VALUES (?,?) ON CONFLICT(name) DO UPDATE SET value=excluded.value",
            (name, value),
        )

    # Reading and relaying -----------------------------------------------------------------------

    def pending(self, limit: int) -> list[StoredRecord]:
        rows = self._conn().execute(
            "SELECT seq, event_id, topic, key, value, headers, created_at, published_at FROM outbox "
            "WHERE published_at IS NULL ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [_stored(row) for row in rows]

    def backlog(self) -> int:
        """Events not yet published (kept by every write, publish and replay; see `_MOVE_BACKLOG`)."""
        row = self._conn().execute("SELECT n FROM counter WHERE name='backlog'").fetchone()
        return int(row[0]) if row else 0

    def recount(self) -> int:
        """Counts the backlog again and sets the kept figure to it (a repair; never needed in normal work)."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM counter WHERE name='backlog'")
            conn.execute(_INIT_BACKLOG)
        return self.backlog()

    def oldest_pending(self) -> float | None:
        """Unix time the oldest unpublished event was written (None: nothing waits)."""
        row = self._conn().execute(
            "SELECT created_at FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1"
        ).fetchone()
        return float(row[0]) if row else None

    def count(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def activity(self, dead_letter_topic: str) -> tuple[float | None, int]:
        """(time of the newest row, number of dead letters) still retained."""
        row = self._conn().execute(
            "SELECT MAX(created_at), SUM(CASE WHEN topic = ? THEN 1 ELSE 0 END) FROM outbox", (dead_letter_topic,)
        ).fetchone()
        return row[0], int(row[1] or 0)

    def mark_published(self, seqs: list[int]) -> None:
        """Marks rows published: one statement per run of consecutive seqs (a relay's batch is one run)."""
        if not seqs:
            return
        now = time.time()
        with self._transaction() as conn:
            done = 0
            for first, last in _runs(seqs):
                done += conn.execute(
                    "UPDATE outbox SET published_at=? WHERE seq BETWEEN ? AND ? AND published_at IS NULL",
                    (now, first, last),
                ).rowcount
            conn.execute(_MOVE_BACKLOG, (-done,))

    def mark_for_replay(self, since: float | None = None, topic: str | None = None) -> int:
        """Makes retained rows pending again; returns how many. `hub replay` and a lost broker use it."""
        sql = "UPDATE outbox SET published_at=NULL WHERE published_at IS NOT NULL"
        args: list[float | str] = []
        if since is not None:
            sql += " AND created_at >= ?"
            args.append(since)
        if topic is not None:
            sql += " AND topic = ?"
            args.append(topic)
        with self._transaction() as conn:
            count = int(conn.execute(sql, args).rowcount)
            conn.execute(_MOVE_BACKLOG, (count,))
        return count

    def purge(self, retention_hours: float) -> int:
        cutoff = time.time() - retention_hours * 3600
        return int(
            self._conn()
            .execute("DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?", (cutoff,))
            .rowcount
        )


class OutboxStore(Protocol):
    """What a relay publishes from: a connector's SQLite outbox, or the hub's results outbox
    (hub/core/results.py) in the main database."""

    name: str

    def pending(self, limit: int) -> list[StoredRecord]: ...
    def mark_published(self, seqs: list[int]) -> None: ...
    def backlog(self) -> int: ...
    def oldest_pending(self) -> float | None: ...
    def mark_for_replay(self, since: float | None = None, topic: str | None = None) -> int: ...
    def purge(self, retention_hours: float) -> int: ...
    def get_meta(self, name: str) -> str | None: ...
    def set_meta(self, name: str, value: str) -> None: ...


BACKLOG_EVERY_S = 5.0  # how stale the outbox backlog gauge may be while nothing moves


class OutboxRelay:
    """Publishes an outbox to Kafka in order; survives a broker that is down or restarted empty.

    A producer's id and sequence numbers are only meaningful to the broker that issued them. A
    memory-only broker that restarted forgets them and hands the same producer id to the next
    client, so an old producer's records can be answered "duplicate sequence" (success without an
    offset) and never be stored. Hence: a producer is created only after the broker's epoch is
    known and its topics are checked; a batch counts as published only when the broker gave each
    record a real offset and the epoch is still the one the producer was created under; anything
    else drops the producer and sends again.
    """

    def __init__(
        self,
        outbox: OutboxStore,
        settings: HubSettings,
        producer_factory: Callable[[], Any] | None = None,
        batch_size: int = 1000,
        epoch_check_s: float = 5.0,
        yield_to: Callable[[], int] | None = None,
        yield_max_s: float = 10.0,
    ) -> None:
        """`yield_to` (a backfill's relay): the backlog of an outbox that goes first; this relay sends
        nothing while it is not empty, unless it stood still for `yield_max_s` (its relay is not running)."""
        self.outbox = outbox
        self.settings = settings
        self._producer_factory = producer_factory or (lambda: kafka_io.producer(settings))
        self._producer: Any = None
        self._producer_epoch: str | None = None  # the broker epoch the producer was created under
        self._admin: Any = None  # long-lived, so the per-batch epoch check costs one round trip
        self.batch_size = batch_size
        self.epoch_check_s = epoch_check_s
        self._last_epoch_check = 0.0
        self._last_purge = 0.0
        self._wake = threading.Event()
        self.broker_up = False
        self._backlog_counted = 0.0
        self._backlog_dirty = True
        self._yield_to = yield_to
        self.yield_max_s = yield_max_s
        self._first_seen = (0, 0.0)  # the first outbox's backlog as last seen, and since when

    def wake(self) -> None:
        """Called by the connector after a write, so events leave without waiting for the next tick."""
        self._backlog_dirty = True
        self._wake.set()

    def run(self, stop: threading.Event, idle_s: float = 2.0) -> None:
        # Writers wake the relay (`wake`), so `idle_s` only bounds how late a row written by another
        # process leaves. Every relay of the demo's 27 looking five times a second cost the record
        # store most of its share of one interpreter.
        backoff = Backoff(initial_s=0.5, max_s=10.0)
        while not stop.is_set():
            try:
                self.check_epoch()
                sent = self.publish_pending()
                self._backlog_dirty |= sent > 0
                self._set_broker_up(True)
                backoff.reset()
                if self._last_purge + 60 < time.monotonic():
                    self._last_purge = time.monotonic()
                    self.outbox.purge(self.settings.outbox_retention_hours)
                if sent == 0:
                    self._idle(stop, idle_s)
            except kafka_io.TopicMismatchError as exc:
                # Never publish into topics whose partitioning differs from the catalogue: say so loudly.
                log.error("outbox relay %s: %s; holding %d events in the outbox", self.outbox.name, exc,
                          self.outbox.backlog())
                self._on_broker_error(exc, quiet=True)
                stop.wait(backoff.next())
            except kafka_io.KafkaError as exc:
                self._on_broker_error(exc)
                stop.wait(backoff.next())
            except Exception as exc:  # noqa: BLE001 - a relay must not die; the backlog keeps the data
                log.exception("outbox relay %s: unexpected error", self.outbox.name)
                self._on_broker_error(exc)
                stop.wait(backoff.next())
        self.close()

    def _idle(self, stop: threading.Event, idle_s: float) -> None:
        """Waits for a writer's wake, `stop` or `idle_s`, whichever comes first (in short slices: one
        thread cannot wait on two events, and a stop must not wait out the idle time)."""
        deadline = time.monotonic() + idle_s
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if self._wake.wait(min(0.2, left)):
                break
        self._wake.clear()

    def _on_broker_error(self, exc: BaseException, quiet: bool = False) -> None:
        if self.broker_up and not quiet:
            log.warning("outbox relay %s: broker unreachable (%s); buffering in the outbox", self.outbox.name, exc)
        self._set_broker_up(False)
        self._last_epoch_check = 0.0  # look again when it comes back
        self.close()  # a lost connection may mean a new broker: never reuse the producer id

    def _set_broker_up(self, up: bool) -> None:
        changed, self.broker_up = self.broker_up != up, up
        metrics.BROKER_UP.labels(self.outbox.name).set(1 if up else 0)
        # The backlog is counted when something moved or every few seconds, not on every idle look.
        if changed or self._backlog_dirty or time.monotonic() - self._backlog_counted >= BACKLOG_EVERY_S:
            self._backlog_counted, self._backlog_dirty = time.monotonic(), False
            self._report_backlog()

    def _report_backlog(self) -> None:
        metrics.OUTBOX_BACKLOG.labels(self.outbox.name).set(self.outbox.backlog())
        oldest = self.outbox.oldest_pending()
        metrics.OUTBOX_OLDEST_SECONDS.labels(self.outbox.name).set(0 if oldest is None else max(0.0, time.time() - oldest))

    def _admin_client(self) -> Any:
        if self._admin is None:
            self._admin = kafka_io.admin(self.settings)
        return self._admin

    def current_epoch(self) -> str:
        """The broker's epoch: the id of its marker topic. A broker without one gets the catalogue's topics."""
        epoch_topic = EPOCH.topic(self.settings)
        current = kafka_io.topic_id(self.settings, epoch_topic, self._admin_client())
        if current is None:
            kafka_io.ensure_topics(self.settings, all_topics())
            current = kafka_io.topic_id(self.settings, epoch_topic, self._admin_client())
        if current is None:
            raise kafka_io.KafkaError(f"the broker did not create the marker topic {epoch_topic}")
        return current

    def check_epoch(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_epoch_check < self.epoch_check_s:
            return
        # A closed port fails fast, where a client would wait its timeout; the long-lived admin client
        # then asks for the epoch (a new client per look cost a connection and a bootstrap each time).
        if not kafka_io.bootstrap_port_open(self.settings):
            raise kafka_io.KafkaError(f"broker {self.settings.bootstrap} not reachable")
        current = self.current_epoch()
        known = self.outbox.get_meta("broker_epoch")
        if known != current:
            self._close_producer()  # its producer id and sequence numbers belong to the old broker
            # Created by us or by another relay: either way check the partition counts before writing.
            kafka_io.ensure_topics(self.settings, all_topics())
            if known is not None:
                count = self.outbox.mark_for_replay()
                log.warning(
                    "outbox relay %s: the broker lost its data (new epoch); republishing %d retained events",
                    self.outbox.name, count,
                )
            self.outbox.set_meta("broker_epoch", current)
        self._last_epoch_check = time.monotonic()

    def _give_way(self) -> None:
        """Waits while the outbox that goes first has events to send (live events before history)."""
        assert self._yield_to is not None
        while (waiting := self._yield_to()) > 0:
            now = time.monotonic()
            if waiting != self._first_seen[0]:
                self._first_seen = (waiting, now)
            elif now - self._first_seen[1] >= self.yield_max_s:
                return  # it does not move: nobody publishes it, and history must not wait forever
            time.sleep(0.02)

    def publish_pending(self) -> int:
        if self._yield_to is not None:
            self._give_way()
        rows = self.outbox.pending(self.batch_size)
        if not rows:
            return 0
        if self._producer is None:
            self.check_epoch(force=True)  # topics verified and epoch recorded before the first record
            self._producer_epoch = self.outbox.get_meta("broker_epoch")
            self._producer = self._producer_factory()
        futures = [
            (row.seq, row.record.topic, self._producer.send(
                row.record.topic, key=row.record.key, value=row.record.value, headers=list(row.record.headers)
            ))
            for row in rows
        ]
        self._producer.flush(timeout=30)
        if self.current_epoch() != self._producer_epoch:
            # The broker restarted while these were on their way: what it answered proves nothing.
            self._close_producer()
            self._last_epoch_check = 0.0
            raise kafka_io.KafkaError("the broker restarted during a send; resending after its epoch is checked")
        done: list[int] = []
        per_topic: Counter[str] = Counter()
        error: BaseException | None = None
        for seq, topic, future in futures:
            # Only a contiguous prefix counts as published: the rest is resent in order next time.
            if future.succeeded() and getattr(future.value, "offset", -1) >= 0:
                done.append(seq)
                per_topic[topic] += 1
                continue
            error = future.exception or kafka_io.KafkaError(
                "the broker acknowledged a record without an offset (a duplicate sequence number from a "
                "broker that forgot this producer)" if future.succeeded() else "send did not complete"
            )
            break
        self.outbox.mark_published(done)
        for topic, n in per_topic.items():
            metrics.EVENTS_PUBLISHED.labels(self.outbox.name, topic).inc(n)
        self._report_backlog()
        if error is not None:
            raise error if isinstance(error, kafka_io.KafkaError) else kafka_io.KafkaError(str(error))
        return len(done)

    def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        self._producer_epoch = None
        kafka_io.close_quietly(producer, "producer", timeout=2)

    def close(self) -> None:
        self._close_producer()
        admin, self._admin = self._admin, None
        kafka_io.close_quietly(admin, "admin client")


def _runs(seqs: list[int]) -> list[tuple[int, int]]:
    """[3, 4, 5, 9, 10] -> [(3, 5), (9, 10)]: ranges of consecutive seqs, in the order given."""
    runs: list[tuple[int, int]] = []
    for seq in seqs:
        if runs and seq == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs


def _dump_headers(headers: tuple[tuple[str, bytes], ...]) -> str:
    return json.dumps([[k, v.decode("utf-8", "backslashreplace")] for k, v in headers], ensure_ascii=False)


def _stored(row: tuple[Any, ...]) -> StoredRecord:
    seq, event_id, topic, key, value, headers, created_at, published_at = row
    parsed = tuple((k, v.encode("utf-8")) for k, v in json.loads(headers))
    return StoredRecord(seq, OutboxRecord(event_id, topic, key, value, parsed), created_at, published_at)
