"""The read side of the reading centres: worklists (per centre, filtered, sorted by due time), one
item with its report and history, unordered arrivals, and the figures behind the metrics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from consumers.reading.models import (
    ReadingArrival,
    ReadingItem,
    ReadingItemLog,
    ReadingReport,
    ReadingReportVersion,
)

# FHIR Task status of each state (a claim whose lease ran out is ready again, even before the sweep).
TASK_STATUS = {"waiting": "requested", "ready": "ready", "claimed": "in-progress", "done": "completed",
               "cancelled": "cancelled"}
STATES_OF_TASK_STATUS = {"requested": ("waiting",), "ready": ("ready",), "in-progress": ("claimed",),
                         "completed": ("done",), "cancelled": ("cancelled",)}
PRIORITY_RANK = {"stat": 0, "asap": 1, "urgent": 2, "routine": 3}


@dataclass(frozen=True)
class WorklistFilter:
    centres: tuple[str, ...] = ()
    states: tuple[str, ...] = ()  # waiting, ready, claimed, done, cancelled; "open" = the first three
    task_statuses: tuple[str, ...] = ()  # FHIR Task statuses, as /fhir/Task searches them
    priorities: tuple[str, ...] = ()
    facility: str | None = None
    modality: str | None = None
    holder: str | None = None
    patient_keys: tuple[str, ...] = ()  # one person's member records (facility/local id)


def effective_state(item: ReadingItem, now: datetime) -> str:
    if item.state == "claimed" and item.lease_until is not None and item.lease_until < now:
        return "ready"
    return item.state


def _filtered(spec: WorklistFilter, now: datetime) -> Select[Any]:
    query = select(ReadingItem)
    if spec.centres:
        query = query.where(ReadingItem.centre.in_(spec.centres))
    lapsed = and_(ReadingItem.state == "claimed", ReadingItem.lease_until < now)
    held = and_(ReadingItem.state == "claimed", ReadingItem.lease_until >= now)
    wanted = set(spec.states) | {s for status in spec.task_statuses for s in STATES_OF_TASK_STATUS.get(status, ())}
    if "open" in wanted:
        wanted = (wanted - {"open"}) | {"waiting", "ready", "claimed"}
    if spec.states or spec.task_statuses:
        plain = sorted(wanted - {"ready", "claimed"})
        if {"ready", "claimed"} <= wanted:  # a lapsed claim is ready: both together are simply both states
            plain += ["ready", "claimed"]
        conditions: list[Any] = [ReadingItem.state.in_(plain)] if plain else []
        if "ready" in wanted and "claimed" not in wanted:
            conditions.append(or_(ReadingItem.state == "ready", lapsed))
        if "claimed" in wanted and "ready" not in wanted:
            conditions.append(held)
        query = query.where(or_(*conditions)) if conditions else query.where(false())
    if spec.priorities:
        query = query.where(ReadingItem.priority.in_(spec.priorities))
    if spec.facility:
        query = query.where(ReadingItem.facility_id == spec.facility)
    if spec.modality:
        query = query.where(ReadingItem.modality == spec.modality.upper())
    if spec.holder:
        query = query.where(ReadingItem.holder == spec.holder)
    if spec.patient_keys:
        query = query.where(ReadingItem.patient_key.in_(spec.patient_keys))
    return query


def worklist(session: Session, spec: WorklistFilter, now: datetime, limit: int, offset: int,
             total: bool = True) -> tuple[list[ReadingItem], int | None]:
    """A page of items, soonest due first (items still waiting for images last), then by priority."""
    query = _filtered(spec, now)
    count = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0) if total else None
    rank = case(PRIORITY_RANK, value=ReadingItem.priority, else_=4)
    rows = session.scalars(
        query.order_by(ReadingItem.due_at.is_(None), ReadingItem.due_at, rank, ReadingItem.id)
        .offset(offset).limit(limit)).all()
    return list(rows), count


def item(session: Session, item_id: str) -> ReadingItem | None:
    return session.get(ReadingItem, item_id)


def report_of(session: Session, item_id: str) -> ReadingReport | None:
    return session.scalar(select(ReadingReport).where(ReadingReport.item_id == item_id))


def report_versions(session: Session, report_id: str) -> list[ReadingReportVersion]:
    return list(session.scalars(select(ReadingReportVersion).where(ReadingReportVersion.report_id == report_id)
                                .order_by(ReadingReportVersion.version)))


def history(session: Session, item_id: str, limit: int = 200) -> list[ReadingItemLog]:
    return list(session.scalars(select(ReadingItemLog).where(ReadingItemLog.item_id == item_id)
                                .order_by(ReadingItemLog.at, ReadingItemLog.id).limit(limit)))


def unordered(session: Session, centre: str | None, limit: int, offset: int) -> tuple[list[ReadingArrival], int]:
    query = select(ReadingArrival).where(ReadingArrival.item_id.is_(None))
    if centre:
        query = query.where(ReadingArrival.centre == centre)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(query.order_by(ReadingArrival.arrived_at, ReadingArrival.id).offset(offset).limit(limit))
    return list(rows), total


def queue_depth(session: Session, now: datetime) -> list[tuple[str, str, str, int]]:
    """Open items per (centre, priority, state), a lapsed claim counted as ready."""
    state = case((and_(ReadingItem.state == "claimed", ReadingItem.lease_until < now), "ready"),
                 else_=ReadingItem.state)
    rows = session.execute(
        select(ReadingItem.centre, ReadingItem.priority, state, func.count())
        .where(ReadingItem.state.in_(("waiting", "ready", "claimed")))
        .group_by(ReadingItem.centre, ReadingItem.priority, state)).all()
    return [(c, p, s, int(n)) for c, p, s, n in rows]


def at_risk_counts(session: Session, now: datetime) -> dict[str, int]:
    rows = session.execute(
        select(ReadingItem.centre, func.count())
        .where(ReadingItem.state.in_(("ready", "claimed")), ReadingItem.at_risk_at <= now)
        .group_by(ReadingItem.centre)).all()
    return {c: int(n) for c, n in rows}


def unordered_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(ReadingArrival.centre, func.count()).where(ReadingArrival.item_id.is_(None))
                           .group_by(ReadingArrival.centre)).all()
    return {c: int(n) for c, n in rows}


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def turnaround(session: Session, now: datetime, days: int = 7) -> dict[str, dict[str, Any]]:
    """Reports, p50 and p90 turnaround (ready to final report) and breaches of the last `days` days, per
    centre and, within it, per modality (CT, DR, US, ...)."""
    since = now - timedelta(days=days)
    rows: Any = session.execute(
        select(ReadingItem.centre, ReadingItem.modality, ReadingItem.ready_at, ReadingItem.done_at)
        .where(ReadingItem.done_at >= since, ReadingItem.state == "done", ReadingItem.ready_at.is_not(None))).all()
    seconds: dict[tuple[str, str], list[float]] = {}
    for centre, modality, ready_at, done_at in rows:
        if ready_at is not None and done_at is not None:
            seconds.setdefault((centre, modality), []).append((done_at - ready_at).total_seconds())
    breaches: dict[tuple[str, str], int] = {
        (c, m): int(n) for c, m, n in session.execute(
            select(ReadingItem.centre, ReadingItem.modality, func.count())
            .where(ReadingItem.breached_at >= since).group_by(ReadingItem.centre, ReadingItem.modality)).all()}

    def figures(keys: list[tuple[str, str]]) -> dict[str, Any]:
        values = [v for k in keys for v in seconds.get(k, [])]
        return {"reports": len(values), "p50_s": _quantile(values, 0.5), "p90_s": _quantile(values, 0.9),
                "breaches": sum(breaches.get(k, 0) for k in keys)}

    pairs = sorted(set(seconds) | set(breaches))
    answer: dict[str, dict[str, Any]] = {}
    for centre in sorted({c for c, _ in pairs}):
        mine = [p for p in pairs if p[0] == centre]
        answer[centre] = {**figures(mine), "modalities": {m: figures([(c, m)]) for c, m in mine}}
    return answer


def reports_per_reader(session: Session, since: datetime) -> list[dict[str, Any]]:
    rows = session.execute(
        select(ReadingReport.centre, ReadingReportVersion.signed_by, ReadingReportVersion.status, func.count())
        .join(ReadingReport, ReadingReport.id == ReadingReportVersion.report_id)
        .where(ReadingReportVersion.signed_at >= since)
        .group_by(ReadingReport.centre, ReadingReportVersion.signed_by, ReadingReportVersion.status)).all()
    return [{"centre": c, "reader": r, "status": s, "count": int(n)} for c, r, s, n in rows]


def content_of(version: ReadingReportVersion) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(version.content)
    return value
