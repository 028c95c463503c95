"""The reading centres' sweep, a worker beside the consumer: puts back claims whose lease ran out,
flags items at risk, escalates breaches (to the backup readers, then the duty expert) and counts them,
and refreshes the metrics. Every step is a conditional update, so two hub processes sweeping at once
do each thing once."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from consumers.reading import metrics, queries
from consumers.reading.classify import ECG_MODALITIES, IMAGING_MODALITIES, PATHOLOGY_MODALITIES
from consumers.reading.config import PRIORITIES, ReadingConfig, load_config
from consumers.reading.models import ReadingItem
from consumers.reading.worklist import changed, lapse, log
from hub.core.db import Database
from hub.core.events import utcnow
from hub.core.parts import PartContext

INTERVAL_S = 15.0
KNOWN_MODALITIES = frozenset((*ECG_MODALITIES, *IMAGING_MODALITIES, *PATHOLOGY_MODALITIES))  # bounded labels
log_ = logging.getLogger(__name__)
_OPEN = ("ready", "claimed")


@dataclass(frozen=True)
class SweepResult:
    lapsed: int
    at_risk: int
    breached: int
    to_duty: int


def _centre_of(session: Session, item_id: str) -> tuple[str, str]:
    row = session.execute(select(ReadingItem.centre, ReadingItem.priority).where(ReadingItem.id == item_id)).one()
    return str(row[0]), str(row[1])


def sweep(session: Session, config: ReadingConfig, now: datetime) -> SweepResult:
    lapsed = lapse(session, now)
    for item_id in lapsed:
        metrics.LAPSED.labels(_centre_of(session, item_id)[0]).inc()
    at_risk = list(session.scalars(select(ReadingItem.id).where(
        ReadingItem.state.in_(_OPEN), ReadingItem.flagged_at_risk.is_(None), ReadingItem.at_risk_at <= now)))
    for item_id in at_risk:
        if changed(session.execute(update(ReadingItem).where(ReadingItem.id == item_id, ReadingItem.flagged_at_risk.is_(None))
                           .values(flagged_at_risk=now).execution_options(synchronize_session=False))):
            log(session, item_id, "at-risk", None, "past the at-risk share of its target", now)
    breached = list(session.scalars(select(ReadingItem.id).where(
        ReadingItem.state.in_(_OPEN), ReadingItem.breached_at.is_(None), ReadingItem.due_at <= now)))
    for item_id in breached:
        centre, priority = _centre_of(session, item_id)
        backup = ", ".join(config.centre(centre).backup) or None
        if changed(session.execute(update(ReadingItem).where(ReadingItem.id == item_id, ReadingItem.breached_at.is_(None))
                           .values(breached_at=now, escalation=1, escalated_to=backup, updated_at=now)
                           .execution_options(synchronize_session=False))):
            log(session, item_id, "breached", None, f"escalated to backup readers: {backup or 'none listed'}", now)
            metrics.BREACHES.labels(centre, priority).inc()
            metrics.ESCALATIONS.labels(centre, "backup").inc()
    to_duty = list(session.scalars(select(ReadingItem.id).where(
        ReadingItem.state.in_(_OPEN), ReadingItem.escalation == 1, ReadingItem.duty_at <= now)))
    for item_id in to_duty:
        centre, _ = _centre_of(session, item_id)
        expert = config.centre(centre).duty_expert
        if changed(session.execute(update(ReadingItem).where(ReadingItem.id == item_id, ReadingItem.escalation == 1)
                           .values(escalation=2, escalated_to=expert, updated_at=now)
                           .execution_options(synchronize_session=False))):
            log(session, item_id, "escalated", None, f"to the duty expert {expert or '(none listed)'}", now)
            metrics.ESCALATIONS.labels(centre, "duty_expert").inc()
    return SweepResult(len(lapsed), len(at_risk), len(breached), len(to_duty))


def refresh_metrics(session: Session, config: ReadingConfig, now: datetime) -> None:
    depth = {(c, p, s): n for c, p, s, n in queries.queue_depth(session, now)}
    for centre in config.centres:
        for priority in PRIORITIES:
            for state in ("waiting", "ready", "claimed"):
                metrics.QUEUE_DEPTH.labels(centre, priority, state).set(depth.get((centre, priority, state), 0))
    risky, waiting = queries.at_risk_counts(session, now), queries.unordered_counts(session)
    figures = queries.turnaround(session, now)
    for centre in config.centres:
        metrics.AT_RISK.labels(centre).set(risky.get(centre, 0))
        metrics.UNORDERED.labels(centre).set(waiting.get(centre, 0))
        modalities = figures.get(centre, {}).get("modalities", {})
        for modality in sorted(set(modalities) | {"all"}):
            known = modality if modality == "all" or modality in KNOWN_MODALITIES else "other"
            values = figures.get(centre, {}) if modality == "all" else modalities[modality]
            for name, key in (("0.5", "p50_s"), ("0.9", "p90_s")):
                value = values.get(key)
                metrics.TURNAROUND_QUANTILE.labels(centre, known, name).set(
                    value if value is not None else float("nan"))


class Sweeper:
    def __init__(self, database: Database, config: ReadingConfig, interval_s: float = INTERVAL_S) -> None:
        self.database, self.config, self.interval_s = database, config, interval_s

    def once(self, now: datetime | None = None) -> SweepResult:
        now = now or utcnow()
        with self.database.transaction() as session:
            result = sweep(session, self.config, now)
        with self.database.reading() as session:
            refresh_metrics(session, self.config, now)
        return result

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                result = self.once()
                if result.breached or result.to_duty:
                    log_.warning("reading: %d items breached their target, %d went to the duty expert",
                                 result.breached, result.to_duty)
            except Exception:  # the database may be down for a while; try again next round
                log_.exception("the reading sweep failed; trying again in %.0f s", self.interval_s)
            stop.wait(self.interval_s)


def run_sweeper(context: PartContext, stop: threading.Event) -> None:
    """The reading part's worker (Part.workers)."""
    config = load_config(context.settings.reading_targets, context.settings.reading_lease_s)
    Sweeper(context.database, config).run(stop)


