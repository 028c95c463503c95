"""Bulk Data export (FHIR Bulk Data Access v2): kick-off, status polling, cancel, file download.

`GET /fhir/$export`, `/fhir/Patient/$export` and `/fhir/Group/<facility>/$export` with
`Prefer: respond-async` answer 202 with `Content-Location` of a status URL; polling it answers 202
(`X-Progress`, `Retry-After`) until the job (consumers/record_store/bulk_export.py) is done, then 200
with the manifest. A Group here is a member facility: its id is the facility id, and its members are
the people with a record at that facility (each with their whole community record). Files are
downloaded with the same bearer token, by the caller who asked; DELETE on the status URL cancels and
removes them.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select

from consumers.record_store.bulk_export import KEEP_FOR, RUNNING, WAKE, export_dir
from consumers.record_store.models import ExportJob, PatientLink
from consumers.record_store.routes.conditional import http_date
from consumers.record_store.routes.fhir_read import READABLE_TYPES, any_reader
from hub.core.events import utcnow
from hub.core.fhir_fields import parse_fhir_datetime
from hub.core.web.auth import Principal
from hub.core.web.capability import declares
from hub.core.web.errors import FhirError, fhir_response, outcome
from hub.core.web.hooks import declare_patients, patients_in

router = APIRouter(prefix="/fhir", tags=["FHIR Bulk Data export"])
NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = {NDJSON, "application/ndjson", "ndjson"}
KICK_OFF_PARAMS = {"_type", "_since", "_outputFormat"}
RETRY_AFTER_S = 2
_FILE = re.compile(r"^[A-Za-z]{1,64}\.ndjson$")


@router.get("/$export", summary="Bulk Data export of the whole shared record (system level)",
            openapi_extra=declares("operation", operation="export", definition="http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                                   documentation="Bulk Data export (NDJSON, async), scoped by role and facility"))
def export_system(request: Request, principal: Principal = Depends(any_reader)) -> Response:
    return _kick_off(request, principal, "system", None)


@router.get("/Patient/$export", summary="Bulk Data export of every patient's record (patient level)",
            openapi_extra=declares("operation", ("Patient",), operation="export", definition="http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"))
def export_patients(request: Request, principal: Principal = Depends(any_reader)) -> Response:
    return _kick_off(request, principal, "patient", None)


@router.get("/Group/{group_id}/$export", summary="Bulk Data export of a member facility's patients (Group = facility)",
            openapi_extra=declares("operation", ("Group",), operation="export", definition="http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
                                   documentation="Group id = a member facility id"))
def export_group(group_id: str, request: Request, principal: Principal = Depends(any_reader)) -> Response:
    if principal.role == "connector" and group_id != principal.facility_id:
        raise FhirError(403, "forbidden", f"a token of facility {principal.facility_id} may export only Group/{principal.facility_id}")
    with request.app.state.database.reading() as session:
        known = session.scalar(select(PatientLink.patient_key).where(PatientLink.facility_id == group_id).limit(1))
    if known is None:
        raise FhirError(404, "not-found", f"Group/{group_id} is not known: a Group is a member facility with patients "
                        "in the shared record (its facility id)", ["Group.id"])
    return _kick_off(request, principal, "group", group_id)


def _kick_off(request: Request, principal: Principal, level: str, group_id: str | None) -> Response:
    prefer = request.headers.get("prefer", "")
    if "respond-async" not in [p.strip() for p in prefer.split(",")]:
        raise FhirError(400, "invalid", "a Bulk Data export runs asynchronously: send Prefer: respond-async", ["Prefer"])
    params = dict(request.query_params)
    unknown = sorted(set(params) - KICK_OFF_PARAMS)
    if unknown:
        raise FhirError(400, "not-supported", f"unsupported export parameter {unknown[0]!r}; supported: "
                        f"{', '.join(sorted(KICK_OFF_PARAMS))}", [unknown[0]])
    output_format = params.get("_outputFormat", NDJSON)
    if output_format not in OUTPUT_FORMATS:
        raise FhirError(400, "not-supported", f"_outputFormat {output_format!r} is not offered; use {NDJSON}", ["_outputFormat"])
    types = _types(params.get("_type"))
    since = _since(params.get("_since"))
    job = ExportJob(
        id=uuid.uuid4().hex, status="accepted", level=level, group_id=group_id, types=",".join(types), since=since,
        transaction_time=utcnow(), request_url=_public_url(request), requested_by=principal.name[:100],
        role=principal.role, facility_id=principal.facility_id, progress="waiting",
    )
    with request.app.state.database.transaction() as session:
        session.add(job)
    WAKE.set()
    status_url = f"{request.app.state.settings.public_base}/fhir/$export-status/{job.id}"
    body = outcome("informational", f"export {job.id} accepted; poll {status_url}", severity="information")
    return fhir_response(body, 202, {"Content-Location": status_url})


def _types(value: str | None) -> list[str]:
    if not value:
        return list(READABLE_TYPES)
    types = [t.strip() for t in value.split(",") if t.strip()]
    for name in types:
        if name not in READABLE_TYPES:
            raise FhirError(400, "not-supported", f"_type {name!r} is not served here; served: {', '.join(READABLE_TYPES)}",
                            ["_type"])
    return list(dict.fromkeys(types))


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    value = value.replace(" ", "+")  # an offset's unencoded "+" arrives as a space
    parsed = parse_fhir_datetime(value) if "T" in value else None
    if parsed is None:
        raise FhirError(400, "invalid", f"_since must be a FHIR instant like 2026-11-20T09:00:00+08:00, not {value!r}",
                        ["_since"])
    return parsed


def _public_url(request: Request) -> str:
    query = request.url.query
    return f"{request.app.state.settings.public_base}{request.url.path}" + (f"?{query}" if query else "")


def _own_job(request: Request, session: Any, job_id: str, principal: Principal) -> ExportJob:
    """The job, if this caller asked for it (an administrator may see any): others get 404, as if unknown."""
    job = session.get(ExportJob, job_id)
    mine = job is not None and (principal.role == "admin" or (
        job.requested_by == principal.name[:100] and job.role == principal.role and job.facility_id == principal.facility_id))
    if job is None or not mine or job.status == "cancelled":
        raise FhirError(404, "not-found", f"export {job_id} is not known (or was cancelled)")
    return job


@router.get("/$export-status/{job_id}", summary="Bulk Data export status (202 while running, 200 with the manifest)")
def export_status(job_id: str, request: Request, principal: Principal = Depends(any_reader)) -> Response:
    with request.app.state.database.reading() as session:
        job = _own_job(request, session, job_id, principal)
        status, progress, error, output, finished = job.status, job.progress, job.error, job.output, job.finished_at
        manifest_base = {"transactionTime": job.transaction_time.isoformat(), "request": job.request_url,
                         "requiresAccessToken": True}
    if status in RUNNING:
        return Response(status_code=202, headers={"X-Progress": progress or status, "Retry-After": str(RETRY_AFTER_S)})
    if status == "failed":
        return fhir_response(outcome("exception", f"export {job_id} failed: {error}"), 500)
    base = request.app.state.settings.public_base
    files = json.loads(output or "[]")
    manifest = {**manifest_base, "output": [
        {"type": f["type"], "url": f"{base}/fhir/$export-file/{job_id}/{f['file']}", "count": f["count"]} for f in files
    ], "error": []}
    expires = {"Expires": http_date(finished + KEEP_FOR)} if finished is not None else {}
    return Response(json.dumps(manifest), media_type="application/json", headers=expires)


@router.delete("/$export-status/{job_id}", summary="Cancel a Bulk Data export and remove its files")
def export_cancel(job_id: str, request: Request, principal: Principal = Depends(any_reader)) -> Response:
    with request.app.state.database.transaction() as session:
        job = _own_job(request, session, job_id, principal)
        job.status, job.finished_at, job.progress = "cancelled", utcnow(), "cancelled"
    shutil.rmtree(export_dir(request.app.state.settings.data_dir, job_id), ignore_errors=True)
    return fhir_response(outcome("informational", f"export {job_id} cancelled; its files are removed",
                                 severity="information"), 202)


@router.get("/$export-file/{job_id}/{file_name}", summary="Download one NDJSON file of a Bulk Data export")
def export_file(job_id: str, file_name: str, request: Request, principal: Principal = Depends(any_reader)) -> Response:
    if not _FILE.match(file_name):
        raise FhirError(404, "not-found", f"{file_name!r} is not a file of an export")
    with request.app.state.database.reading() as session:
        job = _own_job(request, session, job_id, principal)
        listed = {f["file"] for f in json.loads(job.output or "[]")} if job.status == "completed" else set()
    if file_name not in listed:
        raise FhirError(404, "not-found", f"export {job_id} has no file {file_name!r} (yet)")
    path = export_dir(request.app.state.settings.data_dir, job_id) / file_name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FhirError(410, "not-found", f"the file {file_name} of export {job_id} is gone from the data directory") from None
    # The hook cannot read NDJSON: the patients in it are declared so the download is audited with them.
    ids: set[str] = set()
    for line in data.decode("utf-8").splitlines():
        if line:
            patients_in(json.loads(line), ids, set())
    declare_patients(request, ids)
    return Response(data, media_type=NDJSON)
