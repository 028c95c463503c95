"""Onboarding a member's history (`hub connector backfill`): the live connector's own mapping and
validation, in larger batches, through an outbox and a relay of its own that give way to live events.

Why a second outbox: a live event must never wait behind history. In one outbox it would sit behind
every history row written before it; in its own outbox it is published by the live relay at once,
and the history relay sends nothing while the live outbox has anything to send (it reads the live
outbox's kept backlog before each batch). History ends where the live connector starts: the backfill
claims the live checkpoints (sets those not set yet to the newest rows) and reads only up to them,
so each row version goes through exactly one of the two outboxes. Event ids are the live ones
(deterministic), checkpoints commit with the rows, so a killed backfill resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from hub.core.config import HubSettings
from hub.core.connector import Connector, ConnectorConfig
from hub.core.errors import PermanentError
from hub.core.outbox import Outbox, OutboxRelay
from hub.core.pipeline import Prepared, Sink
from hub.core.progress import NO_PROGRESS, Advance
from hub.core.schema_registry import make_registry
from hub.core.serialization import EventCodec

log = logging.getLogger(__name__)

SUFFIX = "-backfill"  # the history outbox of connector NAME is NAME-backfill
DEFAULT_BATCH = 5000  # rows per read and outbox transaction (the live default is 500)
RELAY_BATCH = 2000  # records per send; between sends the relay looks at the live backlog


class BackfillError(PermanentError, ValueError):
    """A backfill that cannot start as asked."""


@dataclass(frozen=True)
class BackfillReport:
    read: int  # rows read from the source by this run
    accepted: int
    duplicates: int
    rejected: int  # dead letters, with their reasons
    remaining: int  # rows still to read when this run stopped (0: the history is complete)
    unpublished: int  # events of the history outbox not yet published
    seconds: float


class Backfill:
    def __init__(self, config: ConnectorConfig, settings: HubSettings, kind: type[Connector],
                 batch_size: int = DEFAULT_BATCH, since: str | None = None, codec: EventCodec | None = None,
                 producer_factory: Callable[[], Any] | None = None, relay_batch: int = RELAY_BATCH,
                 workers: int = 0) -> None:
        # `workers`: processes that map, validate and encode besides this one (which reads, stores and
        # relays). None by default: on a shared 2-core machine a worker cost more in pickling than it saved.
        self.config = config
        self.settings = settings
        self.workers = workers
        self.connector = kind(config, settings)
        if not self.connector.supports_history:
            raise BackfillError(f"connector kind {config.kind} has no history to backfill; only database "
                                "pollers (his_db) do")
        self.batch_size = batch_size
        self.since = since
        self.live = Outbox(settings.outbox_path(config.name), config.name)
        self.outbox = Outbox(settings.outbox_path(config.name + SUFFIX), config.name + SUFFIX)
        self.relay = OutboxRelay(self.outbox, settings, producer_factory, batch_size=relay_batch,
                                 yield_to=self.live.backlog)
        codec = codec or EventCodec(make_registry(settings.schema_registry_url), settings.topic_prefix)
        self.sink = Sink(config.name, config.facility_id, self.outbox, codec, settings, self.relay,
                         self.connector.facilities())

    def bounds(self) -> dict[str, str]:
        """Where the history ends per table: fixed by the first run, kept for the runs that resume it."""
        stored = self.outbox.get_meta("backfill")
        if stored is not None:
            saved = json.loads(stored)
            if saved["since"] != self.since:
                raise BackfillError(
                    f"the backfill of {self.config.name} was started with --since {saved['since'] or '(none)'}; "
                    f"run it with that --since, or remove {self.outbox.path} to start another"
                )
            return dict(saved["bounds"])
        newest = self.connector.history_bounds()
        live = self.live.claim_checkpoints(newest)  # the live connector starts after these rows
        bounds = {name: live[name] for name in newest}
        self.outbox.set_meta("backfill", json.dumps({"bounds": bounds, "since": self.since}, ensure_ascii=False))
        return bounds

    def remaining(self) -> int:
        return self.connector.history_size(self.outbox.checkpoints(), self.bounds(), self.since)

    def run(self, stop: threading.Event, advance: Advance = NO_PROGRESS,
            published: Callable[[int], None] | None = None) -> BackfillReport:
        """Reads the history into the history outbox until done or `stop`, then waits until the relay
        published it. `advance(n)` after each batch stored; `published(backlog)` while waiting.

        With `workers`, batches are mapped, validated and encoded in that many processes (the work
        that needs CPU), while this process reads the source, stores the batches in their order and
        runs the relay."""
        started = time.monotonic()
        bounds = self.bounds()
        checkpoints = self.outbox.checkpoints()
        relay_stop = threading.Event()
        relay = threading.Thread(target=self.relay.run, args=(relay_stop, 0.5), name=f"relay-{self.outbox.name}",
                                 daemon=True)
        relay.start()
        pool = self._pool()
        read = accepted = duplicates = rejected = 0
        in_flight: deque[tuple[Any, dict[str, str]]] = deque()
        reading = True
        try:
            while True:
                while reading and not stop.is_set() and len(in_flight) < max(1, 2 * self.workers):
                    chunk, positions = self.connector.history_chunk(checkpoints, bounds, self.since, self.batch_size)
                    if not chunk:
                        reading = False
                        break
                    checkpoints.update(positions)
                    work = pool.apply_async(_prepare, (chunk,)) if pool is not None else _Done(self._prepare(chunk))
                    in_flight.append((work, positions))
                if not in_flight:
                    break
                work, positions = in_flight.popleft()
                report = self.sink.store(work.get(), positions)  # in read order: checkpoints never pass rows
                read += len(report.outcomes)
                accepted, duplicates = accepted + report.accepted, duplicates + report.duplicates
                rejected += report.rejected
                advance(len(report.outcomes))
            while not stop.is_set() and (backlog := self.outbox.backlog()):
                if published is not None:
                    published(backlog)
                stop.wait(0.2)
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
            relay_stop.set()
            relay.join()
        remaining = self.connector.history_size(self.outbox.checkpoints(), bounds, self.since)
        self.connector.close()
        return BackfillReport(read, accepted, duplicates, rejected, remaining, self.outbox.backlog(),
                              time.monotonic() - started)

    def _prepare(self, chunk: list[Any]) -> Prepared:
        return self.sink.prepare(self.connector.map_history(chunk))

    def _pool(self) -> Any:
        if not self.workers:
            return None
        # spawn, not fork: this process already runs threads (the relay, the database pools)
        return multiprocessing.get_context("spawn").Pool(
            self.workers, initializer=_start_worker,
            initargs=(self.config, self.settings, type(self.connector), self.sink.codec),
        )

    def close(self) -> None:
        self.connector.close()
        self.live.close()
        self.outbox.close()


class _Done:
    """A batch prepared in this process, shaped like a pool's pending result."""

    def __init__(self, value: Prepared) -> None:
        self.value = value

    def get(self) -> Prepared:
        return self.value


_WORKER: Backfill | None = None  # a worker process's own connector and sink (never its outbox)


def _start_worker(config: ConnectorConfig, settings: HubSettings, kind: type[Connector], codec: EventCodec) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which ends the pool
    global _WORKER
    worker = Backfill.__new__(Backfill)
    worker.connector = kind(config, settings)
    worker.sink = Sink(config.name, config.facility_id, cast(Outbox, None), codec, settings, None,
                       worker.connector.facilities())
    _WORKER = worker


def _prepare(chunk: list[Any]) -> Prepared:
    assert _WORKER is not None
    return _WORKER._prepare(chunk)
