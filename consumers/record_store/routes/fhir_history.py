"""FHIR history over the shared record: vread (`/{type}/{id}/_history/{vid}`), instance history
(`/{type}/{id}/_history`) and type history (`/{type}/_history`, with `_since` and `_count`).

Scoped like a read (connector tokens: their own facility's source records); audited and masked by
the response hook (hub/core/web/hooks.py) like every answer.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response

from consumers.record_store import history
from consumers.record_store.models import ResourceVersion
from consumers.record_store.routes.conditional import etag, not_modified, version_headers
from consumers.record_store.routes.fhir_read import (
    READABLE_TYPES,
    _check_type,
    any_reader,
    readable,
)
from hub.core.events import utcnow
from hub.core.fhir_fields import parse_fhir_datetime
from hub.core.web.auth import Principal
from hub.core.web.capability import declares
from hub.core.web.errors import FhirError, fhir_response
from hub.core.web.paging import count_and_offset

router = APIRouter(prefix="/fhir", tags=["FHIR history"])
HISTORY_PARAMS = {"_since", "_count", "_offset", "_till", "_format"}
DEFAULT_COUNT = 50
MAX_COUNT = 500


@router.get("/{resource_type}/{resource_id}/_history/{version_id}", summary="Read one version (vread)",
            openapi_extra=declares("vread", READABLE_TYPES))
def vread(resource_type: str, resource_id: str, version_id: str, request: Request,
          principal: Principal = Depends(any_reader)) -> Response:
    _check_type(resource_type)
    if not version_id.isdigit():
        raise FhirError(400, "invalid", f"a version id is a whole number, not {version_id!r}", [f"{resource_type}.meta.versionId"])
    with request.app.state.database.reading() as session:
        current = readable(session, resource_type, resource_id, principal)
        row = history.version(session, resource_type, resource_id, int(version_id))
        if row is None:
            raise FhirError(404, "not-found", f"{resource_type}/{resource_id} has no version {version_id} "
                            f"(the current version is {current.version_id})", [f"{resource_type}.meta.versionId"])
        if row.deleted or row.content is None:
            raise FhirError(410, "deleted", f"version {version_id} of {resource_type}/{resource_id} is a deletion")
        body: dict[str, Any] = json.loads(row.content)
        version, last_updated = row.version_id, row.last_updated
    unchanged = not_modified(request, version, last_updated)
    if unchanged is not None:
        return unchanged
    return fhir_response(body, headers=version_headers(version, last_updated))


@router.get("/{resource_type}/{resource_id}/_history", summary="History of one resource",
            openapi_extra=declares("history-instance", READABLE_TYPES))
def instance_history(resource_type: str, resource_id: str, request: Request,
                     principal: Principal = Depends(any_reader)) -> Response:
    _check_type(resource_type)
    with request.app.state.database.reading() as session:
        readable(session, resource_type, resource_id, principal)
        return _history_bundle(request, session, resource_type, resource_id, principal)


@router.get("/{resource_type}/_history", summary="History of a resource type",
            openapi_extra=declares("history-type", READABLE_TYPES))
def type_history(resource_type: str, request: Request, principal: Principal = Depends(any_reader)) -> Response:
    _check_type(resource_type)
    with request.app.state.database.reading() as session:
        return _history_bundle(request, session, resource_type, None, principal)


def _instant(params: dict[str, str], name: str) -> datetime | None:
    if name not in params:
        return None
    value = params[name].replace(" ", "+")  # an offset's unencoded "+" arrives as a space
    parsed = parse_fhir_datetime(value) if "T" in value else None
    if parsed is None:
        raise FhirError(400, "invalid", f"{name} must be a FHIR instant like 2026-11-20T09:00:00+08:00, not {value!r}", [name])
    return parsed


def _history_bundle(request: Request, session: Any, resource_type: str, resource_id: str | None,
                    principal: Principal) -> Response:
    params = dict(request.query_params)
    unknown = sorted(set(params) - HISTORY_PARAMS)
    if unknown:
        raise FhirError(400, "not-supported", f"unknown history parameter {unknown[0]!r}; supported: "
                        f"{', '.join(sorted(HISTORY_PARAMS - {'_till', '_offset'}))}", [unknown[0]])
    count, offset = count_and_offset(params, DEFAULT_COUNT, MAX_COUNT, least=1)
    since = _instant(params, "_since")
    # The first page fixes the answer's end (`_till` in the paging links), so versions written while a
    # client pages do not shift the pages it has not read yet.
    till = _instant(params, "_till") or utcnow()
    query = history.HistoryQuery(resource_type, resource_id, since, till,
                                 principal.facility_id if principal.role == "connector" else None)
    rows, total = history.versions(session, query, offset, count)
    base = request.app.state.settings.public_base

    def page(new_offset: int) -> str:
        fixed = {**params, "_till": till.isoformat(), "_offset": new_offset, "_count": count}
        return f"{base}{request.url.path}?{urlencode(fixed)}"

    links = [{"relation": "self", "url": page(offset)}]
    if offset + count < total:
        links.append({"relation": "next", "url": page(offset + count)})
    if offset > 0:
        links.append({"relation": "previous", "url": page(max(0, offset - count))})
    bundle = {"resourceType": "Bundle", "type": "history", "total": total, "link": links,
              "entry": [_entry(base, row) for row in rows]}
    return fhir_response(bundle)


def _entry(base: str, row: ResourceVersion) -> dict[str, Any]:
    """A history entry as the specification draws it: the version, and the interaction that made it."""
    reference = f"{row.resource_type}/{row.id}"
    if row.deleted:
        request, status = {"method": "DELETE", "url": reference}, "204 No Content"
    elif row.version_id == 1:
        request, status = {"method": "POST", "url": row.resource_type}, "201 Created"
    else:
        request, status = {"method": "PUT", "url": reference}, "200 OK"
    entry: dict[str, Any] = {"fullUrl": f"{base}/fhir/{reference}"}
    if not row.deleted and row.content is not None:
        entry["resource"] = json.loads(row.content)
    entry["request"] = request
    entry["response"] = {"status": status, "etag": etag(row.version_id),
                         "lastModified": row.last_updated.isoformat(),
                         "location": f"{reference}/_history/{row.version_id}"}
    return entry
