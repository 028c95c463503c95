"""Critical-value notices over HTTP: the member's open notices with their clocks, and acknowledging one.

A member's credential (a clinician of that member, or its connector's token) sees and acknowledges only
its own facility's notices; county staff (admins, clinicians of the lead county hospital) see every
member's, and may acknowledge one once the county duty doctors were called (level 2). Answers name
patients, so they are audited by the response hook; the acknowledgement itself is also written to the
audit log as a step with the person's name and role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from consumers.critical_values.models import CriticalNotice
from consumers.critical_values.notices import (
    ACKNOWLEDGED,
    OPEN,
    WITHDRAWN,
    Acknowledgement,
    Desk,
    acknowledge,
    current_communication,
)
from consumers.critical_values.queries import Scope, item, list_notices, unchecked
from consumers.critical_values.rules import load_rules
from hub.core.events import utcnow
from hub.core.fhir import FhirValidationError, validate_resource
from hub.core.web.auth import Principal, require
from hub.core.web.bodies import json_body
from hub.core.web.capability import declares, search_params
from hub.core.web.errors import FhirError, fhir_response
from hub.core.web.hooks import no_patient_data

router = APIRouter(prefix="/api/critical-values", tags=["critical values"])
member = require("clinician", "connector")  # admin passes every role check
MAX_LIMIT = 500
STATUSES = (OPEN, ACKNOWLEDGED, WITHDRAWN, "closed", "all")  # closed: acknowledged or withdrawn


def install(app: FastAPI) -> None:
    """Loads the rules when the app is made (a bad file stops the hub at start with one line)."""
    settings = app.state.settings
    rules = load_rules(settings.critical_rules)
    app.state.critical_desk = Desk(rules, settings.critical_ack_s, app.state.results, app.state.services.shared_record)


def _scope(request: Request, principal: Principal) -> Scope:
    scope = Scope.of(principal, request.app.state.settings.facility_id)
    if not scope.county and not principal.facility_id:
        raise FhirError(403, "forbidden", f"the {principal.role} credential {principal.name!r} belongs to no member "
                        "facility, so it has no critical-value notices; use a credential of the member")
    return scope


def _notice(session: Session, notice_id: str, scope: Scope, principal: Principal, for_update: bool = False) -> CriticalNotice:
    row = session.get(CriticalNotice, notice_id, with_for_update=for_update)
    if row is None:
        raise FhirError(404, "not-found", f"critical-value notice {notice_id} is not known", ["id"])
    if not scope.may_see(row):
        raise FhirError(403, "forbidden", f"critical-value notice {notice_id} belongs to member {row.facility_id}; "
                        f"a credential of {principal.facility_id} may not see or acknowledge it")
    return row


@router.get("", summary="Critical-value notices: status=open (default), acknowledged, withdrawn, closed (either) "
            "or all; county staff may filter by facility")
def notices(request: Request, status: str = OPEN, facility: str | None = None, limit: int = 100, offset: int = 0,
            principal: Principal = Depends(member)) -> dict[str, Any]:
    if status not in STATUSES:
        raise FhirError(400, "invalid", f"status must be one of {', '.join(STATUSES)}, not {status!r}", ["status"])
    if not 1 <= limit <= MAX_LIMIT:
        raise FhirError(400, "invalid", f"limit must be 1 to {MAX_LIMIT}, not {limit}", ["limit"])
    if offset < 0:
        raise FhirError(400, "invalid", f"offset must not be negative, not {offset}", ["offset"])
    scope = _scope(request, principal)
    if facility and not scope.county and facility != scope.facility_id:
        raise FhirError(403, "forbidden", f"a credential of {scope.facility_id} may not list the notices of "
                        f"member {facility}", ["facility"])
    desk: Desk = request.app.state.critical_desk
    now = utcnow()
    with request.app.state.database.reading() as session:
        rows, total = list_notices(session, scope, status, facility or None, limit, offset)
        items = [item(row, now) for row in rows]
    return {"now": now.isoformat(), "total": total, "limit": limit, "offset": offset, "county": scope.county,
            "facility": scope.facility_id, "duty_doctors": [d.__dict__ for d in desk.rules.duty_doctors],
            "items": items}


@router.get("/unchecked", summary="Lab values a rule covers whose unit could not be converted (county staff)")
@no_patient_data  # facility, observation id, analyte and unit: no patient is named
def unchecked_values(request: Request, limit: int = 100, principal: Principal = Depends(member)) -> dict[str, Any]:
    if not _scope(request, principal).county:
        raise FhirError(403, "forbidden", "only county staff (admins, clinicians of the county hospital) see the "
                        "values the critical-value rules could not check")
    if not 1 <= limit <= MAX_LIMIT:
        raise FhirError(400, "invalid", f"limit must be 1 to {MAX_LIMIT}, not {limit}", ["limit"])
    with request.app.state.database.reading() as session:
        return {"items": unchecked(session, limit)}


@router.get("/{notice_id}", summary="One critical-value notice with its clock")
def notice(notice_id: str, request: Request, principal: Principal = Depends(member)) -> dict[str, Any]:
    scope = _scope(request, principal)
    with request.app.state.database.reading() as session:
        return item(_notice(session, notice_id, scope, principal), utcnow())


class AckBody(BaseModel):
    """Who took the notice at the member and what was done."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, description="The person who took the notice (姓名)")
    role: str = Field(min_length=1, max_length=100, description="Their role at the member, e.g. 医师, 护士")
    action: str = Field(min_length=1, max_length=2000, description="What was done (处理措施), free text")


