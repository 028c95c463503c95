"""Referral loops for clinicians: open and closed referrals, and monthly counts up and down.

Patients appear by id only (no names or phone numbers); listing referrals is audited like any
other read touching patient records.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from consumers.referrals.loop import STATES
from consumers.referrals.models import Referral
from consumers.referrals.queries import CHINA, ReferralFilter, list_referrals, month_start, monthly_summary
from hub.core.events import utcnow
from hub.core.web.auth import Principal, require
from hub.core.web.errors import FhirError
from hub.core.web.hooks import no_patient_data

router = APIRouter(prefix="/api/referrals", tags=["referrals"])
clinician = require("clinician")  # admin passes every role check
MAX_LIMIT = 500
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _item(row: Referral, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "patient_id": row.patient_id,
        "patient_key": row.patient_key,
        "requester_facility": row.requester_facility,
        "target_facility": row.target_facility,
        "direction": row.direction,
        "state": row.state,
        "requested_at": _iso(row.requested_at),
        "accepted_at": _iso(row.accepted_at),
        "arrived_at": _iso(row.arrived_at),
        "returned_at": _iso(row.returned_at),
        "closed_reason": row.closed_reason,
        "reason_code": row.reason_code,
        "reason_text": row.reason_text,
        "based_on": row.based_on,
        "arrival_encounter_id": row.arrival_encounter_id,
        "updated_at": _iso(row.updated_at),
        "age_days": max(0, (now - row.requested_at).days),
    }


@router.get("", summary="Referrals: state=open or a state, facility (requesting or target), direction")
def referrals(
    request: Request,
    state: str | None = None,
    facility: str | None = None,
    direction: str | None = None,
    limit: int = 50,
    offset: int = 0,
    principal: Principal = Depends(clinician),
) -> dict[str, Any]:
    if state is not None and state not in ("open", *STATES):
        raise FhirError(
            400, "invalid", f"state must be open or one of {', '.join(STATES)}, not {state!r}", ["state"]
        )
    if direction is not None and direction not in ("up", "down", "unknown"):
        raise FhirError(
            400, "invalid", f"direction must be up, down or unknown, not {direction!r}", ["direction"]
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise FhirError(400, "invalid", f"limit must be 1 to {MAX_LIMIT}, not {limit}", ["limit"])
    if offset < 0:
        raise FhirError(400, "invalid", f"offset must not be negative, not {offset}", ["offset"])
    spec = ReferralFilter(state, facility or None, direction)
    now = utcnow()
    with request.app.state.database.reading() as session:
        rows, total = list_referrals(session, spec, limit, offset)
        return {"total": total, "limit": limit, "offset": offset, "items": [_item(r, now) for r in rows]}


def _month(param: str, raw: str) -> tuple[int, int]:
    match = _MONTH.fullmatch(raw)
    if match is None:
        raise FhirError(400, "invalid", f"{param} must be a month as YYYY-MM, not {raw!r}", [param])
    return int(match[1]), int(match[2])


@router.get(
    "/summary", summary="Referrals up and down per requesting facility and China month, and how many are open"
)
@no_patient_data  # counts per facility and month
def summary(
    request: Request,
    from_: str | None = Query(
        None, alias="from", description="first month, YYYY-MM (default: 11 months before `to`)"
    ),
    to: str | None = Query(None, description="last month, YYYY-MM (default: this month)"),
    _principal: Principal = Depends(clinician),
) -> dict[str, Any]:
    today = utcnow().astimezone(CHINA)
    last = _month("to", to) if to else (today.year, today.month)
    first = _month("from", from_) if from_ else (last[0], last[1] - 11)
    start, end = month_start(*first), month_start(last[0], last[1] + 1)
    if start >= end:
        raise FhirError(400, "invalid", "from must not be after to", ["from"])
    with request.app.state.database.reading() as session:
        rows = monthly_summary(session, start, end)
    return {
        "from": start.astimezone(CHINA).strftime("%Y-%m"),
        "to": f"{last[0]:04d}-{last[1]:02d}",
        "rows": rows,
    }
