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
from consumers.record_store.search import parameters as search_parameters
from consumers.record_store.search import query as search_query
from consumers.record_store.search import run as search_run
from consumers.record_store.search import shape
from hub.core.fhir_search import SearchError
from hub.core.web.auth import RECORD_READERS, Principal, require
from hub.core.web.capability import declares
from hub.core.web.errors import FhirError, fhir_response, outcome
from hub.core.web.paging import count_and_offset

router = APIRouter(prefix="/fhir", tags=["FHIR read"])

READABLE_TYPES = search_parameters.served_types()
MAX_COUNT = search_run.MAX_COUNT
DEFAULT_COUNT = search_run.DEFAULT_COUNT
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


def readable(session: Any, resource_type: str, resource_id: str, principal: Principal) -> StoredResource:
    """The current version, if the caller may read it: 404 when unknown, 403 when another facility's."""
    row = queries.get(session, resource_type, resource_id)
    if row is None:
        raise FhirError(404, "not-found", f"{resource_type}/{resource_id} is not known", [f"{resource_type}.id"])
    if not _visible(row, principal):
        raise FhirError(403, "forbidden",
                        f"a token of facility {principal.facility_id} may not read records of another facility")
    return row


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


@router.get("/Patient/{patient_id}/$everything", summary="Patient/$everything",
            openapi_extra=declares("operation", ("Patient",), operation="everything",
                                   definition="http://hl7.org/fhir/OperationDefinition/Patient-everything",
                                   documentation="The community patient and every member's records of the person"))
def patient_everything(patient_id: str, request: Request, principal: Principal = Depends(any_reader)) -> JSONResponse:
    if principal.role == "connector":
        raise FhirError(403, "forbidden", "connector tokens may not read the community record")
    count, offset = count_and_offset(request.query_params, DEFAULT_COUNT, MAX_COUNT)
    with _session(request) as session:
        result = queries.everything(session, patient_id, offset, count or DEFAULT_COUNT)
        if result is None:
            raise FhirError(404, "not-found", f"Patient/{patient_id} is not known", ["Patient.id"])
        rows, total = result
        bundle = _bundle(request, rows, total, offset, count or DEFAULT_COUNT)
    return fhir_response(bundle)


@router.get("/{resource_type}/{resource_id}", summary="Read a resource", openapi_extra=declares("read", READABLE_TYPES))
def read(resource_type: str, resource_id: str, request: Request, principal: Principal = Depends(any_reader)) -> Response:
    _check_type(resource_type)
    with _session(request) as session:
        row = readable(session, resource_type, resource_id, principal)
        body = _render(row)
        version, last_updated = row.version_id, row.last_updated
    unchanged = not_modified(request, version, last_updated)
    if unchanged is not None:
        return unchanged
    return fhir_response(body, headers=version_headers(version, last_updated))


@router.get("/{resource_type}", summary="Search",
            description="FHIR search: the parameters, modifiers and result parameters the CapabilityStatement "
                        "(GET /fhir/metadata) lists for the type. `Prefer: handling=lenient` leaves out unknown "
                        "parameters (named in an OperationOutcome entry) instead of answering 400.",
            openapi_extra=declares("search-type", READABLE_TYPES, search=search_parameters.documented(),
                                   includes=search_parameters.includes(), revincludes=search_parameters.revincludes()))
def search(resource_type: str, request: Request, principal: Principal = Depends(any_reader)) -> JSONResponse:
    _check_type(resource_type)
    strict = "handling=lenient" not in request.headers.get("prefer", "").replace(" ", "").lower()
    items = list(request.query_params.multi_items())
    try:
        parsed = search_query.parse(resource_type, items, strict)
        with _session(request) as session:
            page = search_run.search(session, parsed, _scope(principal))
            bundle = _searchset(request, parsed, page, items)
    except SearchError as exc:
        raise FhirError(400, "invalid" if strict else "not-supported", str(exc), [exc.param]) from None
    return fhir_response(bundle)


def _scope(principal: Principal) -> list[Any]:
    """What a caller may find: a connector token only its own facility's source records."""
    if principal.role != "connector":
        return []
    return [StoredResource.facility_id == principal.facility_id, StoredResource.golden.is_(False)]


def _searchset(request: Request, parsed: search_query.Request, page: search_run.Page,
               items: list[tuple[str, str]]) -> dict[str, Any]:
    base = request.app.state.settings.public_base  # never the request's Host header
    used = [(k, v) for k, v in items if k not in parsed.ignored and k not in ("_cursor", "_offset")]

    def url(extra: list[tuple[str, str]]) -> str:
        query = urlencode(used + extra)
        return f"{base}{request.url.path}" + (f"?{query}" if query else "")

    current = [("_cursor", parsed.one("_cursor") or "")] if parsed.one("_cursor") else []
    links = [{"relation": "self", "url": url(current)}, {"relation": "first", "url": url([])}]
    if page.next_cursor:
        links.append({"relation": "next", "url": url([("_cursor", page.next_cursor)])})
    summary, elements = parsed.one("_summary"), parsed.one("_elements")
    entries = [_entry(base, row, "match", summary, elements) for row in page.rows]
    entries += [_entry(base, row, "include", summary, elements) for row in page.included]
    if parsed.ignored:
        entries.append({"resource": outcome("not-supported", "these parameters were not used: "
                                            + ", ".join(parsed.ignored), parsed.ignored, severity="warning"),
                        "search": {"mode": "outcome"}})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if page.total is not None:
        bundle["total"] = page.total
    bundle["link"] = links
    bundle["entry"] = entries
    return bundle


def _entry(base: str, row: StoredResource, mode: str, summary: str | None, elements: str | None) -> dict[str, Any]:
    return {"fullUrl": f"{base}/fhir/{row.resource_type}/{row.id}",
            "resource": shape.shaped(_render(row), summary, elements), "search": {"mode": mode}}
