"""The central pharmacy over HTTP: the review queue with clocks, the decision view and decisions, a
person's county-wide medication list, the mapping queue, the rules and their versions; and the FHIR
searches it owns (DetectedIssue, AllergyIntolerance, Task code=prescription-review; a Task search it does not
own is handed on to the part that does). MedicationRequests are the shared record's to search: its `patient`
search already finds the whole person across members.

Pharmacists (and admins) decide, map codes and upload rules; each step is audited as a step with the
person's name. Answers naming patients carry `patient_id`/`patient_key`, so the response hook audits them.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.pharmacy import local_codes, queries, reviewing, rulesets
from consumers.pharmacy.models import PharmacyAllergy, PharmacyMedication, PharmacyReview
from consumers.pharmacy.review import ReviewRulesError
from hub.core.events import utcnow
from hub.core.terminology import community_terminology
from hub.core.web.audit import Step, record_step
from hub.core.web.auth import RECORD_READERS, Principal, require
from hub.core.web.capability import declares, search_params
from hub.core.web.errors import FhirError, fhir_response
from hub.core.web.fall_through import hand_on
from hub.core.web.hooks import no_patient_data

router = APIRouter(prefix="/api/pharmacy", tags=["pharmacy"])
fhir_router = APIRouter(prefix="/fhir", tags=["FHIR read"])
pharmacist = require("pharmacist")  # admin passes every role check
reader = require(*RECORD_READERS)
fhir_reader = require(*RECORD_READERS, "connector")
OWNER = "consumers.pharmacy"
MAX_LIMIT = 500


def _desk(request: Request) -> reviewing.Desk:
    state = request.app.state
    return reviewing.Desk(state.results, state.services.shared_record, state.settings.pharmacy_review_due_s)


def _shared(request: Request) -> Any:
    return request.app.state.services.shared_record


def _review(session: Session, review_id: str, for_update: bool = False) -> PharmacyReview:
    row = session.get(PharmacyReview, review_id, with_for_update=for_update)
    if row is None:
        raise FhirError(404, "not-found", f"prescription review {review_id} is not known", ["id"])
    return row


# The queue and decisions ---------------------------------------------------------------------------------


@router.get("/queue", summary="Held prescriptions, the nearest due time first (status=ready), or others")
def queue(request: Request, status: Literal["ready", "completed", "cancelled", "all"] = "ready", limit: int = 100,
          offset: int = 0, principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    now = utcnow()
    with request.app.state.database.reading() as session:
        rows, total = queries.queue(session, status, max(0, min(limit, MAX_LIMIT)), max(0, offset))
        items = [queries.review_item(r, session.get(PharmacyMedication, r.prescription), now) for r in rows]
    return {"now": now.isoformat(), "total": total, "items": items}


@router.get("/reviews/{review_id}", summary="A review with everything a pharmacist needs to decide")
def review_view(review_id: str, request: Request, principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    now = utcnow()
    with request.app.state.database.reading() as session:
        view = queries.decision_view(session, _shared(request), _review(session, review_id), now)
    view["now"] = now.isoformat()
    return view


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "return", "override"]
    reason_code: str | None = Field(None, description="For return: one of the reasons of GET /api/pharmacy/reasons.")
    text: str | None = Field(None, max_length=2000, description="Free text of a return; the note of an override.")

    @model_validator(mode="after")
    def _complete(self) -> DecisionBody:
        if self.action == "return" and self.reason_code not in reviewing.RETURN_REASONS:
            raise ValueError(f"a return needs reason_code, one of: {', '.join(reviewing.RETURN_REASONS)}")
        if self.action == "override" and not (self.text or "").strip():
            raise ValueError("an override needs a note (text) saying why the findings do not apply")
        if self.action == "approve" and self.reason_code:
            raise ValueError("an approval takes no reason_code")
        return self


@router.post("/reviews/{review_id}/decision", summary="Decide a held prescription: approve, return (with a "
             "reason) or override (with a note); 409 when it was decided already")
def decide(review_id: str, body: DecisionBody, request: Request,
           principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    now = utcnow()
    decision = reviewing.Decision(body.action, body.reason_code, (body.text or "").strip() or None, principal.name,
                                  principal.role, principal.facility_id)
    with request.app.state.database.transaction() as session:
        _review(session, review_id, for_update=True)
        try:
            row = reviewing.decide(session, _desk(request), review_id, decision, now)
        except reviewing.DecisionConflict as exc:
            raise FhirError(409, "conflict", str(exc)) from None
        answer = queries.review_item(row, session.get(PharmacyMedication, row.prescription), now)
    return answer


@no_patient_data
@router.get("/reasons", summary="The reasons a pharmacist may return a prescription for")
def reasons(principal: Principal = Depends(reader)) -> list[dict[str, str]]:
    return [{"code": code, "zh": zh, "en": en} for code, (zh, en) in reviewing.RETURN_REASONS.items()]


@router.get("/patients/{patient_id}/medications", summary="A person's county-wide medication list, allergies and "
            "renal labs (a member's or the community Patient id)")
def patient_medications(patient_id: str, request: Request, principal: Principal = Depends(reader)) -> dict[str, Any]:
    with request.app.state.database.reading() as session:
        keys = _shared(request).patient_keys_for(session, patient_id)
        if not keys:
            raise FhirError(404, "not-found", f"Patient/{patient_id} is not in the patient index", ["patient"])
        return queries.person_view(session, _shared(request), patient_id, keys[0], utcnow())


# The mapping queue and the catalogue -------------------------------------------------------------------------


@no_patient_data
@router.get("/mappings", summary="Members' local drug codes waiting for a mapping (waiting=false: the mapped ones)")
def mappings(request: Request, waiting: bool = True, principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    with request.app.state.database.reading() as session:
        rows = local_codes.waiting(session) if waiting else list(session.scalars(
            select(local_codes.PharmacyLocalCode).where(local_codes.PharmacyLocalCode.drug_code.is_not(None))
            .order_by(local_codes.PharmacyLocalCode.mapped_at.desc())))
        items = [{**local_codes.item(r), "prescriptions": local_codes.waiting_prescriptions(session, r)} for r in rows]
    return {"total": len(items), "items": items}


class MappingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drug: str = Field(min_length=1, max_length=32, description="The community catalogue's drug code, e.g. D0011.")


@no_patient_data
@router.post("/mappings/{code_id}", summary="Map a local drug code to a catalogue drug; every prescription that "
             "waited for it is reviewed again")
def map_code(code_id: int, body: MappingBody, request: Request, principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    with request.app.state.database.transaction() as session:
        try:
            done = local_codes.map_code(session, _desk(request), code_id, body.drug, principal.name, principal.role,
                                        principal.facility_id, utcnow())
        except KeyError:
            raise FhirError(404, "not-found", f"local code {code_id} is not in the mapping queue", ["code_id"]) from None
        except local_codes.UnknownDrug as exc:
            raise FhirError(422, "invalid", str(exc), ["drug"]) from None
        return {**local_codes.item(done.code), "recognised": done.recognised, "reviewed": done.reviewed}


@no_patient_data
@router.get("/drugs", summary="Search the community drug catalogue (code, name, generic name, ATC)")
def drugs(q: str = "", limit: int = 20, principal: Principal = Depends(reader)) -> list[dict[str, Any]]:
    words = q.strip().lower()
    found = [d for d in community_terminology().drugs
             if not words or words in d.code.lower() or words in d.name.lower() or words in (d.generic or "").lower()
             or words in (d.atc or "").lower() or words in (d.nhsa or "").lower()]
    return [{"code": d.code, "name": d.name, "strength": d.strength, "unit": d.unit, "atc": d.atc, "route": d.route}
            for d in found[: max(1, min(limit, 100))]]


# Rules ----------------------------------------------------------------------------------------------------


@no_patient_data
@router.get("/rules", summary="The rules in force (each with its source) and every uploaded version")
def rules(request: Request, principal: Principal = Depends(reader)) -> dict[str, Any]:
    with request.app.state.database.reading() as session:
        active = rulesets.active_rules(session)
        versions = [{"id": v.id, "version": v.version, "author": v.author, "note": v.note, "active": v.active,
                     "created_at": v.created_at.isoformat()} for v in rulesets.versions(session)]
    return {"version": active.version, "shipped": not any(v["active"] for v in versions), "rules": active.rules(),
            "versions": versions}


@no_patient_data
@router.get("/rules/versions/{version_id}", summary="The text of an uploaded rules version")
def rules_text(version_id: int, request: Request, principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    with request.app.state.database.reading() as session:
        row = session.get(rulesets.PharmacyRuleVersion, version_id)
        if row is None:
            raise FhirError(404, "not-found", f"rules version {version_id} is not known", ["id"])
        return {"id": row.id, "version": row.version, "text": row.text, "author": row.author, "active": row.active}


class RulesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2_000_000, description="The whole rule set (YAML), as the engine reads it.")
    note: str | None = Field(None, max_length=2000, description="What changed and why.")


@no_patient_data
@router.post("/rules", summary="Upload a new version of the rules (checked first) and make it the one in force")
def upload_rules(body: RulesBody, request: Request, principal: Principal = Depends(pharmacist)) -> dict[str, Any]:
    with request.app.state.database.transaction() as session:
        try:
            row = rulesets.upload(session, body.text, principal.name, body.note)
        except ReviewRulesError as exc:
            raise FhirError(422, "invalid", f"the rules were not changed: {exc}", ["text"]) from None
        record_step(session, Step(principal.name, principal.role, principal.facility_id,
                                                      "pharmacy_rules_uploaded", "Library", str(row.id), None,
                                                      f"version {row.version}: {body.note or ''}"),
                              _shared(request))
        return {"id": row.id, "version": row.version, "author": row.author, "created_at": row.created_at.isoformat()}


# FHIR searches the pharmacy owns ---------------------------------------------------------------------------


def _count(params: dict[str, str]) -> tuple[int, int]:
    try:
        count, offset = int(params.get("_count", 50)), int(params.get("_offset", 0))
    except ValueError:
        raise FhirError(400, "invalid", "_count and _offset must be whole numbers", ["_count"]) from None
    if count < 0 or offset < 0:
        raise FhirError(400, "invalid", "_count and _offset must not be negative", ["_count"])
    return min(count, MAX_LIMIT), offset


def _bundle(request: Request, resources: list[dict[str, Any]], count: int, offset: int) -> Any:
    base = request.app.state.settings.public_base
    page = resources[offset: offset + count]
    return fhir_response({
        "resourceType": "Bundle", "type": "searchset", "total": len(resources),
        "link": [{"relation": "self", "url": f"{base}{request.url.path}?{request.url.query}"}],
        "entry": [{"fullUrl": f"{base}/fhir/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                  for r in page]})


def _person_keys(request: Request, session: Session, params: dict[str, str], principal: Principal) -> list[str]:
    patient = (params.get("patient") or params.get("subject") or "").removeprefix("Patient/")
    keys = _shared(request).patient_keys_for(session, patient) if patient else []
    if principal.role == "connector":  # a member's connector reads only its own records
        keys = [k for k in keys if k.partition("/")[0] == principal.facility_id]
    return keys


def _owns(params: dict[str, str], allowed: set[str]) -> bool:
    return bool(params.get("patient") or params.get("subject")) and set(params) <= allowed


@fhir_router.get("/DetectedIssue", summary="Search DetectedIssues (prescription review findings) by patient",
                 openapi_extra=declares("search-type", ("DetectedIssue",), search=search_params(
                     "DetectedIssue", patient=("reference", "The patient: findings of every member's prescriptions"))))
def detected_issue_search(request: Request, principal: Principal = Depends(fhir_reader)) -> Any:
    params = dict(request.query_params)
    if not _owns(params, {"patient", "subject", "_count", "_offset", "_format"}):
        raise FhirError(400, "not-supported", "search DetectedIssue by patient (and _count, _offset)", ["patient"])
    count, offset = _count(params)
    with request.app.state.database.reading() as session:
        keys = _person_keys(request, session, params, principal)
        rows = session.scalars(select(PharmacyReview).where(PharmacyReview.patient_key.in_(keys))
                               .order_by(PharmacyReview.reviewed_at.desc())).all() if keys else []
        found = [issue for row in rows for issue in reviewing.detected_issues(row)]
    return _bundle(request, found, count, offset)


@fhir_router.get("/AllergyIntolerance", summary="Search AllergyIntolerances by patient, across members (the "
                 "pharmacy's copy); other searches are the shared record's",
                 openapi_extra=declares("search-type", ("AllergyIntolerance",), search=search_params(
                     "AllergyIntolerance", patient=("reference", "The patient: allergies recorded at every member"))))
def allergy_search(request: Request, principal: Principal = Depends(fhir_reader)) -> Any:
    params = dict(request.query_params)
    if not _owns(params, {"patient", "subject", "clinical-status", "_count", "_offset", "_format"}):
        return hand_on(request, OWNER, "AllergyIntolerance", principal=principal)  # the shared record's search
    count, offset = _count(params)
    wanted = set((params.get("clinical-status") or "").split(",")) - {""}
    with request.app.state.database.reading() as session:
        keys = _person_keys(request, session, params, principal)
        rows = session.scalars(select(PharmacyAllergy).where(PharmacyAllergy.patient_key.in_(keys))
                               .order_by(PharmacyAllergy.id)).all() if keys else []
        found = [json.loads(r.resource) for r in rows if not wanted or r.status in wanted]
    return _bundle(request, found, count, offset)


TASK_PARAMS = {"code", "status", "patient", "subject", "for", "_count", "_offset", "_format"}


def _ours(code: str | None) -> bool:
    tokens = [t.rpartition("|") for t in (code or "").split(",") if t]
    return bool(tokens) and all(c == reviewing.TASK_CODE and s in ("", reviewing.TASK_SYSTEM) for s, _, c in tokens)


@fhir_router.get("/Task", summary="Search Tasks: the pharmacists' queue (code=prescription-review, sorted by due "
                 "time); other codes are other parts'", openapi_extra=declares("search-type", ("Task",), search=search_params(
                     "Task", code=("token", "prescription-review: the central pharmacy's queue"))))
def task_search(request: Request, principal: Principal = Depends(fhir_reader)) -> Any:
    params = dict(request.query_params)
    if not _ours(params.get("code")):
        return hand_on(request, OWNER, "Task", principal=principal)
    unknown = sorted(set(params) - TASK_PARAMS)
    if unknown:
        raise FhirError(400, "not-supported", f"unknown search parameter {unknown[0]!r} for prescription-review "
                        f"Tasks; supported: {', '.join(sorted(TASK_PARAMS))}", [unknown[0]])
    count, offset = _count(params)
    statuses = set((params.get("status") or "").split(",")) - {""}
    bad = statuses - {reviewing.READY, reviewing.COMPLETED, reviewing.CANCELLED}
    if bad:
        raise FhirError(400, "invalid", f"status {sorted(bad)[0]!r}: prescription reviews are ready, completed or "
                        "cancelled", ["status"])
    status = statuses.pop() if len(statuses) == 1 else "all"
    patient = params.get("patient") or params.get("subject") or params.get("for")
    with request.app.state.database.reading() as session:
        keys = tuple(_person_keys(request, session, {"patient": patient}, principal)) if patient else None
        facility = principal.facility_id if principal.role == "connector" else None
        rows, _total = queries.queue(session, status, MAX_LIMIT * 10, 0, keys, facility)
        found = [reviewing.task(r) for r in rows]
    return _bundle(request, found, count, offset)

