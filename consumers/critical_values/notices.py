"""The life of a critical-value notice: raised (or raised again when the values change), sent again and
escalated when nobody acknowledges it in time, acknowledged by the member. Each step changes the notice
row, adds its `notice` event to the results outbox and writes an audit row, all in one transaction.

Times come from the caller (`now`), so the escalation can be driven by a fake clock in tests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event as orm_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consumers.critical_values import metrics
from consumers.critical_values.detect import Detection
from consumers.critical_values.models import CriticalNotice, CriticalUnchecked
from consumers.critical_values.rules import Rules
from hub.core.events import Event, Source, deterministic_event_id
from hub.core.results import ResultOutbox
from hub.core.services import SharedRecord
from hub.core.web.audit import Step, record_step

SYSTEM = "critical_values"  # the source system of notice events, the producer in the outbox, the audit actor
NOTICE_SYSTEM = "urn:hub:critical-value"
DUE_EXTENSION = "urn:hub:notice:acknowledge-by"
ATTEMPT_EXTENSION = "urn:hub:notice:attempt"
CATEGORY = "http://terminology.hl7.org/CodeSystem/communication-category"
CHINA = ZoneInfo("Asia/Shanghai")
OPEN, ACKNOWLEDGED, WITHDRAWN = "open", "acknowledged", "withdrawn"


@dataclass(frozen=True)
class Desk:
    """What every step needs: the rules, the default time to acknowledge, where events and audit rows go."""

    rules: Rules
    ack_s: float  # HUB_CRITICAL_ACK_S
    results: ResultOutbox
    shared_record: SharedRecord

    def ack_for(self, detection: Detection) -> float:
        own = [f.ack_s for f in detection.findings if f.ack_s is not None]
        return min(own) if own else self.ack_s

    def level2_after(self, row: CriticalNotice) -> float:
        return self.rules.level2_after_s or row.ack_s


def notice_id(facility_id: str, kind: str, about: str) -> str:
    """One notice per member, kind (lab or reader) and report: the same report amended is the same notice."""
    return "cv-" + hashlib.sha256(f"{facility_id}|{kind}|{about}".encode()).hexdigest()[:24]


def event_notice_id(event: Event) -> str:
    """The notice an event's critical values belong to: its member, lab or reader, and its report (or lone
    Observation), so every version of a report maps to the same notice."""
    facility = event.patient_key.partition("/")[0]
    kind = "reader" if event.event_type == "diagnostic_report" else "lab"
    return notice_id(facility, kind, f"{event.resource_type}/{event.resource.get('id')}")


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Counts a step in the metrics only once it is committed (a rolled-back batch is tried again)."""
    orm_event.listen(session, "after_commit", lambda _session: action(), once=True)


def _china(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} 分钟" if seconds >= 60 else f"{seconds:g} 秒"


# Raising ------------------------------------------------------------------------------------------------


def raise_notice(session: Session, desk: Desk, event: Event, detection: Detection, now: datetime) -> str | None:
    """Stores (or raises again) the notice for an event's critical findings and adds its event to the results
    outbox. Returns the notice id, or None when the same critical values were already notified."""
    facility = event.patient_key.partition("/")[0]
    about = f"{event.resource_type}/{event.resource.get('id')}"
    nid = event_notice_id(event)
    fingerprint = detection.fingerprint()
    row = session.get(CriticalNotice, nid, with_for_update=True)
    if row is not None and row.fingerprint == fingerprint:
        return None  # an amendment (or another copy) with the same critical values: notified already
    ack_s = desk.ack_for(detection)
    values: dict[str, Any] = {
        "facility_id": facility, "patient_key": event.patient_key, "patient_id": _patient_id(detection),
        "source": detection.source, "about": about, "origin_event_id": event.event_id, "fingerprint": fingerprint,
        "summary": "；".join(f.sentence() for f in detection.findings),
        "findings": json.dumps([asdict(f) for f in detection.findings], ensure_ascii=False),
        "related": json.dumps(list(detection.about), ensure_ascii=False),
        "status": OPEN, "level": 0, "ack_s": ack_s, "raised_at": now, "due_at": now + timedelta(seconds=ack_s),
        "level1_at": None, "level2_at": None, "escalated_to": None, "acknowledged_at": None, "ack_name": None,
        "ack_role": None, "ack_action": None, "ack_credential": None, "updated_at": now,
    }
    again = row is not None
    if row is None:
        row = CriticalNotice(id=nid, version=1, **values)
        session.add(row)
    else:  # changed critical values: a new version of the same Communication, a new clock
        for name, value in values.items():
            setattr(row, name, value)
        row.version += 1
    _audit(session, desk, row, "critical_raised",
           f"{'raised again (values changed)' if again else 'raised'}: source {row.source}, version {row.version}, "
           f"from event {event.event_id}; {row.summary}")
    _send(session, desk, row, now, repeat=False)
    source = row.source
    after_commit(session, lambda: metrics.RAISED.labels(source).inc())
    return nid


