"""Bringing one member's drug up to date: its stock level from the ledger, its warnings, and the county
shortage of that drug (with its notice). Used by the consumer after each stock event and by the worker that
re-checks every level as time passes (batches come near expiry, use leaves the 30-day window)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.drug_supply import metrics
from consumers.drug_supply.alerts import (
    COUNTY,
    LOW,
    NEAR_EXPIRY,
    SHORTAGE,
    STOCKOUT,
    Thresholds,
    count_open,
    county_calls,
    reconcile,
    shortage_event,
    wanted,
)
from consumers.drug_supply.ledger import position
from consumers.drug_supply.models import StockEntry, StockLevel, StockWarning
from hub.core.terminology import COMMUNITY_DRUG, Terminology

PRODUCER = "drug_supply"


@dataclass(frozen=True)
class Desk:
    """What refreshing needs besides the session: thresholds, the catalogue and where notices go."""

    thresholds: Thresholds
    terminology: Terminology
    results: Any  # hub.core.results.ResultOutbox, or None: no notices (a tool that only reads)


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Metrics move only once the change is committed (a rolled-back batch is tried again)."""
    orm_event.listen(session, "after_commit", lambda _session: action(), once=True)


def refresh_drug(session: Session, desk: Desk, facility: str, drug_key: str, names: tuple[str | None, str | None, str],
                 now: datetime) -> StockLevel:
    """Recomputes one member's drug; `names` = (community code, local code, drug name) as last seen."""
    entries = session.scalars(select(StockEntry).where(StockEntry.facility_id == facility,
                                                       StockEntry.drug_key == drug_key)).all()
    held = position(entries, now)
    level = session.get(StockLevel, (facility, drug_key))
    community, local, name = names
    if level is None:
        level = StockLevel(facility_id=facility, drug_key=drug_key, community_code=community, local_code=local,
                           drug_name=name)
        session.add(level)
    level.local_code = local or level.local_code
    level.drug_name = name or level.drug_name
    level.on_hand, level.daily_use, level.days_of_supply = held.on_hand, held.daily_use, held.days_of_supply
    level.batches = json.dumps([b.as_dict() for b in held.batches], ensure_ascii=False)
    level.counted_at, level.updated_at = held.counted_at, now
    raised, cleared = reconcile(session, facility, drug_key, level.drug_name, wanted(held, desk.thresholds, now),
                                (STOCKOUT, LOW, NEAR_EXPIRY), now)
    # Checked every time, not only when this member's warnings moved: the county count is the members' together.
    shortage_raised, shortage_cleared = reconcile(session, COUNTY, drug_key, level.drug_name,
                                                  county_calls(session, drug_key, desk.thresholds), (SHORTAGE,), now)
    raised += shortage_raised
    cleared += shortage_cleared
    _notify(session, desk, [*shortage_raised, *shortage_cleared], now)
    if raised or cleared:
        kinds_raised = [r.kind for r in raised]
        kinds_cleared = [r.kind for r in cleared]

        def count() -> None:
            for kind in kinds_raised:
                metrics.RAISED.labels(kind).inc()
            for kind in kinds_cleared:
                metrics.CLEARED.labels(kind).inc()
        after_commit(session, count)
        publish_open(session)
    return level


def _notify(session: Session, desk: Desk, rows: list[StockWarning], now: datetime) -> None:
    if desk.results is None or not rows:
        return
    for row in rows:
        codings = [{"system": COMMUNITY_DRUG, "code": row.drug_key, "display": row.drug_name}]
        desk.results.add(session, [shortage_event(row, now, codings)], PRODUCER)


def publish_open(session: Session) -> None:
    """Sets the open-warning gauges from this transaction's view once it commits."""
    counts = count_open(session)
    unknown = len(session.scalars(select(StockLevel.drug_key).where(StockLevel.community_code.is_(None))).all())

    def set_gauges() -> None:
        for kind, number in counts.items():
            metrics.OPEN.labels(kind).set(number)
        metrics.SHORTAGES_OPEN.set(counts[SHORTAGE])
        metrics.UNKNOWN_DRUGS.set(unknown)
    after_commit(session, set_gauges)
