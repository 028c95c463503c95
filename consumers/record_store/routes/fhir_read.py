"""FHIR R4 read API over the shared record: read, search, Patient/$everything.

Every answer is audited and masked for the caller's role by the response hook (hub/core/web/hooks.py).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from consumers.record_store import queries
from consumers.record_store.models import StoredResource
from consumers.record_store.routes.conditional import not_modified, version_headers
from hub.core.fhir_search import SearchError, date_range
from hub.core.web.auth import RECORD_READERS, Principal, require
from hub.core.web.errors import FhirError, fhir_response

router = APIRouter(prefix="/fhir", tags=["FHIR read"])

READABLE_TYPES = (
    "Patient", "Encounter", "MedicationRequest", "Observation", "DiagnosticReport",
    "ServiceRequest", "ImagingStudy", "Condition", "Task",
)
SEARCH_PARAMS = {"patient", "subject", "identifier", "_lastUpdated", "date", "code", "status", "_id", "_tag",
                 "_count", "_offset", "_format", "_summary"}
MAX_COUNT = 500
DEFAULT_COUNT = 50
GOLDEN_TAG = "urn:hub:tag|golden"
any_reader = require(*RECORD_READERS, "connector")


def _session(request: Request) -> Any:
    return request.app.state.database.reading()


def _check_type(resource_type: str) -> None:
    if resource_type not in READABLE_TYPES:
        raise FhirError(404, "not-supported", f"resource type {resource_type!r} is not served here; "
                        f"served: {', '.join(READABLE_TYPES)}", [resource_type])


def _render(row: StoredResource) -> dict[str, Any]:
    resource: dict[str, Any] = json.loads(row.content)
    return resource


def _visible(row: StoredResource, principal: Principal) -> bool:
    return principal.role != "connector" or (row.facility_id == principal.facility_id and not row.golden)


def _count_offset(params: dict[str, str]) -> tuple[int, int]:
    try:
        count = int(params.get("_count", DEFAULT_COUNT))
        offset = int(params.get("_offset", 0))
    except ValueError:
        raise FhirError(400, "invalid", "_count and _offset must be whole numbers", ["_count"]) from None
    if count < 0 or offset < 0:
        raise FhirError(400, "invalid", "_count and _offset must not be negative", ["_count"])
    return min(count, MAX_COUNT), offset


def _bundle(request: Request, rows: list[StoredResource], total: int, offset: int, count: int) -> dict[str, Any]:
    base = request.app.state.settings.public_base  # never the request's Host header
    params = dict(request.query_params)

    def page(new_offset: int) -> str:
        return f"{base}{request.url.path}?{urlencode({**params, '_offset': new_offset, '_count': count})}"

    links = [{"relation": "self", "url": page(offset)}]
    if offset + count < total and count > 0:
        links.append({"relation": "next", "url": page(offset + count)})
    if offset > 0:
        links.append({"relation": "previous", "url": page(max(0, offset - count))})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base}/fhir/{row.resource_type}/{row.id}",
                "resource": _render(row),
                "search": {"mode": "match"},
            }
            for row in rows
        ],
    }


def _reference_id(value: str) -> str:
    return value.split("/", 1)[1] if value.startswith("Patient/") else value


def _token(value: str) -> tuple[str | None, str]:
    if "|" in value:
        system, _, code = value.partition("|")
        return (system or None), code
    return None, value


@router.get("/Patient/{patient_id}/$everything", summary="Patient/$everything")
def patient_everything(patient_id: str, request: Request, principal: Principal = Depends(any_reader)) -> JSONResponse:
    if principal.role == "connector":
        raise FhirError(403, "forbidden", "connector tokens may not read the community record")
    count, offset = _count_offset(dict(request.query_params))
    with _session(request) as session:
        result = queries.everything(session, patient_id, offset, count or DEFAULT_COUNT)
        if result is None:
            raise FhirError(404, "not-found", f"Patient/{patient_id} is not known", ["Patient.id"])
        rows, total = result
        bundle = _bundle(request, rows, total, offset, count or DEFAULT_COUNT)
    return fhir_response(bundle)


@router.get("/{resource_type}/{resource_id}", summary="Read a resource")
def read(resource_type: str, resource_id: str, request: Request, principal: Principal = Depends(any_reader)) -> Response:
    _check_type(resource_type)
    with _session(request) as session:
        row = queries.get(session, resource_type, resource_id)
        if row is None:
            raise FhirError(404, "not-found", f"{resource_type}/{resource_id} is not known", [f"{resource_type}.id"])
        if not _visible(row, principal):
            raise FhirError(403, "forbidden",
                            f"a token of facility {principal.facility_id} may not read records of another facility")
        body = _render(row)
        version, last_updated = row.version_id, row.last_updated
    unchanged = not_modified(request, version, last_updated)
    if unchanged is not None:
        return unchanged
    return fhir_response(body, headers=version_headers(version, last_updated))


@router.get("/{resource_type}", summary="Search")
def search(resource_type: str, request: Request, principal: Principal = Depends(any_reader)) -> JSONResponse:
    _check_type(resource_type)
    params = dict(request.query_params)
    unknown = sorted(set(params) - SEARCH_PARAMS)
    if unknown:
        raise FhirError(400, "not-supported", f"unknown search parameter {unknown[0]!r}; supported: "
                        f"{', '.join(sorted(SEARCH_PARAMS))}", [unknown[0]])
    count, offset = _count_offset(params)
    with _session(request) as session:
        spec_args: dict[str, Any] = {"resource_type": resource_type}
        patient = params.get("patient") or params.get("subject")
        if patient:
            patient_id = _reference_id(patient)
            keys = queries.patient_keys_for(session, patient_id)
            spec_args["patient_keys"] = tuple(keys)
        if "_id" in params:
            spec_args["ids"] = tuple(params["_id"].split(","))
        if "identifier" in params:
            spec_args["identifier"] = _token(params["identifier"])
        if "code" in params:
            spec_args["codes"] = tuple(_token(c) for c in params["code"].split(","))
        if "status" in params:
            spec_args["statuses"] = tuple(params["status"].split(","))
        try:
            if "date" in params:
                spec_args["date"] = tuple(date_range("date", v) for v in request.query_params.getlist("date"))
            if "_lastUpdated" in params:
                spec_args["last_updated"] = tuple(
                    date_range("_lastUpdated", v) for v in request.query_params.getlist("_lastUpdated")
                )
        except SearchError as exc:
            raise FhirError(400, "invalid", str(exc), [exc.param]) from None
        if "_tag" in params:
            if params["_tag"] != GOLDEN_TAG:
                raise FhirError(400, "not-supported", f"only _tag={GOLDEN_TAG} is supported", ["_tag"])
            spec_args["golden"] = True
        if principal.role == "connector":
            spec_args["facility_id"] = principal.facility_id
        rows, total = queries.search(session, queries.Search(**spec_args), offset, count)
        bundle = _bundle(request, rows, total, offset, count)
    return fhir_response(bundle)