def withdraw_if_corrected(session: Session, desk: Desk, event: Event, now: datetime) -> str | None:
    """A later version of a report that no longer holds critical values (the laboratory corrected a
    haemolysed potassium, a reader amended the report): an open notice about it is withdrawn and the member
    told so (a new version of the Communication, status entered-in-error), instead of escalating a value
    that is gone. Returns the notice id, or None when there was no open notice."""
    row = session.get(CriticalNotice, event_notice_id(event), with_for_update=True)
    if row is None or row.status != OPEN:
        return None
    now_values = {r.get("id"): r for r in (event.resource, *event.related)
                  if r.get("resourceType") == "Observation" and _settled(r)}
    ids = [f["observation_id"] for f in json.loads(row.findings) if f.get("observation_id")]
    retracted = event.resource.get("status") in RETRACTED
    if event.event_type == "lab_result" and not retracted and (not ids or any(i not in now_values for i in ids)):
        return None  # this version does not show the critical values again (partial results): nothing to conclude
    corrected = [now_values[i] for i in ids if i in now_values]
    before = row.summary
    row.status, row.updated_at, row.version, row.origin_event_id = WITHDRAWN, now, row.version + 1, event.event_id
    row.fingerprint = ""  # the same critical values coming back are a new notice
    about = [*corrected, event.resource] if event.resource_type == "DiagnosticReport" else [event.resource]
    row.related = json.dumps(about, ensure_ascii=False)
    _audit(session, desk, row, "critical_withdrawn",
           f"withdrawn: event {event.event_id} (a later version of {row.about}) holds no critical value; was: {before}")
    resource = communication(row, now, repeat=False)
    resource["status"] = "entered-in-error"
    after = "；".join(f"{_name_of(o)} {_value_of(o)}" for o in corrected)
    resource["payload"] = [{"contentString": f"【危急值更正】此前的危急值通知（{before}）已作废：结果已更正"
                                             f"{'为 ' + after if after else ''}，不再是危急值，无需确认。"}]
    item = notice_event(row, resource, now)
    if desk.results.add(session, [item], SYSTEM):
        _audit(session, desk, row, "critical_queued",
               f"withdrawal event {item.event_id} (Communication/{row.id} version {row.version}) added to the "
               f"results outbox for hub.notice.v1, to {row.facility_id}")
    after_commit(session, lambda: metrics.WITHDRAWN.inc())
    return row.id


RETRACTED = ("entered-in-error", "cancelled")


def _settled(observation: dict[str, Any]) -> bool:
    """An Observation that says something about its value: it has one, or it was retracted."""
    return observation.get("status") in RETRACTED or any(key.startswith("value") for key in observation)


def _name_of(observation: dict[str, Any]) -> str:
    code = observation.get("code") or {}
    return str(code.get("text") or next((c.get("display") or c.get("code") for c in code.get("coding") or []), ""))


def _value_of(observation: dict[str, Any]) -> str:
    quantity = observation.get("valueQuantity") or {}
    value = quantity.get("value")
    return f"{value:g} {quantity.get('unit') or ''}".strip() if isinstance(value, int | float) else ""


