"""Mutual recognition of results (检查检验结果互认): which results of other members a clinician may
use instead of testing again. Every call is audited like a read of the patient's record (hub/core/web/hooks.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from consumers.record_store.queries import community_id_for
from consumers.record_store.recognition import RecognitionRules, recognised_results
from hub.core.fhir_fields import parse_fhir_datetime
from hub.core.web.auth import Principal, require
from hub.core.web.errors import FhirError

router = APIRouter(prefix="/api", tags=["Mutual recognition"])
FACILITY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def _moment(raw: str | None) -> datetime:
    if raw is None or not raw.strip():
        return datetime.now(UTC)
    # An unencoded "+08:00" arrives as " 08:00"; take the caller's meaning rather than fail.
    parsed = parse_fhir_datetime(raw) or parse_fhir_datetime(raw.replace(" ", "+"))
    if parsed is None:
        raise FhirError(
            400, "invalid", f"at: {raw!r} is not an ISO date-time (e.g. 2026-11-23T09:30:00+08:00)", ["at"]
        )
    return parsed


@router.get("/patients/{patient_id}/recognised-results", summary="Results of other members to recognise")
def recognised(
    patient_id: str,
    request: Request,
    facility: str | None = None,
    at: str | None = None,
    principal: Principal = Depends(require("clinician", "reader", "reading_lead")),
) -> JSONResponse:
    """Results of other members still valid at `at` (default now), newest first, each marked
    recognised or not with the reason. `facility` is the requesting member (default: the token's)."""
    requesting = (facility or "").strip() or principal.facility_id
    if not requesting:
        raise FhirError(
            400,
            "required",
            "facility: name the requesting member (?facility=cty01); this token belongs to no facility",
            ["facility"],
        )
    if not FACILITY_ID.match(requesting):
        raise FhirError(400, "invalid", f"facility: {requesting!r} is not a facility id", ["facility"])
    moment = _moment(at)
    rules: RecognitionRules = request.app.state.recognition_rules
    with request.app.state.database.reading() as session:
        community = community_id_for(session, patient_id)
        if community is None:
            raise FhirError(404, "not-found", f"Patient/{patient_id} is not known", ["patient_id"])
        items = recognised_results(session, rules, community, requesting, moment) or []
    return JSONResponse(
        {
            "patient": community,
            "requesting_facility": requesting,
            "at": moment.isoformat(),
            "total": len(items),
            "recognised": sum(item.recognised for item in items),
            "results": [item.as_json() for item in items],
        }
    )
