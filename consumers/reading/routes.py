"""The reading centres' HTTP routes: worklists, claims with a lease, reports (draft, sign, second reading,
amend), unordered arrivals, figures; and the FHIR Task search for the reading codes.

Readers (`reader`, `reading_lead`) claim and sign; a `reading_lead` also reassigns and accepts unordered
studies. Every answer naming a patient carries `patient_id`/`patient_key` (or a Patient reference),
so the response hook audits it (hub/core/web/hooks.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from consumers.reading import queries, reports
from consumers.reading.config import CENTRES, PRIORITIES, ReadingConfig, load_config
from consumers.reading.fhir_task import CENTRE_OF_CODE, TASK_CODES, TASK_SYSTEM, clock, task
from consumers.reading.models import (
    ReadingArrival,
    ReadingItem,
    ReadingOrder,
    ReadingReport,
    ReadingReportVersion,
)
from consumers.reading.reports import ReportInvalid
from consumers.reading.templates import Content
from consumers.reading.worklist import Actor, ItemConflict, accept_unordered, claim, reassign, release, renew
from hub.core.events import utcnow
from hub.core.web.auth import RECORD_READERS, Principal, require
from hub.core.web.capability import declares, search_params
from hub.core.web.errors import FhirError, fhir_response, outcome
from hub.core.web.fall_through import every_route, hand_on
from hub.core.web.hooks import no_patient_data

router = APIRouter(prefix="/api/reading", tags=["reading"])
fhir_router = APIRouter(prefix="/fhir", tags=["FHIR read"])
reader = require("reader", "reading_lead")  # admin passes every role check
lead = require("reading_lead")
task_reader = require(*RECORD_READERS, "connector")
LEADS = ("reading_lead", "admin")
MAX_LIMIT = 500
STATES = ("open", "waiting", "ready", "claimed", "done", "cancelled")


def install(app: FastAPI) -> None:
    """Loads the targets at start: a bad file stops the hub with one line naming the file and entry."""
    settings = app.state.settings
    app.state.reading_config = load_config(settings.reading_targets, settings.reading_lease_s)


def _config(request: Request) -> ReadingConfig:
    config: ReadingConfig = request.app.state.reading_config
    return config


def _actor(principal: Principal) -> Actor:
    return Actor(principal.name, principal.role in LEADS)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _conflict(exc: ItemConflict) -> JSONResponse:
    """An OperationOutcome for a refused claim or report; a 409 names who holds the item."""
    code = {404: "not-found", 403: "forbidden"}.get(exc.status, "conflict")
    body = outcome(code, exc.message)
    if exc.holder:
        body["issue"][0]["details"] = {"coding": [{"system": "urn:hub:reading-holder", "code": exc.holder}],
                                       "text": f"held by {exc.holder} until {_iso(exc.lease_until)}"}
    return fhir_response(body, exc.status)


def _invalid(exc: ReportInvalid) -> JSONResponse:
    body = {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "required" if "needs" in reason else "invalid",
         "diagnostics": f"{field}: {reason}", "expression": [f"content.{field}"]} for field, reason in exc.problems]}
    return fhir_response(body, 422)


def item_json(item: ReadingItem, now: datetime, me: str | None = None) -> dict[str, Any]:
    state = queries.effective_state(item, now)
    held = state == "claimed"
    return {
        "id": item.id,
        "task_code": TASK_CODES[item.centre],
        "centre": item.centre,
        "modality": item.modality,
        "state": state,
        "stage": item.stage,
        "priority": item.priority,
        "facility_id": item.facility_id,
        "patient_id": item.patient_id,
        "patient_key": item.patient_key,
        "order_id": item.order_id,
        "order_text": item.order_text,
        "reason": item.reason,
        "study_id": item.study_id,
        "study_uid": item.study_uid,
        "waveform": item.waveform,
        "created_at": _iso(item.created_at),
        "ready_at": _iso(item.ready_at),
        "due_at": _iso(item.due_at),
        "at_risk_at": _iso(item.at_risk_at),
        "clock": clock(item, now),
        "remaining_s": round((item.due_at - now).total_seconds()) if item.due_at else None,
        "holder": item.holder if held else None,
        "lease_until": _iso(item.lease_until) if held else None,
        "mine": bool(me and held and item.holder == me),
        "first_reader": item.first_reader,
        "escalation": item.escalation,
        "escalated_to": item.escalated_to,
        "report_id": item.report_id,
        "done_at": _iso(item.done_at),
    }


def _split(raw: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (raw or "").split(",") if v.strip())


def _check(values: tuple[str, ...], allowed: tuple[str, ...], name: str) -> None:
    for value in values:
        if value not in allowed:
            raise FhirError(400, "invalid", f"{name} must be one of {', '.join(allowed)}, not {value!r}", [name])


def _page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise FhirError(400, "invalid", f"limit must be 1 to {MAX_LIMIT}, not {limit}", ["limit"])
    if offset < 0:
        raise FhirError(400, "invalid", f"offset must not be negative, not {offset}", ["offset"])


# Worklists ----------------------------------------------------------------------------------------

@router.get("/centres", summary="The centres, their turnaround targets, the lease and the at-risk share")
@no_patient_data
def centres(request: Request, _principal: Principal = Depends(reader)) -> dict[str, Any]:
    config = _config(request)
    return {
        "lease_s": config.lease_s, "at_risk": config.at_risk, "duty_after": config.duty_after,
        "centres": [{"code": c.code, "task_code": c.task_code, "name_zh": c.name_zh, "name_en": c.name_en,
                     "second_reading": c.second_reading, "targets": {p: t.text for p, t in c.targets.items()},
                     "backup": list(c.backup), "duty_expert": c.duty_expert} for c in config.centres.values()],
    }


@router.get("/worklist", summary="A centre's worklist: state (open, waiting, ready, claimed, done, cancelled), "
            "priority, facility (the ordering member), modality, mine; soonest due first")
def worklist(
    request: Request,
    centre: str | None = None,
    state: str | None = "open",
    priority: str | None = None,
    facility: str | None = None,
    modality: str | None = None,
    mine: bool = False,
    limit: int = 100,
    offset: int = 0,
    principal: Principal = Depends(reader),
) -> dict[str, Any]:
    centres_, states, priorities = _split(centre), _split(state), _split(priority)
    _check(centres_, CENTRES, "centre")
    _check(states, STATES, "state")
    _check(priorities, PRIORITIES, "priority")
    _page(limit, offset)
    now = utcnow()
    spec = queries.WorklistFilter(centres=centres_, states=states, priorities=priorities, facility=facility or None,
                                  modality=modality or None, holder=principal.name if mine else None)
    with request.app.state.database.reading() as session:
        rows, total = queries.worklist(session, spec, now, limit, offset)
        return {"total": total, "limit": limit, "offset": offset, "now": now.isoformat(),
                "items": [item_json(r, now, principal.name) for r in rows]}


@router.get("/items/{item_id}", summary="One item with its order, study, report (draft and versions) and history")
def item_detail(item_id: str, request: Request, principal: Principal = Depends(reader)) -> dict[str, Any]:
    now = utcnow()
    with request.app.state.database.reading() as session:
        row = queries.item(session, item_id)
        if row is None:
            raise FhirError(404, "not-found", f"no reading item {item_id}", ["item_id"])
        report = queries.report_of(session, item_id)
        order = session.get(ReadingOrder, row.order_id) if row.order_id else None
        study = session.get(ReadingArrival, row.study_id) if row.study_id else None
        return {
            "item": item_json(row, now, principal.name),
            "order": json.loads(order.resource) if order is not None else None,
            "study": json.loads(study.resource) if study is not None else None,
            "report": _report_json(session, report) if report is not None else None,
            "history": [{"action": h.action, "actor": h.actor, "detail": h.detail, "at": _iso(h.at)}
                        for h in queries.history(session, item_id)],
        }


def _report_json(session: Any, report: ReadingReport) -> dict[str, Any]:
    versions: list[ReadingReportVersion] = queries.report_versions(session, report.id)
    return {
        "id": report.id, "item_id": report.item_id, "status": report.status, "version": report.version,
        "critical": report.critical, "signed_by": report.signed_by, "signed_at": _iso(report.signed_at),
        "draft": json.loads(report.draft) if report.draft else None, "drafted_by": report.drafted_by,
        "versions": [{"version": v.version, "status": v.status, "content": queries.content_of(v),
                      "signed_by": v.signed_by, "signed_at": _iso(v.signed_at), "reason": v.reason,
                      "resource": json.loads(v.resource) if v.resource else None} for v in versions],
    }


# Claims -------------------------------------------------------------------------------------------

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReassignBody(_Body):
    to: str = Field(min_length=1, max_length=100, description="the reader who gets the item")


def _claim_step(request: Request, item_id: str, principal: Principal, step: str, to: str | None = None
                ) -> JSONResponse:
    now, config, actor = utcnow(), _config(request), _actor(principal)
    try:
        with request.app.state.database.transaction() as session:
            if step == "claim":
                row = claim(session, item_id, actor, config, now)
            elif step == "renew":
                row = renew(session, item_id, actor, config, now)
            elif step == "release":
                row = release(session, item_id, actor, now)
            else:
                row = reassign(session, item_id, str(to), actor, config, now)
            body = item_json(row, now, principal.name)
    except ItemConflict as exc:
        return _conflict(exc)
    return JSONResponse(body)


@router.post("/items/{item_id}/claim", summary="Claim an item for the lease (409 naming the holder if taken)")
def claim_item(item_id: str, request: Request, principal: Principal = Depends(reader)) -> JSONResponse:
    return _claim_step(request, item_id, principal, "claim")


@router.post("/items/{item_id}/renew", summary="Renew the claim (the open page does this)")
def renew_item(item_id: str, request: Request, principal: Principal = Depends(reader)) -> JSONResponse:
    return _claim_step(request, item_id, principal, "renew")


@router.post("/items/{item_id}/release", summary="Give the item back to the worklist")
def release_item(item_id: str, request: Request, principal: Principal = Depends(reader)) -> JSONResponse:
    return _claim_step(request, item_id, principal, "release")


@router.post("/items/{item_id}/reassign", summary="A lead gives the item to a reader")
def reassign_item(item_id: str, body: ReassignBody, request: Request,
                  principal: Principal = Depends(lead)) -> JSONResponse:
    return _claim_step(request, item_id, principal, "reassign", body.to.strip())


# Reports ------------------------------------------------------------------------------------------

class DraftBody(_Body):
    content: Content


class SignBody(_Body):
    content: Content | None = Field(None, description="omitted: sign the draft, or confirm the first reading")
    second_reading: bool = Field(False, description="ask another reader to confirm or amend before it is final")


class AmendBody(_Body):
    content: Content
    reason: str = Field(min_length=1, max_length=500, description="why the report changes (修改原因)")


def _reading_facility(request: Request) -> str:
    return str(request.app.state.settings.facility_id)


@router.put("/items/{item_id}/report", summary="Save the report draft (the item must be yours)")
def save_draft(item_id: str, body: DraftBody, request: Request, principal: Principal = Depends(reader)) -> JSONResponse:
    now = utcnow()
    try:
        with request.app.state.database.transaction() as session:
            report = reports.save_draft(session, item_id, _actor(principal), body.content, _config(request), now)
            row = session.get(ReadingItem, item_id)
            answer = {"item": item_json(row, now, principal.name), "report": _report_json(session, report)}
    except ItemConflict as exc:
        return _conflict(exc)
    return JSONResponse(answer)


def _sign(request: Request, item_id: str, content: Content | None, ask_second: bool, principal: Principal
          ) -> JSONResponse:
    now = utcnow()
    try:
        with request.app.state.database.transaction() as session:
            signed = reports.sign(session, item_id, _actor(principal), content, _config(request),
                                  request.app.state.results, _reading_facility(request), now, ask_second)
            row = session.get(ReadingItem, item_id)
            answer = {"item": item_json(row, now, principal.name), "report": _report_json(session, signed.report),
                      "status": signed.status, "version": signed.version, "event_id": signed.event_id}
    except ItemConflict as exc:
        return _conflict(exc)
    except ReportInvalid as exc:
        return _invalid(exc)
    return JSONResponse(answer)


@router.post("/items/{item_id}/report/sign", summary="Sign the report: final (published to the ordering member), "
             "or preliminary when a second reading is due; on a second reading, confirm (no content) or amend")
def sign_report(item_id: str, body: SignBody, request: Request, principal: Principal = Depends(reader)) -> JSONResponse:
    return _sign(request, item_id, body.content, body.second_reading, principal)


@router.post("/items/{item_id}/report/confirm", summary="Second reading: confirm the first reader's report as it is")
def confirm_report(item_id: str, request: Request, principal: Principal = Depends(reader)) -> JSONResponse:
    return _sign(request, item_id, None, False, principal)


@router.post("/reports/{report_id}/amend", summary="Amend a final report: a new version, published as amended")
def amend_report(report_id: str, body: AmendBody, request: Request,
                 principal: Principal = Depends(reader)) -> JSONResponse:
    now = utcnow()
    try:
        with request.app.state.database.transaction() as session:
            signed = reports.amend(session, report_id, _actor(principal), body.content, body.reason, _config(request),
                                   request.app.state.results, _reading_facility(request), now)
            row = session.get(ReadingItem, signed.report.item_id)
            answer = {"item": item_json(row, now, principal.name), "report": _report_json(session, signed.report),
                      "status": signed.status, "version": signed.version, "event_id": signed.event_id}
    except ItemConflict as exc:
        return _conflict(exc)
    except ReportInvalid as exc:
        return _invalid(exc)
    return JSONResponse(answer)


@router.get("/reports/{report_id}", summary="A report with every signed version")
def report_detail(report_id: str, request: Request, _principal: Principal = Depends(reader)) -> dict[str, Any]:
    with request.app.state.database.reading() as session:
        report = session.get(ReadingReport, report_id)
        if report is None:
            raise FhirError(404, "not-found", f"no report {report_id}", ["report_id"])
        row = session.get(ReadingItem, report.item_id)
        return {**_report_json(session, report), "patient_id": row.patient_id if row else None,
                "patient_key": row.patient_key if row else None}


# Unordered arrivals -------------------------------------------------------------------------------

class AcceptBody(_Body):
    priority: Literal["routine", "urgent", "asap", "stat"] | None = None


def _arrival_json(row: ReadingArrival) -> dict[str, Any]:
    return {"study_id": row.id, "centre": row.centre, "modality": row.modality, "priority": row.priority,
            "facility_id": row.facility_id, "patient_id": row.patient_id, "patient_key": row.patient_key,
            "study_uid": row.study_uid, "description": row.description, "waveform": row.waveform,
            "arrived_at": _iso(row.arrived_at), "item_id": row.item_id, "accepted_by": row.accepted_by}


@router.get("/unordered", summary="Studies that arrived without an order: they wait for it, or for a lead")
def unordered(request: Request, centre: str | None = None, limit: int = 100, offset: int = 0,
              _principal: Principal = Depends(reader)) -> dict[str, Any]:
    _check(_split(centre), CENTRES, "centre")
    _page(limit, offset)
    with request.app.state.database.reading() as session:
        rows, total = queries.unordered(session, centre or None, limit, offset)
        return {"total": total, "items": [_arrival_json(r) for r in rows]}


@router.post("/unordered/{study_id}/accept", summary="A lead makes an unordered study an item of its own")
def accept(study_id: str, body: AcceptBody, request: Request, principal: Principal = Depends(lead)) -> JSONResponse:
    now = utcnow()
    try:
        with request.app.state.database.transaction() as session:
            row = accept_unordered(session, study_id, _actor(principal), _config(request), now, body.priority)
            answer = item_json(row, now, principal.name)
    except ItemConflict as exc:
        return _conflict(exc)
    return JSONResponse(answer)


# Figures ------------------------------------------------------------------------------------------

@router.get("/stats", summary="Queue depth per centre and priority, turnaround p50/p90, breaches, reports per reader")
@no_patient_data  # counts per centre, priority and reader
def stats(request: Request, _principal: Principal = Depends(reader)) -> dict[str, Any]:
    now = utcnow()
    with request.app.state.database.reading() as session:
        depth = queries.queue_depth(session, now)
        return {
            "now": now.isoformat(),
            "queue": [{"centre": c, "priority": p, "state": s, "count": n} for c, p, s, n in depth],
            "at_risk": queries.at_risk_counts(session, now),
            "unordered": queries.unordered_counts(session),
            "turnaround": queries.turnaround(session, now),
            "reports_per_reader": queries.reports_per_reader(session, now.replace(hour=0, minute=0, second=0)),
        }


# FHIR Task ----------------------------------------------------------------------------------------

TASK_PARAMS = {"code", "status", "priority", "patient", "subject", "for", "owner", "_count", "_offset", "_format"}


def _reading_codes(raw: str | None) -> tuple[str, ...] | None:
    """The reading centres' codes a `code` search names, or None when it names none of them."""
    if not raw:
        return None
    codes = []
    for token in raw.split(","):
        system, _, code = token.rpartition("|")
        codes.append((system, code))
    ours = [c for s, c in codes if c in CENTRE_OF_CODE and s in ("", TASK_SYSTEM)]
    if not ours:
        return None
    if len(ours) != len(codes):
        raise FhirError(400, "not-supported", "search the reading codes (ecg-read, imaging-read, pathology-read) "
                        "apart from other Task codes", ["code"])
    return tuple(ours)