def note_unchecked(session: Session, event: Event, detection: Detection) -> None:
    """Keeps the values a rule covers but whose unit could not be converted (once per event and value)."""
    facility = event.patient_key.partition("/")[0]
    for item in detection.unchecked:
        observation = item.observation_id or "-"
        known = session.scalar(select(CriticalUnchecked.id).where(CriticalUnchecked.event_id == event.event_id,
                                                                  CriticalUnchecked.observation_id == observation))
        if known is not None:
            continue
        session.add(CriticalUnchecked(event_id=event.event_id, observation_id=observation[:64], facility_id=facility,
                                      analyte=item.analyte, unit=item.unit[:64], reason=item.reason))
        analyte = item.analyte
        after_commit(session, lambda analyte=analyte: metrics.UNCHECKED.labels(analyte).inc())  # type: ignore[misc]


def _patient_id(detection: Detection) -> str | None:
    for resource in (detection.report, *detection.about):
        reference = str(((resource or {}).get("subject") or {}).get("reference") or "")
        if reference.startswith("Patient/"):
            return reference.removeprefix("Patient/")[:64]
    return None


# The notice as it leaves: a Communication and its event ---------------------------------------------------


def communication(row: CriticalNotice, now: datetime, repeat: bool) -> dict[str, Any]:
    """The R4 Communication the member receives (status in-progress until acknowledged)."""
    related = json.loads(row.related)
    attempt = 2 if repeat else 1
    head = "【危急值·第2次通知】" if repeat else "【危急值】"
    late = "此前通知未在规定时间内确认，" if repeat else ""
    text = (f"{head}{row.summary}。{late}请在 {_minutes(_seconds_left(row, now))}内（{_china(row.due_at)} 前，北京时间）"
            f"由接收人确认并处理。")
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": row.id,
        "meta": {"versionId": str(row.version), "lastUpdated": now.isoformat()},
        "extension": [{"url": DUE_EXTENSION, "valueDateTime": row.due_at.isoformat()},
                      {"url": ATTEMPT_EXTENSION, "valueInteger": attempt}],
        "identifier": [{"system": NOTICE_SYSTEM, "value": row.id}],
        "status": "in-progress",
        "category": [{"coding": [{"system": CATEGORY, "code": "alert", "display": "Alert"}],
                      "text": "危急值"}],
        "priority": "stat",
        "about": [{"reference": f"{r['resourceType']}/{r['id']}"} for r in related
                  if r.get("resourceType") and r.get("id")] or [{"reference": row.about}],
        "sent": now.isoformat(),
        "recipient": [{"identifier": {"system": "urn:hub:facility", "value": row.facility_id},
                       "display": row.facility_id}],
        "sender": {"display": "County Hub 危急值"},
        "payload": [{"contentString": text}],
    }
    if row.patient_id:
        resource["subject"] = {"reference": f"Patient/{row.patient_id}"}
    return resource


def current_communication(row: CriticalNotice) -> dict[str, Any]:
    """The notice's Communication as it stands now: as last sent, `completed` with who took it once
    acknowledged (for FHIR reads)."""
    sent = row.level1_at if row.level >= 1 and row.level1_at else row.raised_at
    resource = communication(row, sent, repeat=row.level >= 1)
    resource["meta"]["lastUpdated"] = row.updated_at.isoformat()
    if row.status == WITHDRAWN:
        resource["status"] = "entered-in-error"
    if row.status == ACKNOWLEDGED and row.acknowledged_at is not None:
        resource["status"] = "completed"
        resource["received"] = row.acknowledged_at.isoformat()
        resource["note"] = [{"authorString": f"{row.ack_name}（{row.ack_role}）", "time": row.acknowledged_at.isoformat(),
                             "text": f"已确认：{row.ack_action}"}]
    return resource


def _seconds_left(row: CriticalNotice, now: datetime) -> float:
    return max(0.0, (row.due_at - now).total_seconds())


def notice_event(row: CriticalNotice, resource: dict[str, Any], now: datetime) -> Event:
    return Event(
        event_id=deterministic_event_id(row.facility_id, SYSTEM, row.id, str(row.version)),
        event_type="notice",
        source=Source(row.facility_id, SYSTEM, row.id),
        occurred_at=now,
        recorded_at=now,
        patient_key=row.patient_key,
        resource=resource,
        related=tuple(json.loads(row.related)),
    )


