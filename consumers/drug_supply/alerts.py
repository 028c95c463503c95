"""Stock warnings, each raised once and cleared once: stock-out, low days of supply, near-expiry batches of a
member, and a county-level shortage when enough members are low on the same drug.

A warning is open while its `open_key` is set (unique), so a second raise of the same warning is a no-op, and
clearing sets `cleared_at` and frees the key for a later episode. A county shortage also leaves as a FHIR
Communication on hub.notice.v1 (in-progress when raised, completed when cleared), through the results outbox
in the same transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consumers.drug_supply.ledger import Position
from consumers.drug_supply.models import StockWarning
from hub.core.events import Event, Source, deterministic_event_id

STOCKOUT, LOW, NEAR_EXPIRY, SHORTAGE = "stockout", "low", "near_expiry", "shortage"
KINDS = (STOCKOUT, LOW, NEAR_EXPIRY, SHORTAGE)
OPEN, CLEARED = "open", "cleared"
COUNTY = "county"  # the facility of a county-level shortage
SYSTEM = "drug_supply"
NOTICE_KEY_FACILITY = "hub-pharmacy"  # not a member: the delivery part routes a shortage notice to nobody
NOTICE_CATEGORY = "urn:hub:code:notice-kind"


@dataclass(frozen=True)
class Thresholds:
    low_days: float
    near_expiry_days: int
    shortage_members: int


@dataclass(frozen=True)
class Wanted:
    kind: str
    lot: str
    detail: dict[str, Any]

    def key(self, facility: str, drug_key: str) -> str:
        return f"{self.kind}|{facility}|{drug_key}|{self.lot}"


def wanted(position: Position, thresholds: Thresholds, now: datetime) -> list[Wanted]:
    """The warnings a member's stock of one drug calls for now."""
    found = []
    days = position.days_of_supply
    if position.on_hand <= 0 and position.daily_use > 0:
        found.append(Wanted(STOCKOUT, "", {"daily_use": position.daily_use}))
    elif days is not None and days < thresholds.low_days:
        found.append(Wanted(LOW, "", {"days_of_supply": round(days, 1), "on_hand": position.on_hand,
                                      "daily_use": position.daily_use, "threshold": thresholds.low_days}))
    horizon = now.date() + timedelta(days=thresholds.near_expiry_days)
    for batch in position.batches:
        if batch.expiry is not None and batch.expiry <= horizon:
            found.append(Wanted(NEAR_EXPIRY, batch.lot, {"expiry": batch.expiry.isoformat(),
                                                         "quantity": batch.quantity,
                                                         "days_left": (batch.expiry - now.date()).days}))
    return found


def reconcile(session: Session, facility: str, drug_key: str, drug_name: str, calls: list[Wanted],
              kinds: tuple[str, ...], now: datetime) -> tuple[list[StockWarning], list[StockWarning]]:
    """Raises what is called for and not open, clears what is open and no longer called for. Returns
    (raised, cleared)."""
    open_rows = session.scalars(select(StockWarning).where(
        StockWarning.status == OPEN, StockWarning.facility_id == facility, StockWarning.drug_key == drug_key,
        StockWarning.kind.in_(kinds))).all()
    by_key = {row.open_key: row for row in open_rows}
    raised, cleared = [], []
    keys = set()
    for call in calls:
        key = call.key(facility, drug_key)
        keys.add(key)
        row = by_key.get(key)
        if row is not None:
            row.detail = json.dumps(call.detail, ensure_ascii=False)  # keep its figures current, not raised again
            continue
        row = StockWarning(kind=call.kind, facility_id=facility, drug_key=drug_key, drug_name=drug_name,
                           lot=call.lot, open_key=key, status=OPEN, detail=json.dumps(call.detail, ensure_ascii=False),
                           raised_at=now)
        session.add(row)
        raised.append(row)
    for open_key, row in by_key.items():
        if open_key not in keys:
            row.status, row.open_key, row.cleared_at = CLEARED, None, now
            cleared.append(row)
    session.flush()
    return raised, cleared


def members_low(session: Session, drug_key: str) -> list[str]:
    """Members with an open stock-out or low warning on the drug."""
    return sorted(set(session.scalars(select(StockWarning.facility_id).where(
        StockWarning.status == OPEN, StockWarning.drug_key == drug_key, StockWarning.kind.in_((STOCKOUT, LOW))))))


def county_calls(session: Session, drug_key: str, thresholds: Thresholds) -> list[Wanted]:
    low = members_low(session, drug_key)
    if drug_key.startswith("local:") or len(low) < thresholds.shortage_members:
        return []  # a member's own code names no drug the others could share
    return [Wanted(SHORTAGE, "", {"members": low, "threshold": thresholds.shortage_members})]


def count_open(session: Session) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    for kind, number in session.execute(select(StockWarning.kind, func.count()).where(StockWarning.status == OPEN)
                                        .group_by(StockWarning.kind)):
        counts[kind] = int(number)
    return counts


# A county shortage as a notice --------------------------------------------------------------------------


def shortage_communication(row: StockWarning, now: datetime, codings: list[dict[str, str]]) -> dict[str, Any]:
    members = json.loads(row.detail).get("members", [])
    if row.status == OPEN:
        text = f"【短缺药品预警】{row.drug_name}：{len(members)} 家成员单位库存不足或断货（{'、'.join(members)}），请中心药房调配。"
    else:
        text = f"【短缺药品预警解除】{row.drug_name}：成员单位库存已恢复。"
    ident = f"shortage-{row.id}"
    return {
        "resourceType": "Communication", "id": ident,
        "identifier": [{"system": "urn:hub:notice:drug-shortage", "value": ident}],
        "status": "in-progress" if row.status == OPEN else "completed",
        "category": [{"coding": [{"system": NOTICE_CATEGORY, "code": "drug-shortage", "display": "Drug shortage"}],
                      "text": "短缺药品预警"}],
        "priority": "urgent",
        "topic": {"coding": codings, "text": row.drug_name},
        "sent": now.isoformat(),
        "recipient": [{"identifier": {"system": "urn:hub:facility", "value": m}, "display": m} for m in members],
        "sender": {"display": "County Hub 中心药房"},
        "payload": [{"contentString": text}],
    }


def shortage_event(row: StockWarning, now: datetime, codings: list[dict[str, str]]) -> Event:
    ident = f"shortage-{row.id}"
    return Event(
        event_id=deterministic_event_id(COUNTY, SYSTEM, ident, row.status),
        event_type="notice", source=Source(NOTICE_KEY_FACILITY, SYSTEM, ident), occurred_at=now, recorded_at=now,
        patient_key=f"{NOTICE_KEY_FACILITY}/{ident}", resource=shortage_communication(row, now, codings),
    )
