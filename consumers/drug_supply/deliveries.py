"""Deliveries to village clinics from request to receipt (requested -> shipped -> received, or cancelled),
each step audited, and their fill rate (配送到位率: received over requested) and on-time share."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.drug_supply.models import SupplyDelivery
from hub.core.errors import PermanentError
from hub.core.web.audit import Step, record_step

REQUESTED, SHIPPED, RECEIVED, CANCELLED = "requested", "shipped", "received", "cancelled"
STATES = (REQUESTED, SHIPPED, RECEIVED, CANCELLED)
NEXT = {REQUESTED: (SHIPPED, CANCELLED), SHIPPED: (RECEIVED,)}


class DeliveryError(PermanentError, ValueError):
    """A step a delivery cannot take (wrong state, quantity out of range); the message says why."""


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    facility_id: str | None


def _audit(session: Session, shared_record: Any, actor: Actor, row: SupplyDelivery, action: str, detail: str) -> None:
    record_step(session, Step(actor.name, actor.role, row.village_id, action, "SupplyDelivery", row.id, None, detail),
                shared_record)


def request(session: Session, shared_record: Any, actor: Actor, village: str, source: str, drug_key: str,
            drug_name: str, quantity: float, lots: list[dict[str, Any]], due_hours: float, now: datetime) -> SupplyDelivery:
    if quantity <= 0:
        raise DeliveryError(f"a delivery must ask for more than zero units, not {quantity}")
    row = SupplyDelivery(id=f"DL-{uuid.uuid4().hex[:12]}", village_id=village, source_id=source, drug_key=drug_key,
                         drug_name=drug_name, requested_qty=quantity, lots=json.dumps(lots, ensure_ascii=False),
                         state=REQUESTED, requested_at=now, requested_by=actor.name,
                         due_at=now + timedelta(hours=due_hours))
    session.add(row)
    session.flush()
    _audit(session, shared_record, actor, row, "supply_requested",
           f"{quantity:g} of {drug_key} {drug_name} from {source} to {village}")
    return row


def step(session: Session, shared_record: Any, actor: Actor, row: SupplyDelivery, to: str, quantity: float | None,
         now: datetime) -> SupplyDelivery:
    if to not in NEXT.get(row.state, ()):
        raise DeliveryError(f"delivery {row.id} is {row.state}; it can go to {', '.join(NEXT.get(row.state, ())) or 'no other state'}, "
                            f"not {to}")
    if to in (SHIPPED, RECEIVED):
        limit = row.requested_qty if to == SHIPPED else (row.shipped_qty or row.requested_qty)
        amount = limit if quantity is None else quantity
        if not 0 <= amount <= limit:
            raise DeliveryError(f"delivery {row.id}: the {to} quantity must be 0 to {limit:g}, not {amount:g}")
        if to == SHIPPED:
            row.shipped_at, row.shipped_qty = now, amount
        else:
            row.received_at, row.received_qty, row.received_by = now, amount, actor.name
    row.state = to
    _audit(session, shared_record, actor, row, f"supply_{to}",
           f"{row.drug_key} {row.drug_name}: {to} {quantity if quantity is not None else ''} (requested {row.requested_qty:g})")
    return row


def fill_rate(session: Session) -> dict[str, Any]:
    """配送到位率 over received deliveries: received / requested quantity, and the share received on time."""
    rows = session.scalars(select(SupplyDelivery).where(SupplyDelivery.state == RECEIVED)).all()
    requested = sum(r.requested_qty for r in rows)
    received = sum(r.received_qty or 0 for r in rows)
    on_time = sum(1 for r in rows if r.received_at is not None and r.received_at <= r.due_at)
    return {"deliveries": len(rows), "requested": requested, "received": received,
            "fill_rate": round(received / requested, 4) if requested else None,
            "on_time": round(on_time / len(rows), 4) if rows else None}


def in_flight(session: Session) -> dict[tuple[str, str], float]:
    """What is on its way to each clinic (requested or shipped), by (village, drug)."""
    coming: dict[tuple[str, str], float] = {}
    for row in session.scalars(select(SupplyDelivery).where(SupplyDelivery.state.in_((REQUESTED, SHIPPED)))):
        key = (row.village_id, row.drug_key)
        coming[key] = coming.get(key, 0.0) + (row.shipped_qty if row.shipped_qty is not None else row.requested_qty)
    return coming
