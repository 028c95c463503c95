"""The referral part's public query module: what other parts (the county indicators) may ask of the
referral loops, as the `referral_facts` service. Nothing outside this part imports its other modules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from consumers.referrals.models import Referral

SERVICE = "referral_facts"


class ReferralFacts:
    """`Part.provides["referral_facts"]`: referrals requested in a period, as plain rows."""

    def requested_between(self, session: Session, start: datetime, end: datetime,
                          facility: str | None = None) -> list[dict[str, Any]]:
        """Referrals requested in [start, end), oldest first; with `facility`, those it sent or received.
        Each row: id, patient_key, patient_id, requester_facility, target_facility, direction (up, down,
        unknown), state, requested_at and returned_at (ISO), closed_reason."""
        query = select(Referral).where(Referral.requested_at >= start, Referral.requested_at < end)
        if facility:
            query = query.where(or_(Referral.requester_facility == facility, Referral.target_facility == facility))
        return [
            {
                "id": row.id,
                "patient_key": row.patient_key,
                "patient_id": row.patient_id,
                "requester_facility": row.requester_facility,
                "target_facility": row.target_facility,
                "direction": row.direction,
                "state": row.state,
                "requested_at": row.requested_at.isoformat(),
                "returned_at": row.returned_at.isoformat() if row.returned_at else None,
                "closed_reason": row.closed_reason,
            }
            for row in session.scalars(query.order_by(Referral.requested_at, Referral.id))
        ]
