"""The audit log: one row per read or change of patient data (who, when, role, facility, patient)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hub.api.auth import Principal
from hub.db.models import AuditLog


def audit(
    session: Session,
    principal: Principal,
    action: str,
    resource_type: str,
    resource_id: str | None = None,
    patient_id: str | None = None,
) -> None:
    session.add(AuditLog(actor=principal.name, role=principal.role, facility_id=principal.facility_id, action=action,
                         resource_type=resource_type, resource_id=resource_id, patient_id=patient_id))
