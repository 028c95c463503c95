"""Reports: a draft being typed, signed (final, or preliminary awaiting a second reading), amended;
every signed version kept. A final or amended version becomes a DiagnosticReport with its Observations,
added to the results outbox in the same transaction (so nothing is signed that does not leave)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.reading import metrics
from consumers.reading.config import ReadingConfig
from consumers.reading.models import (
    ReadingArrival,
    ReadingItem,
    ReadingOrder,
    ReadingReport,
    ReadingReportVersion,
)
from consumers.reading.templates import Content, Context, build, problems
from consumers.reading.worklist import Actor, ItemConflict, hold, log
from hub.core.errors import PermanentError
from hub.core.events import Event, Source, deterministic_event_id

PRODUCER = "reading"


class Results(Protocol):
    """The results outbox (hub.core.results.ResultOutbox), as this part uses it."""

    def add(self, session: Session, events: list[Event], producer: str) -> list[str]: ...


class ReportInvalid(PermanentError):
    """A report that cannot be signed as it is; `problems` are (field, reason)."""

    def __init__(self, found: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {r}" for f, r in found))
        self.problems = found


@dataclass(frozen=True)
class Signed:
    report: ReadingReport
    version: int
    status: str
    event_id: str | None


def report_id_for(item_id: str) -> str:
    candidate = "rdr-" + item_id.removeprefix("rd-")
    return candidate if len(candidate) <= 64 else "rdr-" + hashlib.sha256(item_id.encode()).hexdigest()[:40]


def _report(session: Session, item: ReadingItem) -> ReadingReport:
    row = session.scalar(select(ReadingReport).where(ReadingReport.item_id == item.id))
    if row is None:
        row = ReadingReport(id=report_id_for(item.id), item_id=item.id, centre=item.centre, status="draft",
                            version=0, critical=False)
        session.add(row)
    return row


def save_draft(session: Session, item_id: str, actor: Actor, content: Content, config: ReadingConfig,
               now: datetime) -> ReadingReport:
    """Keeps what the reader typed so far (the item must be theirs; the lease is renewed)."""
    item = hold(session, item_id, actor, config, now)
    row = _report(session, item)
    row.draft = content.model_dump_json(exclude_none=True)
    row.drafted_by, row.updated_at = actor.name, now
    return row


def _context(session: Session, item: ReadingItem, report_id: str, config: ReadingConfig,
             reading_facility: str) -> tuple[Context, str | None]:
    order = session.get(ReadingOrder, item.order_id) if item.order_id else None
    order_resource: dict[str, Any] = json.loads(order.resource) if order is not None else {}
    arrival = session.get(ReadingArrival, item.study_id) if item.study_id else None
    study: dict[str, Any] = json.loads(arrival.resource) if arrival is not None else {}
    code = order_resource.get("code") if isinstance(order_resource.get("code"), dict) else None
    basis = item.order_id or (arrival.request_id if arrival is not None else None)
    centre = config.centre(item.centre)
    ctx = Context(report_id=report_id, centre=item.centre, facility_id=item.facility_id, patient_id=item.patient_id,
                  order_id=basis, order_code=code, study_id=item.study_id, centre_name=centre.name_zh,
                  reading_facility=reading_facility)
    effective = study.get("started") or order_resource.get("authoredOn") or (
        item.ready_at.isoformat() if item.ready_at else None)
    return ctx, effective


def _event(item: ReadingItem, report: dict[str, Any], observations: list[dict[str, Any]], version: int,
           now: datetime) -> Event:
    report_id = str(report["id"])
    return Event(
        event_id=deterministic_event_id(item.facility_id, "reading", report_id, str(version)),
        event_type="diagnostic_report",
        source=Source(facility_id=item.facility_id, system="reading", position=f"{report_id}/{version}"),
        occurred_at=now,
        recorded_at=now,
        patient_key=item.patient_key,  # the ordering member's patient: the report goes back to that member
        resource=report,
        related=tuple(observations),
    )


def _publish(session: Session, results: Results, item: ReadingItem, row: ReadingReport, content: Content,
             status: str, interpreters: list[str], config: ReadingConfig, reading_facility: str, actor: Actor,
             now: datetime, reason: str | None = None) -> Signed:
    version = row.version + 1
    ctx, effective = _context(session, item, row.id, config, reading_facility)
    report, observations = build(ctx, content, status, version, interpreters, now, effective, reason)
    event = _event(item, report, observations, version, now)
    results.add(session, [event], PRODUCER)
    session.add(ReadingReportVersion(
        report_id=row.id, version=version, status=status, content=content.model_dump_json(exclude_none=True),
        resource=json.dumps(report, ensure_ascii=False), observations=json.dumps(observations, ensure_ascii=False),
        signed_by=actor.name, signed_at=now, reason=reason, event_id=event.event_id))
    row.version, row.status, row.critical = version, status, content.critical is not None
    row.signed_by, row.signed_at, row.updated_at, row.draft = actor.name, now, now, None
    metrics.REPORTS.labels(item.centre, status).inc()
    if content.critical is not None:
        metrics.CRITICAL.labels(item.centre).inc()
    return Signed(row, version, status, event.event_id)


def sign(session: Session, item_id: str, actor: Actor, content: Content | None, config: ReadingConfig,
         results: Results, reading_facility: str, now: datetime, ask_second: bool = False) -> Signed:
    """Signs the item's report. A first reading that needs a second one (the centre's rule, or asked for)
    is kept as preliminary and the item goes back to the worklist for another reader; otherwise the
    report is final, published, and the item is done. Without content the draft (or, for a second
    reading, the first reader's report: a confirmation) is signed."""
    item = hold(session, item_id, actor, config, now)
    row = _report(session, item)
    if content is None:
        source = row.draft or _last_content(session, row)
        if source is None:
            raise ReportInvalid([("content", "there is no draft to sign; send the report's content")])
        content = Content.model_validate_json(source)
    found = problems(item.centre, content)
    if found:
        raise ReportInvalid(found)
    second = item.stage == "second"
    if not second and (config.centre(item.centre).second_reading or ask_second or item.second_reading):
        version = row.version + 1
        session.add(ReadingReportVersion(
            report_id=row.id, version=version, status="preliminary",
            content=content.model_dump_json(exclude_none=True), resource=None, observations=None,
            signed_by=actor.name, signed_at=now, reason=None, event_id=None))
        row.version, row.status, row.critical, row.draft = version, "preliminary", content.critical is not None, None
        row.signed_by, row.signed_at, row.updated_at = actor.name, now, now
        item.stage, item.state, item.first_reader, item.second_reading = "second", "ready", actor.name, True
        item.holder, item.lease_until, item.updated_at = None, None, now
        log(session, item.id, "signed-first", actor.name, "waits for a second reading", now)
        return Signed(row, version, "preliminary", None)
    interpreters = [item.first_reader, actor.name] if second and item.first_reader else [actor.name]
    if second:
        earlier = _last_content(session, row)
        verdict = "confirmed" if earlier == content.model_dump_json(exclude_none=True) else "amended"
        log(session, item.id, f"second-{verdict}", actor.name, f"first reading by {item.first_reader}", now)
    signed = _publish(session, results, item, row, content, "final", interpreters, config, reading_facility,
                      actor, now)
    item.state, item.done_at, item.report_id = "done", now, row.id
    item.holder, item.lease_until, item.updated_at = None, None, now
    log(session, item.id, "signed", actor.name, f"report {row.id} version {signed.version}", now)
    if item.ready_at is not None:
        metrics.TURNAROUND.labels(item.centre, item.priority).observe((now - item.ready_at).total_seconds())
    metrics.READER_REPORTS.labels(item.centre, _bounded(actor.name)).inc()
    return signed


def amend(session: Session, report_id: str, actor: Actor, content: Content, reason: str, config: ReadingConfig,
          results: Results, reading_facility: str, now: datetime) -> Signed:
    """A new version of a final report (status amended), by one of its readers or a lead."""
    row = session.get(ReadingReport, report_id)
    if row is None:
        raise ItemConflict(404, f"no report {report_id}")
    item = session.get(ReadingItem, row.item_id)
    if item is None or row.status not in ("final", "amended"):
        raise ItemConflict(409, f"report {report_id} is {row.status}; only a final report can be amended "
                                "(sign it first)")
    readers = set(session.scalars(select(ReadingReportVersion.signed_by)
                                  .where(ReadingReportVersion.report_id == report_id)))
    if actor.name not in readers and not actor.lead:
        raise ItemConflict(403, f"report {report_id} was signed by {', '.join(sorted(readers))}; only they or a "
                                "reading lead may amend it")
    if not reason.strip():
        raise ReportInvalid([("reason", "an amendment needs its reason (修改原因)")])
    found = problems(item.centre, content)
    if found:
        raise ReportInvalid(found)
    interpreters = sorted(readers | {actor.name})
    signed = _publish(session, results, item, row, content, "amended", interpreters, config, reading_facility,
                      actor, now, reason.strip())
    log(session, item.id, "amended", actor.name, reason.strip(), now)
    return signed


def _last_content(session: Session, row: ReadingReport) -> str | None:
    return session.scalar(select(ReadingReportVersion.content).where(ReadingReportVersion.report_id == row.id)
                          .order_by(ReadingReportVersion.version.desc()).limit(1))


def _bounded(name: str) -> str:
    """Reader names are accounts and tokens (a few dozen a county); cut long ones so labels stay small."""
    return name[:40]
