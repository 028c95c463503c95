"""The outbox of each destination, in the database: which messages are due, and what became of each
attempt. Only the sender of a destination changes its messages' state; the consumer only adds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update

from consumers.delivery.models import ACKNOWLEDGED, QUEUED, REFUSED, DestinationState, OutboundMessage
from consumers.delivery.routing import Route
from consumers.delivery.transport import Outcome
from hub.core.db import Database
from hub.core.events import utcnow

ERROR_LIMIT = 2000


@dataclass(frozen=True)
class Due:
    id: int
    message_id: str
    patient_key: str
    body: bytes
    attempts: int


def register(db: Database, routes: Iterable[Route]) -> None:
    """A row per configured destination, so status shows it before its first message."""
    with db.transaction() as session:
        for route in routes:
            row = session.get(DestinationState, route.key)
            if row is None:
                session.add(DestinationState(key=route.key, facility_id=route.facility_id,
                                             kind=route.destination.kind, address=route.address[:300],
                                             sent_total=0, acknowledged_total=0, refused_total=0))
            else:
                row.kind, row.address = route.destination.kind, route.address[:300]


def claim(db: Database, key: str, sender: str, hold_s: float) -> bool:
    """Whether `sender` may send to the destination now: it holds it (for `hold_s` more), or nobody
    does. Several hubs on one database each run senders; only one sends to a destination at a time."""
    now = utcnow()
    with db.transaction() as session:
        row = session.get(DestinationState, key, with_for_update=True)
        if row is None:
            return False
        if row.sender not in (None, sender) and row.sender_until is not None and row.sender_until > now:
            return False
        row.sender, row.sender_until = sender, now + timedelta(seconds=hold_s)
        return True


def release(db: Database, key: str, sender: str) -> None:
    """Lets another hub take the destination at once (this one is stopping)."""
    with db.transaction() as session:
        row = session.get(DestinationState, key, with_for_update=True)
        if row is not None and row.sender == sender:
            row.sender, row.sender_until = None, None


def due(db: Database, key: str, now: datetime, limit: int = 50) -> list[Due]:
    """The oldest queued message of each patient, if its time has come, oldest first. A later message
    of a patient waits behind an earlier one, whatever their times; other patients do not."""
    heads = (select(func.min(OutboundMessage.id))
             .where(OutboundMessage.destination == key, OutboundMessage.state == QUEUED)
             .group_by(OutboundMessage.patient_key))
    query = (select(OutboundMessage.id, OutboundMessage.message_id, OutboundMessage.patient_key,
                    OutboundMessage.body, OutboundMessage.attempts)
             .where(OutboundMessage.id.in_(heads),
                    or_(OutboundMessage.next_attempt_at.is_(None), OutboundMessage.next_attempt_at <= now))
             .order_by(OutboundMessage.id).limit(limit))
    with db.reading() as session:
        return [Due(*row) for row in session.execute(query).all()]


def record(db: Database, key: str, message: Due, outcome: Outcome, retry_in_s: float) -> None:
    """One attempt's result on the message and on its destination, in one transaction."""
    now = utcnow()
    with db.transaction() as session:
        row = session.get(OutboundMessage, message.id)
        state = session.get(DestinationState, key)
        if row is None or row.state != QUEUED:
            return  # retried by hand or pruned meanwhile
        row.attempts += 1
        row.sent_at = now
        row.answer = outcome.answer or row.answer
        if state is not None:
            state.sent_total += 1
            state.last_attempt_at = state.updated_at = now
        if outcome.verdict == "acknowledged":
            row.state, row.done_at, row.next_attempt_at = ACKNOWLEDGED, now, None
            if state is not None:
                state.acknowledged_total += 1
                state.last_acknowledged_at, state.failing_since, state.last_error = now, None, None
        elif outcome.verdict == "refused":
            row.state, row.done_at, row.next_attempt_at = REFUSED, now, None
            row.last_error = outcome.reason[:ERROR_LIMIT]
            if state is not None:
                state.refused_total += 1
                state.failing_since = None  # it answered: it is up, it just said no
                state.last_error = f"refused {row.message_id}: {outcome.reason}"[:ERROR_LIMIT]
        else:
            row.next_attempt_at = now + timedelta(seconds=retry_in_s)
            row.last_error = outcome.reason[:ERROR_LIMIT]
            if state is not None:
                state.failing_since = state.failing_since or now
                state.last_error = outcome.reason[:ERROR_LIMIT]


def record_down(db: Database, key: str, reason: str) -> None:
    """The destination could not be reached: nothing was sent, every message waits."""
    now = utcnow()
    with db.transaction() as session:
        state = session.get(DestinationState, key)
        if state is not None:
            state.failing_since = state.failing_since or now
            state.last_error, state.last_attempt_at, state.updated_at = reason[:ERROR_LIMIT], now, now


def backlog(db: Database, key: str) -> tuple[int, datetime | None]:
    """Queued messages and the time the oldest was queued."""
    with db.reading() as session:
        count, oldest = session.execute(
            select(func.count(), func.min(OutboundMessage.created_at))
            .where(OutboundMessage.destination == key, OutboundMessage.state == QUEUED)
        ).one()
    return int(count or 0), oldest


def prune(db: Database, key: str, before: datetime) -> int:
    """Forgets acknowledged messages older than the retention (the counters keep them counted)."""
    with db.transaction() as session:
        result = session.execute(
            delete(OutboundMessage).where(OutboundMessage.destination == key, OutboundMessage.state == ACKNOWLEDGED,
                                          OutboundMessage.done_at < before)
        )
    return int(getattr(result, "rowcount", 0) or 0)


def requeue(db: Database, ids: Iterable[int] = (), destination: str | None = None) -> int:
    """Sends refused messages again (after the member fixed what made it refuse): by id, or every
    refused message of a destination. They keep their place: a patient's order is by id."""
    where = [OutboundMessage.state == REFUSED]
    chosen = list(ids)
    if chosen:
        where.append(OutboundMessage.id.in_(chosen))
    if destination:
        where.append(OutboundMessage.destination == destination)
    if not chosen and not destination:
        return 0
    with db.transaction() as session:
        result = session.execute(
            update(OutboundMessage).where(*where)
            .values(state=QUEUED, next_attempt_at=None, done_at=None)
        )
    return int(getattr(result, "rowcount", 0) or 0)