def _fall_through(request: Request, path: str, **params: Any) -> Any:
    """Other Task searches and reads are the shared record's (referral and patient-index Tasks): the
    generic FHIR route another part serves answers them, found by its path, not by importing it."""
    for route in every_route(request.app.router.routes):
        if (isinstance(route, APIRoute) and route.path == path and "GET" in (route.methods or ())
                and not route.endpoint.__module__.startswith("consumers.reading")):
            return route.endpoint(request=request, **params)
    raise FhirError(404, "not-supported", "only the reading centres' Tasks (code ecg-read, imaging-read or "
                    "pathology-read) are served here", ["Task"])


@fhir_router.get("/Task", name="search", summary="Search Tasks: the reading centres' worklists (code=ecg-read|imaging-read|"
                 "pathology-read, sorted by due time); other codes are the shared record's",
                 openapi_extra=declares("search-type", ("Task",), search=search_params(
                     "Task", code=("token", "ecg-read | imaging-read | pathology-read: a reading centre's worklist"),
                     status=("token", "Task status"), priority=("token", "routine | urgent | asap | stat"),
                     patient=("reference", "The patient"), subject=("reference", "The patient"),
                     owner=("reference", "The reader holding the item"))))
def task_search(request: Request, principal: Principal = Depends(task_reader)) -> Any:
    params = dict(request.query_params)
    codes = _reading_codes(params.get("code"))
    if codes is None:
        return hand_on(request, "consumers.reading", "Task", principal=principal)
    unknown = sorted(set(params) - TASK_PARAMS)
    if unknown:
        raise FhirError(400, "not-supported", f"unknown search parameter {unknown[0]!r} for the reading Tasks; "
                        f"supported: {', '.join(sorted(TASK_PARAMS))}", [unknown[0]])
    statuses, priorities = _split(params.get("status")), _split(params.get("priority"))
    _check(statuses, tuple(queries.STATES_OF_TASK_STATUS), "status")
    _check(priorities, PRIORITIES, "priority")
    try:
        count = min(int(params.get("_count", 50)), MAX_LIMIT)
        offset = int(params.get("_offset", 0))
    except ValueError:
        raise FhirError(400, "invalid", "_count and _offset must be whole numbers", ["_count"]) from None
    if count < 0 or offset < 0:
        raise FhirError(400, "invalid", "_count and _offset must not be negative", ["_count"])
    now = utcnow()
    shared = request.app.state.services.shared_record
    with request.app.state.database.reading() as session:
        patient = (params.get("patient") or params.get("subject") or params.get("for") or "").removeprefix("Patient/")
        keys = tuple(sorted(shared.patient_keys_for(session, patient))) if patient else ()
        spec = queries.WorklistFilter(
            centres=tuple(CENTRE_OF_CODE[c] for c in codes), task_statuses=statuses, priorities=priorities,
            holder=params.get("owner") or None, patient_keys=keys,
            facility=principal.facility_id if principal.role == "connector" else None)
        if patient and not keys:
            rows: list[ReadingItem] = []
            total = 0
        else:
            rows, found = queries.worklist(session, spec, now, count, offset)
            total = found or 0
        communities = shared.community_ids(session, {r.patient_id for r in rows if r.patient_id}, set())
        entries = [task(r, communities.get(r.patient_id or ""), now) for r in rows]
    base = request.app.state.settings.public_base
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": total,
              "link": [{"relation": "self", "url": f"{base}{request.url.path}?{request.url.query}"}],
              "entry": [{"fullUrl": f"{base}/fhir/Task/{t['id']}", "resource": t, "search": {"mode": "match"}}
                        for t in entries]}
    return fhir_response(bundle)


@fhir_router.get("/Task/{task_id}", name="read", summary="Read a Task (a reading item, or another part's)",
                 openapi_extra=declares("read", ("Task",)))
def task_read(task_id: str, request: Request, principal: Principal = Depends(task_reader)) -> Any:
    if not task_id.startswith("rd-"):
        return _fall_through(request, "/fhir/{resource_type}/{resource_id}", resource_type="Task",
                             resource_id=task_id, principal=principal)
    now = utcnow()
    with request.app.state.database.reading() as session:
        row = session.get(ReadingItem, task_id)
        if row is None or (principal.role == "connector" and row.facility_id != principal.facility_id):
            raise FhirError(404, "not-found", f"Task/{task_id} is not known", ["Task.id"])
        community = request.app.state.services.shared_record.community_id_for(session, row.patient_id or "")
        body = task(row, community, now)
    return fhir_response(body, headers={"ETag": f'W/"{int(row.updated_at.timestamp() * 1000)}"'})
