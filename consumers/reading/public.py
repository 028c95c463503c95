"""The reading part's public query module: what other parts (the county indicators) may ask of the
remote reading worklist, as the `reading_facts` service. Nothing outside this part imports its other
modules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.reading.models import ReadingItem

SERVICE = "reading_facts"


class ReadingFacts:
    """`Part.provides["reading_facts"]`: remote reads finished in a period, as plain rows."""

    def done_between(self, session: Session, start: datetime, end: datetime,
                     facility: str | None = None) -> list[dict[str, Any]]:
        """Reads finished (report signed) in [start, end), oldest first; with `facility`, those the member
        ordered. Each row: id, centre, modality, priority, facility_id, patient_key, patient_id, created_at
        (the order reached the worklist), ready_at (the study is there to read: the turnaround clock starts),
        done_at (ISO) and report_id."""
        query = select(ReadingItem).where(ReadingItem.state == "done", ReadingItem.done_at >= start,
                                          ReadingItem.done_at < end)
        if facility:
            query = query.where(ReadingItem.facility_id == facility)
        return [
            {
                "id": row.id,
                "centre": row.centre,
                "modality": row.modality,
                "priority": row.priority,
                "facility_id": row.facility_id,
                "patient_key": row.patient_key,
                "patient_id": row.patient_id,
                "created_at": row.created_at.isoformat(),
                "ready_at": row.ready_at.isoformat() if row.ready_at else None,
                "done_at": row.done_at.isoformat() if row.done_at else None,
                "report_id": row.report_id,
            }
            for row in session.scalars(query.order_by(ReadingItem.done_at, ReadingItem.id))
        ]
