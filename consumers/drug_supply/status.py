"""The drug supply section of `hub status`, /api/status and the status page: open warnings by kind, with the
county shortages and stock-outs named, and the delivery fill rate."""

from __future__ import annotations

from sqlalchemy import select

from consumers.drug_supply.alerts import KINDS, OPEN, SHORTAGE, STOCKOUT, count_open
from consumers.drug_supply.deliveries import fill_rate
from consumers.drug_supply.models import StockLevel, StockWarning
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.parts import PartStatus

COLUMNS = ("warning", "open", "examples")
COLUMNS_ZH = ("预警", "未解除", "举例")
NAMES = {"stockout": "stock-out 断货", "low": "low days of supply 库存不足", "near_expiry": "near expiry 近效期",
         "shortage": "county shortage 县域短缺"}


def supply_status(settings: HubSettings, database: Database) -> PartStatus:
    with database.reading() as session:
        counts = count_open(session)
        examples: dict[str, list[str]] = {}
        for row in session.scalars(select(StockWarning).where(StockWarning.status == OPEN)
                                   .order_by(StockWarning.raised_at).limit(200)):
            examples.setdefault(row.kind, []).append(f"{row.facility_id} {row.drug_name}")
        rate = fill_rate(session)
        unknown = len(session.scalars(select(StockLevel.drug_key).where(StockLevel.community_code.is_(None))).all())
    rows = tuple((NAMES[k], counts[k], "; ".join(examples.get(k, [])[:3]) or None) for k in KINDS)
    flagged = tuple(i for i, k in enumerate(KINDS) if k in (STOCKOUT, SHORTAGE) and counts[k])
    notes = []
    if rate["fill_rate"] is not None:
        notes.append(f"deliveries to village clinics: fill rate 配送到位率 {rate['fill_rate']:.0%}, on time "
                     f"{rate['on_time']:.0%} ({rate['deliveries']} received)")
    if unknown:
        notes.append(f"{unknown} member drug code(s) in stock are not in the community catalogue (kept, shown as local)")
    return PartStatus("Drug supply · stock warnings", "药品供应 · 库存预警", COLUMNS, rows, tuple(notes), flagged,
                      COLUMNS_ZH)
