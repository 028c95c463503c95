"""The audit log: one row per request that read or changed patient data (who, role, facility,
when, from which address, which route) and one `audit_patient` row per patient whose data it returned.

Rows are written by the response hook (hub/core/web/hooks.py), never by routes, so no route can forget.
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
