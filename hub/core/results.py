"""Events the hub itself produces (a reader's signed report, a critical-value notice), published
exactly as durably as what members send.

A part adds its events with `ResultOutbox.add(session, events)` inside the transaction that makes
the change they report, so a report is never signed without its event nor published without being
signed. The results relay (`hub.core.outbox.OutboxRelay` over this store, started once by the hub)
publishes the rows in order and, like a connector's relay, republishes what a broker that
restarted empty lost; consumers drop what they already applied.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable

from sqlalchemy import delete, event, func, select, update
from sqlalchemy.orm import Session

from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.db.models import ResultOutboxMeta, ResultOutboxRow
from hub.core.errors import PermanentError
from hub.core.events import Event
from hub.core.fhir import validate_resource
from hub.core.limits import check_event
from hub.core.outbox import OutboxRecord, OutboxRelay, StoredRecord
from hub.core.serialization import EventCodec
from hub.core.topics import spec_for

NAME = "results"  # the relay's name in metrics and logs


class ResultOutbox:
    """The hub's own outbox, in the main database (the store an OutboxRelay publishes)."""

    name = NAME

    def __init__(self, database: Database, codec: EventCodec, settings: HubSettings) -> None:
        self.database = database
        self.codec = codec
        self.settings = settings
        self._wake: Callable[[], None] = lambda: None

    def on_added(self, wake: Callable[[], None]) -> None:
        """What to call after a commit that added events: the relay's wake, so they leave at once."""
        self._wake = wake

    def relay(self) -> OutboxRelay:
        """The relay that publishes this outbox, woken by every commit that adds to it (run it once)."""
        relay = OutboxRelay(self, self.settings)
        self.on_added(relay.wake)
        return relay

    # Writing, in the caller's transaction -------------------------------------------------------

    def add(self, session: Session, events: Iterable[Event], producer: str) -> list[str]:
        """Adds events to the caller's transaction; returns the ids that were new. An event id already
        in the outbox (the same report version signed twice, a redelivered event) is not added again."""
        events = list(events)
        if not events:
            return []
        ids = [e.event_id for e in events]
        known = set(session.scalars(select(ResultOutboxRow.event_id).where(ResultOutboxRow.event_id.in_(ids))))
        now = time.time()
        added = []
        for item in events:
            if item.event_id in known:
                continue
            known.add(item.event_id)
            session.add(ResultOutboxRow(
                event_id=item.event_id, producer=producer, topic=spec_for(item.event_type).topic(self.settings),
                key=item.patient_key.encode("utf-8"), value=self._encode(item),
                headers=json.dumps([["hub.event_type", item.event_type], ["hub.facility", item.source.facility_id],
                                    ["hub.producer", producer]]),
                created_at=now, published_at=None,
            ))
            added.append(item.event_id)
        if added:
            event.listen(session, "after_commit", lambda _session: self._wake(), once=True)
        return added

    def _encode(self, item: Event) -> bytes:
        """The event as the relay will send it. A result the hub cannot publish is a bug in the part
        that made it: it fails the caller's transaction, so nothing is signed that cannot leave."""
        for resource in (item.resource, *item.related):
            validate_resource(resource)
        check_event(item)
        value = self.codec.encode(item)
        if len(value) > self.settings.max_event_bytes:
            raise PermanentError(f"result event {item.event_id} is {len(value)} bytes, over the "
                                 f"{self.settings.max_event_bytes}-byte limit")
        return value

    # The store an OutboxRelay publishes -------------------------------------------------------------

    def pending(self, limit: int) -> list[StoredRecord]:
        with self.database.transaction() as session:
            rows = session.scalars(
                select(ResultOutboxRow).where(ResultOutboxRow.published_at.is_(None))
                .order_by(ResultOutboxRow.seq).limit(limit)
            ).all()
            return [_stored(row) for row in rows]

    def mark_published(self, seqs: list[int]) -> None:
        if not seqs:
            return
        with self.database.transaction() as session:
            session.execute(
                update(ResultOutboxRow).where(ResultOutboxRow.seq.in_(seqs)).values(published_at=time.time())
            )

    def backlog(self) -> int:
        with self.database.reading() as session:
            return int(session.scalar(
                select(func.count()).select_from(ResultOutboxRow).where(ResultOutboxRow.published_at.is_(None))
            ) or 0)

    def oldest_pending(self) -> float | None:
        """Unix time the oldest unpublished result was written (None: nothing waits)."""
        with self.database.reading() as session:
            oldest = session.scalar(
                select(ResultOutboxRow.created_at).where(ResultOutboxRow.published_at.is_(None))
                .order_by(ResultOutboxRow.seq).limit(1)
            )
            return None if oldest is None else float(oldest)

    def mark_for_replay(self, since: float | None = None, topic: str | None = None) -> int:
        statement = update(ResultOutboxRow).where(ResultOutboxRow.published_at.is_not(None))
        if since is not None:
            statement = statement.where(ResultOutboxRow.created_at >= since)
        if topic is not None:
            statement = statement.where(ResultOutboxRow.topic == topic)
        with self.database.transaction() as session:
            return int(session.execute(statement.values(published_at=None)).rowcount)  # type: ignore[attr-defined]

    def purge(self, retention_hours: float) -> int:
        cutoff = time.time() - retention_hours * 3600
        with self.database.transaction() as session:
            result = session.execute(
                delete(ResultOutboxRow).where(ResultOutboxRow.published_at.is_not(None),
                                              ResultOutboxRow.published_at < cutoff)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def get_meta(self, name: str) -> str | None:
        with self.database.reading() as session:
            row = session.get(ResultOutboxMeta, name)
            return row.value if row is not None else None

    def set_meta(self, name: str, value: str) -> None:
        with self.database.transaction() as session:
            row = session.get(ResultOutboxMeta, name)
            if row is None:
                session.add(ResultOutboxMeta(name=name, value=value))
            else:
                row.value = value


def _stored(row: ResultOutboxRow) -> StoredRecord:
    headers = tuple((str(k), str(v).encode("utf-8")) for k, v in json.loads(row.headers))
    record = OutboxRecord(row.event_id, row.topic, row.key, row.value, headers)
    return StoredRecord(row.seq, record, row.created_at, row.published_at)
