"""Delivery for operators: per destination what is queued, sent, acknowledged, failing and refused;
the refused messages with the member's reason; sending a refused message again.

A member's connector token sees its own destinations only. The per-destination counts hold no patient
data; the refused messages name patients (by key) and are audited like any other such read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from consumers.delivery import queue
from consumers.delivery.models import OutboundMessage
from consumers.delivery.queries import refused, summaries
from hub.core.web.auth import Principal, require
from hub.core.web.errors import FhirError
from hub.core.web.hooks import no_patient_data

router = APIRouter(prefix="/api/delivery", tags=["delivery"])
operator_or_member = require("connector")  # admin passes every role check
admin = require("admin")
MAX_LIMIT = 500


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@router.get("", summary="Per destination: queued, sent, acknowledged, refused, failing since, last error")
@no_patient_data
def destinations(request: Request, facility: str | None = None,
                 principal: Principal = Depends(operator_or_member)) -> dict[str, Any]:
    if principal.role == "connector":
        if facility not in (None, principal.facility_id):
            raise FhirError(403, "forbidden", f"a token of facility {principal.facility_id} sees only its own "
                            f"destinations, not {facility}'s")
        facility = principal.facility_id
    with request.app.state.database.reading() as session:
        found = summaries(session)
    return {"destinations": [
        {"destination": s.destination, "facility_id": s.facility_id, "kind": s.kind, "address": s.address,
         "configured": s.kind is not None, "queued": s.queued, "oldest_queued_at": _iso(s.oldest_queued_at),
         "sent": s.sent, "acknowledged": s.acknowledged, "refused": s.refused, "refused_kept": s.refused_waiting,
         "failing": s.failing_since is not None, "failing_since": _iso(s.failing_since), "last_error": s.last_error,
         "last_acknowledged_at": _iso(s.last_acknowledged_at)}
        for s in found if facility is None or s.facility_id == facility
    ]}


def _message(row: OutboundMessage) -> dict[str, Any]:
    return {"id": row.id, "message_id": row.message_id, "destination": row.destination,
            "event_id": row.event_id, "event_type": row.event_type, "resource": row.resource,
            "patient_key": row.patient_key, "state": row.state, "attempts": row.attempts,
            "reason": row.last_error, "answer": row.answer, "created_at": _iso(row.created_at),
            "refused_at": _iso(row.done_at)}


@router.get("/refused", summary="Messages a member refused (dead-lettered), newest first, with the reason")
def refused_messages(request: Request, destination: str | None = None, limit: int = 50,
                     _principal: Principal = Depends(admin)) -> list[dict[str, Any]]:
    if not 1 <= limit <= MAX_LIMIT:
        raise FhirError(400, "invalid", f"limit must be 1 to {MAX_LIMIT}, not {limit}", ["limit"])
    with request.app.state.database.reading() as session:
        return [_message(row) for row in refused(session, destination, limit)]


@router.post("/refused/{message_row}/retry", summary="Send a refused message again (after the member fixed it)")
@no_patient_data
def retry(message_row: int, request: Request, _principal: Principal = Depends(admin)) -> JSONResponse:
    if queue.requeue(request.app.state.database, [message_row]) == 0:
        raise FhirError(404, "not-found", f"no refused message {message_row}; GET /api/delivery/refused lists them")
    return JSONResponse({"requeued": message_row})