@router.post("/{notice_id}/acknowledge", summary="Acknowledge a critical-value notice (the member it belongs to)")
def acknowledge_notice(notice_id: str, body: AckBody, request: Request,
                       principal: Principal = Depends(member)) -> dict[str, Any]:
    row, now = _acknowledge(request, principal, notice_id, body)
    return item(row, now)


def _acknowledge(request: Request, principal: Principal, notice_id: str, body: AckBody) -> tuple[CriticalNotice, datetime]:
    scope = _scope(request, principal)
    desk: Desk = request.app.state.critical_desk
    now = utcnow()
    with request.app.state.database.transaction() as session:
        row = _notice(session, notice_id, scope, principal, for_update=True)
        if scope.county and principal.role != "admin" and row.facility_id != principal.facility_id and row.level < 2:
            raise FhirError(403, "forbidden", f"critical-value notice {notice_id} belongs to member {row.facility_id}, "
                            "which must acknowledge it; county staff may acknowledge it only once the county duty "
                            "doctors were called (level 2)")
        if row.status == WITHDRAWN:
            raise FhirError(409, "conflict", f"critical-value notice {notice_id} was withdrawn at "
                            f"{row.updated_at.isoformat()}: a later version of {row.about} holds no critical value, so "
                            "there is nothing to acknowledge")
        if row.status == ACKNOWLEDGED:
            when = row.acknowledged_at.isoformat() if row.acknowledged_at else "earlier"
            raise FhirError(409, "conflict", f"critical-value notice {notice_id} was already acknowledged by "
                            f"{row.ack_name} ({row.ack_role}) at {when}; nothing was changed")
        acknowledge(session, desk, row, Acknowledgement(body.name, body.role, body.action, principal.name,
                                                        principal.role, principal.facility_id), now)
        return row, now


# The same through the FHIR door: a member's system answers the notice with a Communication -----------------

fhir_router = APIRouter(prefix="/fhir", tags=["critical values"])
ROLE_EXTENSION = "urn:hub:notice:acknowledger-role"


