"""The audit log: one row per request that read or changed patient data (who, role, facility,
when, from which address, which route) and one `audit_patient` row per patient whose data it returned.

Rows of requests are written by the response hook (hub/core/web/hooks.py), never by routes, so no route
can forget. Steps the hub takes on its own (a critical-value notice raised, escalated) are written by
`record_step`, in the transaction that takes the step.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from hub.core.db.models import AuditLog, AuditPatient
from hub.core.services import SharedRecord
from hub.core.web.auth import Principal


@dataclass
class Access:
    """One request, as the audit log keeps it."""

    principal: Principal
    action: str
    resource_type: str
    resource_id: str | None
    patient_id: str | None  # the patient the request named, if any
    client: str | None
    method: str
    path: str
    query: str
    status: int
    patient_ids: set[str] = field(default_factory=set)  # Patient ids found in what was returned
    patient_keys: set[str] = field(default_factory=set)  # member patient keys (facility/local id) found


def record(session: Session, access: Access, shared_record: SharedRecord) -> AuditLog:
    p = access.principal
    row = AuditLog(actor=p.name[:100], role=p.role, facility_id=p.facility_id, action=access.action[:32],
                   resource_type=access.resource_type[:64], resource_id=(access.resource_id or None) and access.resource_id[:64],
                   patient_id=(access.patient_id or None) and access.patient_id[:100], client=access.client,
                   method=access.method, path=access.path, query=access.query or None, status=access.status,
                   uid=uuid.uuid4().hex)
    session.add(row)
    # No flush: on SQLite the rows are written after the read (hub/core/db/late_writes.py), linked by uid.
    for patient, community in shared_record.community_ids(session, access.patient_ids, access.patient_keys).items():
        session.add(AuditPatient(audit_uid=row.uid, patient_id=patient[:128], community_id=community))
    return row


@dataclass(frozen=True)
class Step:
    """A step the hub took on its own, or on a person's behalf, outside one audited request."""

    actor: str  # who took it: a person's or credential's name, or the part ("critical_values")
    role: str  # the actor's role, or "system"
    facility_id: str | None
    action: str  # e.g. "critical_raised" (at most 32 characters)
    resource_type: str  # e.g. "Communication"
    resource_id: str | None
    patient_id: str | None = None  # the patient it concerns (a member's Patient id)
    detail: str | None = None  # what else to keep, as text (kept in the row's query column)
    patient_keys: tuple[str, ...] = ()  # member patient keys (facility/local id) it concerns
    # Patients the caller has resolved already (member Patient id, community id): kept without a lookup.
    resolved: tuple[tuple[str, str], ...] = ()


def record_step(session: Session, step: Step, shared_record: SharedRecord) -> AuditLog:
    """One audit row for a step taken outside an HTTP request, written in the caller's transaction so
    the step and its row commit together. Its method and path are empty: no request made it."""
    row = AuditLog(actor=step.actor[:100], role=step.role[:32], facility_id=step.facility_id,
                   action=step.action[:32], resource_type=step.resource_type[:64],
                   resource_id=(step.resource_id or None) and step.resource_id[:64],
                   patient_id=(step.patient_id or None) and step.patient_id[:100], client=None, method=None,
                   path=None, query=step.detail, status=None, uid=uuid.uuid4().hex)
    session.add(row)
    known: dict[str, str | None] = dict(step.resolved)
    ids = {step.patient_id} - known.keys() if step.patient_id else set()
    if ids or step.patient_keys:
        known.update(shared_record.community_ids(session, ids, set(step.patient_keys)))
    for patient, community in known.items():
        session.add(AuditPatient(audit_uid=row.uid, patient_id=patient[:128], community_id=community))
    return row
