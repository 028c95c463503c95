"""The delivery section of `hub status`, /api/status and the status page: one row per destination."""

from __future__ import annotations

from datetime import datetime

from consumers.delivery.queries import summaries
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.events import utcnow
from hub.core.parts import PartStatus

COLUMNS = ("destination", "kind", "queued", "sent", "acknowledged", "refused", "failing since", "last error")
COLUMNS_ZH = ("接收端", "方式", "待发", "已发送", "已确认", "被拒收", "故障起始", "最近错误")


def delivery_status(settings: HubSettings, database: Database) -> PartStatus:
    with database.reading() as session:
        found = summaries(session)
    rows = tuple(
        (s.destination, s.kind or "not configured", s.queued, s.sent, s.acknowledged, s.refused,
         _since(s.failing_since), (s.last_error or "")[:120] or None)
        for s in found
    )
    flagged = tuple(i for i, s in enumerate(found) if s.needs_attention)
    notes = tuple(
        f"{s.destination}: {s.refused_waiting} refused message(s) kept; `hub delivery refused` shows why, "
        f"`hub delivery retry` sends them again" for s in found if s.refused_waiting
    ) + tuple(f"{s.destination}: {s.queued} message(s) wait for a destination no connector config names"
              for s in found if s.kind is None and s.queued)
    return PartStatus("Delivery to members · per destination", "结果回传 · 各接收端", COLUMNS, rows, notes, flagged,
                      COLUMNS_ZH)


def _since(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    seconds = int((utcnow() - moment).total_seconds())
    return f"{moment:%Y-%m-%d %H:%M:%S}Z ({seconds // 60} min)"
