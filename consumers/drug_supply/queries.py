"""The read side of drug supply: the stock table (shortages and stock-outs on top), warnings, replenishment
suggestions, deliveries with their fill rate. No patient appears in any of it."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.drug_supply.alerts import OPEN, SHORTAGE, STOCKOUT
from consumers.drug_supply.deliveries import in_flight
from consumers.drug_supply.hierarchy import load_parents
from consumers.drug_supply.ledger import Batch
from consumers.drug_supply.models import StockLevel, StockWarning, SupplyDelivery
from consumers.drug_supply.replenishment import Holding, Suggestion, suggest

# The order of the stock table: what needs a person first.
_RANK = {STOCKOUT: 0, SHORTAGE: 1, "low": 2, "near_expiry": 3}


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value else None


def warning_item(row: StockWarning) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "facility": row.facility_id, "drug": row.drug_key, "name": row.drug_name,
            "lot": row.lot, "status": row.status, "detail": json.loads(row.detail), "raised_at": _iso(row.raised_at),
            "cleared_at": _iso(row.cleared_at)}


def warnings(session: Session, status: str, limit: int) -> list[dict[str, Any]]:
    query = select(StockWarning)
    if status != "all":
        query = query.where(StockWarning.status == status)
    rows = session.scalars(query.order_by(StockWarning.raised_at.desc(), StockWarning.id.desc()).limit(limit)).all()
    return [warning_item(r) for r in rows]


def stock_table(session: Session, facility: str | None, limit: int) -> list[dict[str, Any]]:
    """Each member × drug with its open warnings; stock-outs and county shortages first, then low stock."""
    open_rows = session.scalars(select(StockWarning).where(StockWarning.status == OPEN)).all()
    by_drug: dict[tuple[str, str], list[str]] = {}
    shortages = {w.drug_key for w in open_rows if w.kind == SHORTAGE}
    for w in open_rows:
        by_drug.setdefault((w.facility_id, w.drug_key), []).append(w.kind)
    query = select(StockLevel)
    if facility:
        query = query.where(StockLevel.facility_id == facility)
    items = []
    for level in session.scalars(query):
        kinds = sorted(set(by_drug.get((level.facility_id, level.drug_key), [])), key=lambda k: _RANK.get(k, 9))
        if level.drug_key in shortages:
            kinds = sorted({*kinds, SHORTAGE}, key=lambda k: _RANK.get(k, 9))
        items.append({
            "facility": level.facility_id, "drug": level.drug_key, "community_code": level.community_code,
            "local_code": level.local_code, "name": level.drug_name, "known": level.community_code is not None,
            "on_hand": level.on_hand, "daily_use": level.daily_use, "days_of_supply": level.days_of_supply,
            "batches": json.loads(level.batches), "counted_at": _iso(level.counted_at),
            "updated_at": _iso(level.updated_at), "warnings": kinds,
        })
    items.sort(key=lambda i: (min((_RANK.get(k, 9) for k in i["warnings"]), default=9),
                              i["days_of_supply"] if i["days_of_supply"] is not None else 1e9, i["facility"], i["drug"]))
    return items[:limit]


def holdings(session: Session) -> dict[tuple[str, str], Holding]:
    found = {}
    for level in session.scalars(select(StockLevel)):
        batches = tuple(Batch(b["lot"], date.fromisoformat(b["expiry"]) if b["expiry"] else None, b["quantity"])
                        for b in json.loads(level.batches))
        found[(level.facility_id, level.drug_key)] = Holding(level.on_hand, level.daily_use, batches, level.drug_name)
    return found


def suggestion_item(s: Suggestion) -> dict[str, Any]:
    return {"village": s.village, "drug": s.drug_key, "name": s.name, "on_hand": s.on_hand, "daily_use": s.daily_use,
            "days_of_supply": s.days_of_supply, "in_flight": s.in_flight, "need": s.need, "short": s.short,
            "lines": [{"source": line.source, "lot": line.lot, "expiry": _iso(line.expiry), "quantity": line.quantity}
                      for line in s.lines]}


def replenishment(session: Session, target_days: float, reserve_days: float, today: date) -> dict[str, Any]:
    parents = load_parents(session)
    found = suggest(holdings(session), parents, in_flight(session), target_days, reserve_days, today)
    return {"target_days": target_days, "reserve_days": reserve_days, "parents": parents,
            "items": [suggestion_item(s) for s in found]}


def delivery_item(row: SupplyDelivery) -> dict[str, Any]:
    return {"id": row.id, "village": row.village_id, "source": row.source_id, "drug": row.drug_key,
            "name": row.drug_name, "requested": row.requested_qty, "lots": json.loads(row.lots), "state": row.state,
            "requested_at": _iso(row.requested_at), "requested_by": row.requested_by, "due_at": _iso(row.due_at),
            "shipped_at": _iso(row.shipped_at), "shipped": row.shipped_qty, "received_at": _iso(row.received_at),
            "received": row.received_qty, "received_by": row.received_by,
            "on_time": (row.received_at <= row.due_at) if row.received_at else None}


def deliveries(session: Session, limit: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(SupplyDelivery).order_by(SupplyDelivery.requested_at.desc(), SupplyDelivery.id)
                           .limit(limit)).all()
    return [delivery_item(r) for r in rows]
