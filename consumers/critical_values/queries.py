"""The read side of critical-value notices: who may see which, lists with their clocks, one notice."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consumers.critical_values.models import CriticalNotice, CriticalUnchecked
from consumers.critical_values.notices import ACKNOWLEDGED, OPEN, WITHDRAWN
from hub.core.web.auth import Principal


@dataclass(frozen=True)
class Scope:
    """What a caller may see: every member's notices (county staff, admins) or one member's."""

    facility_id: str | None  # None: every member
    county: bool

    @staticmethod
    def of(principal: Principal, county_facility: str) -> Scope:
        # County staff: admins, and clinicians of the lead county hospital (or of no facility). Everyone
        # else acts for their own member only.
        county = principal.role == "admin" or (
            principal.role == "clinician" and principal.facility_id in (None, county_facility))
        return Scope(None if county else principal.facility_id, county)

    def may_see(self, row: CriticalNotice) -> bool:
        return self.facility_id is None or row.facility_id == self.facility_id


def list_notices(session: Session, scope: Scope, status: str, facility: str | None, limit: int,
                 offset: int) -> tuple[list[CriticalNotice], int]:
    """Open notices: the nearest deadline first; the others: the latest first."""
    query = select(CriticalNotice)
    if status == "closed":
        query = query.where(CriticalNotice.status.in_((ACKNOWLEDGED, WITHDRAWN)))
    elif status != "all":
        query = query.where(CriticalNotice.status == status)
    if scope.facility_id is not None:
        query = query.where(CriticalNotice.facility_id == scope.facility_id)
    elif facility:
        query = query.where(CriticalNotice.facility_id == facility)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    order = ((CriticalNotice.due_at, CriticalNotice.id) if status == OPEN
             else (CriticalNotice.updated_at.desc(), CriticalNotice.id))
    rows = session.scalars(query.order_by(*order).offset(offset).limit(limit)).all()
    return list(rows), total


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def item(row: CriticalNotice, now: datetime) -> dict[str, Any]:
    """A notice as the API and the page show it, with its clock (seconds left, negative when overdue)."""
    answer: dict[str, Any] = {
        "id": row.id,
        "facility": row.facility_id,
        "patient_id": row.patient_id,
        "patient_key": row.patient_key,
        "source": row.source,
        "about": row.about,
        "summary": row.summary,
        "findings": json.loads(row.findings),
        "status": row.status,
        "version": row.version,
        "level": row.level,
        "ack_s": row.ack_s,
        "raised_at": _iso(row.raised_at),
        "due_at": _iso(row.due_at),
        "seconds_left": round((row.due_at - now).total_seconds()) if row.status == OPEN else None,
        "level1_at": _iso(row.level1_at),
        "level2_at": _iso(row.level2_at),
        "escalated_to": json.loads(row.escalated_to) if row.escalated_to else [],
        "updated_at": _iso(row.updated_at),
    }
    if row.status == ACKNOWLEDGED:
        answer["acknowledgement"] = {
            "at": _iso(row.acknowledged_at), "name": row.ack_name, "role": row.ack_role, "action": row.ack_action,
            "credential": row.ack_credential,
            "seconds": round((row.acknowledged_at - row.raised_at).total_seconds()) if row.acknowledged_at else None,
        }
    return answer


def unchecked(session: Session, limit: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(CriticalUnchecked).order_by(CriticalUnchecked.seen_at.desc(),
                                                              CriticalUnchecked.id.desc()).limit(limit)).all()
    return [{"facility": r.facility_id, "observation": r.observation_id, "analyte": r.analyte, "unit": r.unit,
             "reason": r.reason, "seen_at": _iso(r.seen_at)} for r in rows]
