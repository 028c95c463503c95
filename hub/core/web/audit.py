"""The audit log: one row per request that read or changed patient data (who, role, facility,
when, from which address, which route) and one `audit_patient` row per patient whose data it returned.

Rows are written by the response hook (hub/api/hooks.py), never by routes, so no route can forget.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.record_store.models import PatientLink
from hub.core.web.auth import Principal
from hub.core.db.models import AuditLog, AuditPatient

_CHUNK = 500  # bound the size of IN (...) lists


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


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _resolve(session: Session, ids: set[str], keys: set[str]) -> dict[str, str | None]:
    """Every patient id with its community patient (a community id maps to itself)."""
    ids = set(ids)
    for chunk in _chunks(keys):
        ids.update(session.scalars(select(PatientLink.source_patient_id).where(PatientLink.patient_key.in_(chunk))))
    resolved: dict[str, str | None] = dict.fromkeys(ids)
    for chunk in _chunks(ids):
        for source, community in session.execute(
            select(PatientLink.source_patient_id, PatientLink.community_patient_id).where(
                PatientLink.source_patient_id.in_(chunk))
        ):
            resolved[source] = community
        for community in session.scalars(
            select(PatientLink.community_patient_id).where(PatientLink.community_patient_id.in_(chunk)).distinct()
        ):
            resolved[community] = community
    return resolved


def record(session: Session, access: Access) -> AuditLog:
    p = access.principal
    row = AuditLog(actor=p.name[:100], role=p.role, facility_id=p.facility_id, action=access.action[:32],
                   resource_type=access.resource_type[:64], resource_id=(access.resource_id or None) and access.resource_id[:64],
                   patient_id=(access.patient_id or None) and access.patient_id[:100], client=access.client,
                   method=access.method, path=access.path, query=access.query or None, status=access.status,
                   uid=uuid.uuid4().hex)
    session.add(row)
    # No flush: on SQLite the rows are written after the read (hub/db/late_writes.py), linked by uid.
    for patient, community in _resolve(session, access.patient_ids, access.patient_keys).items():
        session.add(AuditPatient(audit_uid=row.uid, patient_id=patient[:128], community_id=community))
    return row
