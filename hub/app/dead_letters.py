"""Reading and re-ingesting dead letters (the durable copies in the `dead_letter` table)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from hub.app import parts as registered
from hub.core import kafka_io
from hub.core.blobs import FileBlobStore
from hub.core.config import HubSettings
from hub.core.connector_runtime import ConnectorRuntime
from hub.core.db import Database
from hub.core.db.models import DeadLetter
from hub.core.dead_letter import without_dead_letter_headers
from hub.core.events import PollResult, utcnow
from hub.core.progress import NO_PROGRESS, Advance


@dataclass
class ReplayReport:
    replayed: int = 0
    failed: int = 0
    lines: list[str] = field(default_factory=list)


def list_dead_letters(database: Database, limit: int = 50, origin: str | None = None) -> list[DeadLetter]:
    with database.sessions() as session:
        query = select(DeadLetter).order_by(DeadLetter.created_at.desc()).limit(limit)
        if origin:
            query = query.where(DeadLetter.origin == origin)
        return list(session.scalars(query))


def get_dead_letter(database: Database, dead_letter_id: str) -> DeadLetter | None:
    with database.sessions() as session:
        return session.get(DeadLetter, dead_letter_id)


def whole_payload(settings: HubSettings, row: DeadLetter) -> bytes:
    """The dead letter's input, every byte: from the blob store when it was too large for the topic."""
    if row.quarantine and row.quarantine.startswith("blob:"):
        return FileBlobStore(settings.data_dir / "blobs").get(row.quarantine)
    if row.quarantine and Path(row.quarantine).exists():  # written before large inputs went to the blob store
        return Path(row.quarantine).read_bytes()
    return row.payload


def replay_dead_letters(
    settings: HubSettings,
    database: Database,
    ids: list[str],
    replay_all: bool = False,
    origin: str | None = None,
    config: Path | None = None,
    on_total: Callable[[int | None], None] | None = None,
    on_progress: Advance = NO_PROGRESS,
) -> ReplayReport:
    """Replays the named dead letters (or all not yet replayed); `on_total` hears how many there are and
    `on_progress` each one done, for a progress bar."""
    report = ReplayReport()
    with database.sessions() as session:
        query = select(DeadLetter).order_by(DeadLetter.created_at)
        query = query.where(DeadLetter.id.in_(ids)) if ids else query.where(DeadLetter.replayed_at.is_(None))
        if origin:
            query = query.where(DeadLetter.origin == origin)
        rows = list(session.scalars(query))
    missing = set(ids) - {r.id for r in rows}
    if on_total is not None:
        on_total(len(rows))
    for dead_letter_id in sorted(missing):
        report.failed += 1
        report.lines.append(f"{dead_letter_id}: no such dead letter")
    connector_rows = [r for r in rows if not r.origin_topic]
    consumer_rows = [r for r in rows if r.origin_topic]
    if consumer_rows:
        _republish(settings, database, consumer_rows, report, on_progress)
    if connector_rows:
        _remap(settings, database, connector_rows, config, report, on_progress)
    return report


def _republish(settings: HubSettings, database: Database, rows: list[DeadLetter], report: ReplayReport,
               on_progress: Advance) -> None:
    """A consumer could not apply these: send the original bytes to their topic again."""
    producer = kafka_io.producer(settings)
    try:
        for row in rows:
            as_sent = json.loads(row.headers or "{}")
            headers = without_dead_letter_headers((k, v.encode()) for k, v in as_sent.items())
            future = producer.send(row.origin_topic, key=row.key, value=row.payload, headers=headers)
            producer.flush(timeout=30)
            if future.succeeded():
                _mark(database, row.id)
                report.replayed += 1
                report.lines.append(f"{row.id}: republished to {row.origin_topic}")
            else:
                report.failed += 1
                report.lines.append(f"{row.id}: could not publish: {future.exception}")
            on_progress(1)
    finally:
        producer.close(timeout=5)


def _remap(
    settings: HubSettings, database: Database, rows: list[DeadLetter], config: Path | None, report: ReplayReport,
    on_progress: Advance,
) -> None:
    """A connector rejected these: run its (fixed) mapping again and publish through its outbox."""
    if config is None:
        for row in rows:
            report.failed += 1
            report.lines.append(f"{row.id}: rejected by connector {row.origin}; give --config with its YAML file")
            on_progress(1)
        return
    cfg = registered.load_connector_config(config)
    runtime = ConnectorRuntime.build(cfg, settings, registered.connector_class(cfg.kind))
    try:
        for row in rows:
            try:
                if row.origin != cfg.name:
                    report.failed += 1
                    report.lines.append(f"{row.id}: came from {row.origin}, not from {cfg.name}")
                    continue
                payload = whole_payload(settings, row)
                try:
                    result: PollResult = runtime.connector.reprocess(payload.decode("utf-8", "replace"), row.position or "")
                except NotImplementedError as exc:
                    report.failed += 1
                    report.lines.append(f"{row.id}: {exc}")
                    continue
                outcome = runtime.sink.accept(PollResult(events=result.events))
                if result.events and not result.rejected and outcome.rejected == 0:
                    _mark(database, row.id)
                    report.replayed += 1
                    report.lines.append(f"{row.id}: mapped again into {len(result.events)} events")
                else:
                    reasons = [r.reason for r in result.rejected] or [o.reason or "" for o in outcome.outcomes if not o.accepted]
                    report.failed += 1
                    report.lines.append(f"{row.id}: still failing: {'; '.join(reasons) or 'no event produced'}")
            finally:
                on_progress(1)
        while runtime.outbox.backlog():
            runtime.relay.check_epoch(force=True)
            runtime.relay.publish_pending()
    finally:
        runtime.relay.close()
        runtime.outbox.close()


def _mark(database: Database, dead_letter_id: str) -> None:
    with database.transaction() as session:
        row = session.get(DeadLetter, dead_letter_id)
        if row is not None:
            row.replayed_at = utcnow()
