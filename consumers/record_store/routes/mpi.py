"""The patient index over HTTP: FHIR Patient/$match, the review work list and link changes.

Reviewers (clinicians, admins) confirm or reject possible matches, link and unlink records,
merge and unmerge community patients. Every change is kept in the link history; the response hook
(hub/core/web/hooks.py) audits and masks every answer.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from consumers.record_store.links import Change, LinkEditor, LinkError, stale_links
from consumers.record_store.matching import lookup
from consumers.record_store.models import LinkHistory, MatchReview, PatientLink, StoredResource
from consumers.record_store.rematch import rematch_all
from consumers.record_store.writer import RecordWriter
from hub.core.fhir import FhirValidationError, validate_resource
from hub.core.web.auth import RECORD_READERS, Principal, require
from hub.core.web.bodies import json_body
from hub.core.web.capability import declares
from hub.core.web.errors import FhirError, fhir_response
from hub.core.web.hooks import no_patient_data

router = APIRouter(tags=["Patient index"])
reviewer = require("clinician")
matcher = require(*RECORD_READERS)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=2000, description="Why, for the history.")


class LinkBody(_Body):
    patient: str = Field(description="The member record: its Patient id (e.g. th01-pat-123).")
    community: str = Field(description="The community patient to link it to (cp-...).")


class UnlinkBody(_Body):
    patient: str


class MergeBody(_Body):
    survivor: str = Field(description="The community patient that stays.")
    merged: str = Field(description="The community patient whose records move to the survivor.")


class UnmergeBody(_Body):
    operation: str = Field(description="The operation id of the merge (or link) to undo, from the history.")


def _rules(request: Request) -> Any:
    return request.app.state.match_rules


def _change(request: Request, principal: Principal, run: Any) -> JSONResponse:
    with request.app.state.database.sessions() as session, session.begin():
        writer = RecordWriter(session, _rules(request))
        try:
            change: Change = run(LinkEditor(writer, principal.name))
        except LinkError as exc:
            raise FhirError(exc.status, "not-found" if exc.status == 404 else "conflict", str(exc)) from None
        writer.finish()
    return JSONResponse({"operation": change.operation_id, "moved": list(change.moved),
                         "communities": list(change.communities)})


# Reviewer actions ---------------------------------------------------------------------------------


@router.post("/api/mpi/link", summary="Link a member record to a community patient")
def link(body: LinkBody, request: Request, principal: Principal = Depends(reviewer)) -> JSONResponse:
    return _change(request, principal, lambda e: e.link(body.patient, body.community, body.note))


@router.post("/api/mpi/unlink", summary="Take a member record out of its community patient")
def unlink(body: UnlinkBody, request: Request, principal: Principal = Depends(reviewer)) -> JSONResponse:
    return _change(request, principal, lambda e: e.unlink(body.patient, body.note))


@router.post("/api/mpi/merge", summary="Merge two community patients")
def merge(body: MergeBody, request: Request, principal: Principal = Depends(reviewer)) -> JSONResponse:
    return _change(request, principal, lambda e: e.merge(body.survivor, body.merged, body.note))


@router.post("/api/mpi/unmerge", summary="Undo a merge, an A40 merge or a link")
def unmerge(body: UnmergeBody, request: Request, principal: Principal = Depends(reviewer)) -> JSONResponse:
    return _change(request, principal, lambda e: e.unmerge(body.operation, body.note))


@router.post("/api/mpi/reviews/{review_id}/confirm", summary="Confirm a possible match: link the records")
def confirm(review_id: str, request: Request, body: _Body | None = None,
            principal: Principal = Depends(reviewer)) -> JSONResponse:
    note = body.note if body else None
    return _change(request, principal, lambda e: e.confirm(review_id, note))


@router.post("/api/mpi/reviews/{review_id}/reject", summary="Reject a possible match: different people")
def reject(review_id: str, request: Request, body: _Body | None = None,
           principal: Principal = Depends(reviewer)) -> JSONResponse:
    note = body.note if body else None
    return _change(request, principal, lambda e: e.reject(review_id, note))


@router.post("/api/mpi/rematch", summary="Re-match now the links made under other matching rules")
def rematch(request: Request, principal: Principal = Depends(require("admin"))) -> JSONResponse:
    done = rematch_all(request.app.state.database, _rules(request))
    return JSONResponse({"rematched": done, "rules_version": _rules(request).version})


# Reading ------------------------------------------------------------------------------------------


@router.get("/api/mpi/reviews", summary="Possible matches, with both records side by side")
def reviews(request: Request, status: str = Query("requested", pattern="^(requested|completed|rejected|cancelled)$"),
            limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
            principal: Principal = Depends(reviewer)) -> JSONResponse:
    with request.app.state.database.reading() as session:
        total = session.scalar(select(func.count()).select_from(MatchReview).where(MatchReview.status == status)) or 0
        rows = session.scalars(
            select(MatchReview).where(MatchReview.status == status)
            .order_by(MatchReview.score.desc(), MatchReview.id).offset(offset).limit(limit)
        ).all()
        items = [_review(session, row) for row in rows]
    return JSONResponse({"total": total, "items": items})


def _review(session: Session, review: MatchReview) -> dict[str, Any]:
    def record(patient_key: str) -> dict[str, Any] | None:
        link = session.get(PatientLink, patient_key)
        row = session.get(StoredResource, ("Patient", link.source_patient_id)) if link else None
        if row is None:
            return None
        resource: dict[str, Any] = json.loads(row.content)
        return resource

    current = session.get(PatientLink, review.candidate_key)
    return {
        "id": review.id, "status": review.status, "score": review.score, "explanation": review.explanation,
        "record": record(review.patient_key), "candidate": record(review.candidate_key),
        "candidate_community": current.community_patient_id if current else review.candidate_community_id,
        "created_at": review.created_at.isoformat(), "decided_by": review.decided_by, "note": review.note,
    }


@router.get("/api/mpi/history", summary="Every link change of a member record or community patient")
def history(request: Request, patient: str = Query(min_length=1), principal: Principal = Depends(reviewer)) -> JSONResponse:
    with request.app.state.database.reading() as session:
        rows = session.scalars(
            select(LinkHistory).where(or_(
                LinkHistory.source_patient_id == patient, LinkHistory.patient_key == patient,
                LinkHistory.from_community_id == patient, LinkHistory.to_community_id == patient,
            )).order_by(LinkHistory.id)
        ).all()
        items = [
            {"operation": r.operation_id, "action": r.action, "patient": r.source_patient_id, "patient_key": r.patient_key,
             "from": r.from_community_id, "to": r.to_community_id, "score": r.score, "detail": r.detail,
             "actor": r.actor, "at": r.at.isoformat()}
            for r in rows
        ]
    return JSONResponse({"patient": patient, "items": items})


@router.get("/api/mpi/status", summary="Rules in force, open reviews and links waiting for re-matching")
@no_patient_data
def status(request: Request, principal: Principal = Depends(matcher)) -> JSONResponse:
    rules = _rules(request)
    with request.app.state.database.reading() as session:
        open_reviews = session.scalar(
            select(func.count()).select_from(MatchReview).where(MatchReview.status == "requested")) or 0
        stale = stale_links(session, rules.version)
    return JSONResponse({"rules_version": rules.version, "thresholds": rules.thresholds.model_dump(),
                         "open_reviews": open_reviews, "waiting_for_rematch": stale})


# FHIR $match --------------------------------------------------------------------------------------


@router.post("/fhir/Patient/$match", summary="Patient/$match: scored candidates for a Patient",
             openapi_extra=declares("operation", ("Patient",), operation="match",
                                    definition="http://hl7.org/fhir/OperationDefinition/Patient-match",
                                    documentation="Scored candidates from the master patient index"))
async def match(request: Request, principal: Principal = Depends(matcher)) -> JSONResponse:
    body = await json_body(request)
    patient, only_certain, count = _match_parameters(body)
    try:
        validate_resource(patient)
    except FhirValidationError as exc:
        first = exc.issues[0]
        raise FhirError(400, "invalid", f"{first.path}: {first.message}", [first.path]) from None
    with request.app.state.database.reading() as session:
        found = lookup.match(session, _rules(request), patient)
        if only_certain:
            found = [m for m in found if m.grade == "certain"]
        found = found[:count]
        base = request.app.state.settings.public_base  # never the request's Host header
        entries = []
        for m in found:
            row = session.get(StoredResource, ("Patient", m.community_id))
            if row is None:
                continue
            resource = json.loads(row.content)
            entries.append({
                "fullUrl": f"{base}/fhir/Patient/{m.community_id}",
                "resource": resource,
                "search": {
                    "mode": "match", "score": m.probability,
                    "extension": [
                        {"url": "http://hl7.org/fhir/StructureDefinition/match-grade", "valueCode": m.grade},
                        {"url": "urn:hub:mpi:explanation", "valueString": m.explanation},
                    ],
                },
            })
    return fhir_response({"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries})


def _match_parameters(body: dict[str, Any]) -> tuple[dict[str, Any], bool, int]:
    if body.get("resourceType") != "Parameters":
        raise FhirError(400, "invalid", "Patient/$match takes a Parameters resource", ["Parameters.resourceType"])
    patient: dict[str, Any] | None = None
    only_certain, count = False, 10
    for parameter in body.get("parameter") or []:
        name = parameter.get("name") if isinstance(parameter, dict) else None
        if name == "resource":
            patient = parameter.get("resource")
        elif name == "onlyCertainMatches":
            only_certain = parameter.get("valueBoolean") is True
        elif name == "count":
            value = parameter.get("valueInteger")
            if not isinstance(value, int) or value < 1:
                raise FhirError(400, "invalid", "count must be a positive integer", ["Parameters.parameter.count"])
            count = min(value, 100)
    if not isinstance(patient, dict) or patient.get("resourceType") != "Patient":
        raise FhirError(400, "required", "Patient/$match needs a 'resource' parameter holding a Patient",
                        ["Parameters.parameter.resource"])
    return patient, only_certain, count