def _send(session: Session, desk: Desk, row: CriticalNotice, now: datetime, repeat: bool) -> None:
    item = notice_event(row, communication(row, now, repeat), now)
    if desk.results.add(session, [item], SYSTEM):
        _audit(session, desk, row, "critical_queued",
               f"notice event {item.event_id} (Communication/{row.id} version {row.version}) added to the results "
               f"outbox for hub.notice.v1, to {row.facility_id}")


def _audit(session: Session, desk: Desk, row: CriticalNotice, action: str, detail: str, actor: str = SYSTEM,
           role: str = "system", facility: str | None = None) -> None:
    record_step(session, Step(actor, role, facility or row.facility_id, action, "Communication", row.id,
                              row.patient_id, detail, (row.patient_key,)), desk.shared_record)


# Escalation ---------------------------------------------------------------------------------------------


def due_notices(session: Session, now: datetime, limit: int = 200) -> list[str]:
    """Open notices past their deadline that still have a step to take."""
    return list(session.scalars(
        select(CriticalNotice.id).where(CriticalNotice.status == OPEN, CriticalNotice.level < 2,
                                        CriticalNotice.due_at <= now)
        .order_by(CriticalNotice.due_at).limit(limit)))


def escalate(session: Session, desk: Desk, notice: str, now: datetime) -> int | None:
    """Takes the next step of one overdue notice; returns the level reached, or None when there was none
    (acknowledged meanwhile, or another instance took it): each step happens once."""
    row = session.get(CriticalNotice, notice, with_for_update=True)
    if row is None or row.status != OPEN or row.level >= 2 or row.due_at > now:
        return None
    if row.level == 0:  # the member is told again, as a new version of the Communication
        row.level, row.level1_at, row.version, row.updated_at = 1, now, row.version + 1, now
        row.due_at = now + timedelta(seconds=desk.level2_after(row))
        _audit(session, desk, row, "critical_escalated",
               f"level 1: not acknowledged within {row.ack_s:g} s; sent again to {row.facility_id} "
               f"(第2次通知, version {row.version})")
        _send(session, desk, row, now, repeat=True)
    else:  # the county duty doctors are called
        doctors = [asdict(d) for d in desk.rules.duty_doctors]
        row.level, row.level2_at, row.updated_at = 2, now, now
        row.escalated_to = json.dumps(doctors, ensure_ascii=False)
        _audit(session, desk, row, "critical_escalated",
               "level 2: still not acknowledged after the second notice; county duty doctors called: "
               + ", ".join(f"{d['name']} {d['phone']}".strip() for d in doctors))
    level = row.level
    after_commit(session, lambda: metrics.ESCALATIONS.labels(str(level)).inc())
    return level


def count_open(session: Session) -> dict[int, int]:
    rows = session.execute(select(CriticalNotice.level, func.count()).where(CriticalNotice.status == OPEN)
                           .group_by(CriticalNotice.level)).all()
    found = {int(level): int(count) for level, count in rows}
    return {level: found.get(level, 0) for level in (0, 1, 2)}


# Acknowledgement ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Acknowledgement:
    name: str  # the person who took the notice
    role: str  # their role at the member (医师, 护士 ...)
    action: str  # what was done
    credential: str  # the token or account it came with
    credential_role: str
    credential_facility: str | None


def acknowledge(session: Session, desk: Desk, row: CriticalNotice, ack: Acknowledgement, now: datetime) -> None:
    """Closes an open notice (the caller has checked who may, and that it is open)."""
    row.status, row.acknowledged_at, row.updated_at = ACKNOWLEDGED, now, now
    row.ack_name, row.ack_role, row.ack_action, row.ack_credential = ack.name, ack.role, ack.action, ack.credential
    waited = max(0.0, (now - row.raised_at).total_seconds())
    _audit(session, desk, row, "critical_acknowledged",
           f"acknowledged by {ack.name} ({ack.role}) after {waited:.0f} s at level {row.level}; action: {ack.action}",
           actor=ack.credential, role=ack.credential_role, facility=ack.credential_facility)
    level = str(row.level)

    def count() -> None:
        metrics.ACKNOWLEDGED.labels(level).inc()
        metrics.ACK_SECONDS.observe(waited)

    after_commit(session, count)