def read_reply(resource: dict[str, Any]) -> tuple[str, AckBody]:
    """The notice a reply answers and what it says: inResponseTo names the notice, sender.display the person,
    the extension urn:hub:notice:acknowledger-role their role, payload[0].contentString the action taken."""
    try:
        validate_resource(resource)
    except FhirValidationError as exc:
        first = exc.issues[0]
        raise FhirError(422, "invalid", f"{first.path}: {first.message}", [first.path]) from None
    if resource.get("resourceType") != "Communication":
        raise FhirError(400, "invalid", f"the body is a {resource.get('resourceType')!r}, not a Communication",
                        ["Communication.resourceType"])
    answers = [str((r or {}).get("reference") or "") for r in resource.get("inResponseTo") or []]
    if len(answers) != 1 or not answers[0].startswith("Communication/cv-"):
        raise FhirError(422, "required", "Communication.inResponseTo must name the one critical-value notice it "
                        "answers (Communication/cv-...)", ["Communication.inResponseTo"])
    if resource.get("status") != "completed":
        raise FhirError(422, "value", f"Communication.status must be completed for an acknowledgement, not "
                        f"{resource.get('status')!r}", ["Communication.status"])
    name = str((resource.get("sender") or {}).get("display") or "").strip()
    if not name:
        raise FhirError(422, "required", "Communication.sender.display must give the name of the person who took "
                        "the notice", ["Communication.sender.display"])
    role = next((str(e.get("valueString") or "").strip() for e in resource.get("extension") or []
                 if e.get("url") == ROLE_EXTENSION), "") or "未注明"
    action = next((str(p.get("contentString") or "").strip() for p in resource.get("payload") or []
                   if p.get("contentString")), "")
    if not action:
        raise FhirError(422, "required", "Communication.payload[0].contentString must say what was done",
                        ["Communication.payload"])
    try:
        body = AckBody(name=name, role=role, action=action)
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise FhirError(422, "value", f"Communication: {problem['loc'][0]} {problem['msg']}",
                        ["Communication"]) from None
    return answers[0].removeprefix("Communication/"), body


@fhir_router.post("/Communication", summary="Acknowledge a critical-value notice with a Communication whose "
                  "inResponseTo names it (the member it belongs to)", openapi_extra=declares("create", ("Communication",)))
async def communication_reply(request: Request, principal: Principal = Depends(member)) -> JSONResponse:
    notice_id, body = read_reply(await json_body(request))
    row, _now = await run_in_threadpool(_acknowledge, request, principal, notice_id, body)
    return fhir_response(current_communication(row))  # the notice as it now stands: completed


@fhir_router.get("/Communication/{notice_id}", summary="A critical-value notice as the FHIR Communication it is",
                 openapi_extra=declares("read", ("Communication",)))
def communication_read(notice_id: str, request: Request, principal: Principal = Depends(member)) -> JSONResponse:
    scope = _scope(request, principal)
    with request.app.state.database.reading() as session:
        row = _notice(session, notice_id, scope, principal)
        return fhir_response(current_communication(row), headers={"ETag": f'W/"{row.version}"'})


SEARCH_PARAMS = ("status", "_count", "_offset")
FHIR_STATUS = {"in-progress": OPEN, "completed": ACKNOWLEDGED, "entered-in-error": WITHDRAWN}  # Communication.status -> the notice's


@fhir_router.get("/Communication", summary="The caller's critical-value notices as Communications "
                 "(status=in-progress|completed, _count, _offset): for members that poll",
                 openapi_extra=declares("search-type", ("Communication",), search=search_params(
                     "Communication", status=("token", "in-progress | completed | entered-in-error"))))
def communication_search(request: Request, principal: Principal = Depends(member)) -> JSONResponse:
    params = request.query_params
    unknown = sorted(set(params) - set(SEARCH_PARAMS))
    if unknown:
        raise FhirError(400, "not-supported", f"unknown search parameter {unknown[0]!r}; supported: "
                        f"{', '.join(SEARCH_PARAMS)}", [unknown[0]])
    status = params.get("status")
    if status is not None and status not in FHIR_STATUS:
        raise FhirError(400, "invalid", f"status must be one of {', '.join(FHIR_STATUS)}, not {status!r}",
                        ["status"])
    try:
        count, offset = int(params.get("_count", 50)), int(params.get("_offset", 0))
    except ValueError:
        raise FhirError(400, "invalid", "_count and _offset must be whole numbers", ["_count"]) from None
    if not 1 <= count <= MAX_LIMIT or offset < 0:
        raise FhirError(400, "invalid", f"_count must be 1 to {MAX_LIMIT} and _offset not negative", ["_count"])
    scope = _scope(request, principal)
    wanted = FHIR_STATUS[status] if status else "all"
    with request.app.state.database.reading() as session:
        rows, total = list_notices(session, scope, wanted, None, count, offset)
        entries = [{"fullUrl": f"{request.app.state.settings.public_base}/fhir/Communication/{row.id}",
                    "resource": current_communication(row), "search": {"mode": "match"}} for row in rows]
    return fhir_response({"resourceType": "Bundle", "type": "searchset", "total": total, "entry": entries})
