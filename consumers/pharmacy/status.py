"""The pharmacy section of `hub status`, /api/status and the status page: the queue and the mapping queue."""

from __future__ import annotations

from sqlalchemy import func, select

from consumers.pharmacy import local_codes, reviewing
from consumers.pharmacy.metrics import QUEUE, UNMAPPED
from consumers.pharmacy.models import PharmacyReview
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.events import utcnow
from hub.core.parts import PartStatus

COLUMNS = ("what", "count", "oldest due / first seen")
COLUMNS_ZH = ("项目", "数量", "最早到期 / 首次出现")


def pharmacy_status(settings: HubSettings, database: Database) -> PartStatus:
    now = utcnow()
    with database.reading() as session:
        held = reviewing.queue_depth(session)
        overdue = int(session.scalar(select(func.count()).select_from(PharmacyReview).where(
            PharmacyReview.status == reviewing.READY, PharmacyReview.due_at < now)) or 0)
        oldest = session.scalar(select(func.min(PharmacyReview.due_at)).where(PharmacyReview.status == reviewing.READY))
        waiting = local_codes.waiting(session)
    QUEUE.set(held)
    UNMAPPED.set(len(waiting))
    first = min((w.first_seen for w in waiting), default=None)
    rows: tuple[tuple[str | int | float | None, ...], ...] = (
        ("held prescriptions", held, oldest.isoformat() if oldest else None),
        ("overdue", overdue, None),
        ("unmapped local drug codes", len(waiting), first.isoformat() if first else None))
    flagged = tuple(i for i, row in enumerate(rows) if i in (1, 2) and row[1])
    notes = ("/pharmacy: the review queue and the mapping queue",) if held or waiting else ()
    return PartStatus("Central pharmacy · review queue", "中心药房 · 审方队列", COLUMNS, rows, notes, flagged, COLUMNS_ZH)
