"""The audit log as FHIR R4 AuditEvent resources: `GET /fhir/AuditEvent?patient=&date=&agent=`, admins only.

Each audited request is one AuditEvent: the RESTful interaction, who (agent: name, role, facility,
network address), when (`recorded`), the outcome, and one entity per patient whose data was returned.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from hub.core.db.models import AuditLog, AuditPatient
from hub.core.fhir_search import SearchError, date_clause, date_range
from hub.core.web.auth import Principal, require
from hub.core.web.capability import declares
from hub.core.web.errors import FhirError, fhir_response
from hub.core.web.paging import count_and_offset

router = APIRouter(prefix="/fhir", tags=["Audit"])
admin = require("admin")
PARAMS = {"patient", "date", "agent", "_count", "_offset"}
AUDIT_PARAMS = (
    {"name": "patient", "type": "reference", "definition": "http://hl7.org/fhir/SearchParameter/AuditEvent-patient",
     "documentation": "Whose records were read or changed"},
    {"name": "date", "type": "date", "definition": "http://hl7.org/fhir/SearchParameter/AuditEvent-date",
     "documentation": "When (with prefixes)"},
    {"name": "agent", "type": "reference", "definition": "http://hl7.org/fhir/SearchParameter/AuditEvent-agent",
     "documentation": "Who (the credential's name)"},
)
MAX_COUNT = 500
_RESTFUL = "http://hl7.org/fhir/restful-interaction"
# Route names of the FHIR API -> RESTful interaction codes.
_INTERACTIONS = {"read": "read", "search": "search-type", "patient_everything": "operation", "match": "operation",
                 "create": "create", "bundle": "batch", "audit_events": "search-type"}


def _action(row: AuditLog) -> str:
    if row.method in ("GET", "HEAD"):
        return "R"
    return "C" if row.action in ("create", "store_instances") else "E"


def _outcome(status: int | None) -> tuple[str, str]:
    if status is None or status < 400:
        return "0", "success"
    return ("4", f"HTTP {status}") if status < 500 else ("8", f"HTTP {status}")


def audit_event(row: AuditLog, patients: list[str]) -> dict[str, Any]:
    code, description = _outcome(row.status)
    subtype = [{"system": "urn:hub:audit-action", "code": row.action}]
    if row.action in _INTERACTIONS:
        subtype.insert(0, {"system": _RESTFUL, "code": _INTERACTIONS[row.action]})
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"
                             if row.method in ("GET", "HEAD") else "AUT"}]},
        "who": {"identifier": {"system": "urn:hub:principal", "value": row.actor}, "display": row.actor},
        "role": [{"coding": [{"system": "urn:hub:role", "code": row.role}]}],
        "requestor": True,
    }
    if row.facility_id:
        agent["extension"] = [{"url": "urn:hub:facility", "valueString": row.facility_id}]
    if row.client:
        agent["network"] = {"address": row.client, "type": "2"}  # 2 = IP address
    entities: list[dict[str, Any]] = [
        {
            "what": {"reference": f"Patient/{patient}"},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1",
                     "display": "Person"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
        }
        for patient in patients
    ]
    if row.path:
        request: dict[str, Any] = {
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2",
                     "display": "System Object"},
            "description": f"{row.method or 'GET'} {row.path}",
        }
        if row.query:
            request["query"] = base64.b64encode(row.query.encode()).decode()
        entities.append(request)
    elif row.query:  # a step the hub took outside a request (hub.core.web.audit.record_step): what it did
        step: dict[str, Any] = {"type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                                         "code": "2", "display": "System Object"}, "description": row.query[:1000]}
        if row.resource_id:
            step["what"] = {"reference": f"{row.resource_type}/{row.resource_id}"}
        entities.append(step)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(row.id),
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest",
                 "display": "RESTful Operation"},
        "subtype": subtype,
        "action": _action(row),
        "recorded": row.at.isoformat(),
        "outcome": code,
        "outcomeDesc": description,
        "agent": [agent],
        "source": {"observer": {"display": "County Hub"},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4",
                             "display": "Application Server"}]},
    }
    if entities:
        event["entity"] = entities
    return event


def _filtered(session: Session, request: Request) -> Select[Any]:
    query = select(AuditLog)
    params = request.query_params
    if params.get("patient"):
        patient = params["patient"].removeprefix("Patient/")
        community = request.app.state.services.shared_record.community_id_for(session, patient)
        match = AuditPatient.patient_id == patient
        if community is not None:
            match = or_(match, AuditPatient.community_id == community, AuditPatient.patient_id == community)
        query = query.where(AuditLog.uid.in_(select(AuditPatient.audit_uid).where(match)))
    if params.get("agent"):
        query = query.where(AuditLog.actor == params["agent"])
    for raw in params.getlist("date"):
        try:
            prefix, start, end = date_range("date", raw)
        except SearchError as exc:
            raise FhirError(400, "invalid", str(exc), ["date"]) from None
        query = query.where(date_clause(AuditLog.at, prefix, start, end))
    return query


@router.get("/AuditEvent/{audit_id}", summary="One audit row as an AuditEvent (admins)",
            openapi_extra=declares("read", ("AuditEvent",)))
def audit_event_read(audit_id: str, request: Request, _principal: Principal = Depends(admin)) -> JSONResponse:
    with request.app.state.database.reading() as session:
        row = session.get(AuditLog, int(audit_id)) if audit_id.isdigit() else None
        if row is None:
            raise FhirError(404, "not-found", f"AuditEvent/{audit_id} is not known", ["AuditEvent.id"])
        patients = list(session.scalars(select(AuditPatient.patient_id).where(AuditPatient.audit_uid == row.uid)
                                        .order_by(AuditPatient.patient_id)))
        return fhir_response(audit_event(row, patients))


@router.get("/AuditEvent", summary="The audit log as AuditEvent resources (admins)",
            openapi_extra=declares("search-type", ("AuditEvent",), search={"AuditEvent": AUDIT_PARAMS}))
def audit_events(request: Request, _principal: Principal = Depends(admin)) -> JSONResponse:
    unknown = sorted(set(request.query_params) - PARAMS)
    if unknown:
        raise FhirError(400, "not-supported", f"unknown search parameter {unknown[0]!r}; supported: "
                        f"{', '.join(sorted(PARAMS))}", [unknown[0]])
    count, offset = count_and_offset(request.query_params, 50, MAX_COUNT)
    with request.app.state.database.reading() as session:
        query = _filtered(session, request)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(AuditLog.id.desc()).offset(offset).limit(count)).all()
        patients: dict[str, list[str]] = {row.uid: [] for row in rows}
        if rows:
            for audit_uid, patient in session.execute(
                select(AuditPatient.audit_uid, AuditPatient.patient_id)
                .where(AuditPatient.audit_uid.in_(list(patients))).order_by(AuditPatient.patient_id)
            ):
                patients[audit_uid].append(patient)
        entries = [{"fullUrl": f"{request.app.state.settings.public_base}/fhir/AuditEvent/{row.id}",
                    "resource": audit_event(row, patients[row.uid]), "search": {"mode": "match"}} for row in rows]
    base = f"{request.app.state.settings.public_base}/fhir/AuditEvent"
    params = dict(request.query_params)
    links = [{"relation": "self", "url": f"{base}?{urlencode({**params, '_offset': offset, '_count': count})}"}]
    if offset + count < total and count > 0:
        links.append({"relation": "next", "url": f"{base}?{urlencode({**params, '_offset': offset + count, '_count': count})}"})
    return fhir_response({"resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
                          "entry": entries})
