"""FHIR REST ingest: `POST /fhir/{type}`, `PUT /fhir/{type}/{id}` (update, with `If-Match`) and
`POST /fhir` (batch or transaction Bundle); each answers as `Prefer: return=...` asks (prefer.py).

Accepted resources go through the FHIR REST connector's sink (validation, Avro, outbox, relay),
like every other input. A transaction is all or nothing: one invalid entry and nothing is
published. A batch answers per entry; its invalid entries are also kept as dead letters.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from connectors.fhir_rest import prefer
from connectors.fhir_rest.mapping import (
    ACCEPTED,
    IngestError,
    assign_id,
    event_type,
    patient_key_for,
    rewrite_references,
)
from connectors.fhir_rest.prefer import answer
from hub.core.events import Event, PollResult, Rejected, Source, deterministic_event_id
from hub.core.fhir import FhirValidationError, validate_resource
from hub.core.fhir_fields import parse_fhir_datetime
from hub.core.identifiers import ForeignIdentifierError, check_speaks_for, local_mrn_system
from hub.core.limits import LimitError, check_event
from hub.core.pipeline import Sink
from hub.core.web.auth import Principal, require
from hub.core.web.bodies import json_body
from hub.core.web.capability import both, declares
from hub.core.web.errors import FhirError, fhir_response, outcome
from hub.core.web.facilities import sending_facility

router = APIRouter(prefix="/fhir", tags=["FHIR ingest"])
submitter = require("connector")
SYSTEM = "fhir-rest"


def _sink(request: Request) -> Sink:
    sink = request.app.state.sinks.get("fhir_rest")
    if sink is None:
        raise FhirError(503, "transient", "FHIR ingest is not running in this process (start it with `hub run`)")
    return sink


def _limit(request: Request) -> int:
    return int(request.app.state.settings.max_event_bytes)


def _prepare(resource: dict[str, Any], facility: str, where: str, limit: int, assigned: str | None = None,
             known: dict[str, str] | None = None) -> Event:
    """Validates one resource and turns it into an event; raises IngestError naming the element."""
    etype = event_type(resource, where)
    try:
        check_speaks_for(resource, facility, where)  # before anything is derived from its identifiers
    except ForeignIdentifierError as exc:
        raise IngestError(str(exc), exc.expression, 403) from None
    resource = dict(resource)
    resource["id"] = assigned or assign_id(resource, facility)
    resource["meta"] = {**(resource.get("meta") or {}), "source": f"urn:hub:facility:{facility}"}
    try:
        validate_resource(resource)
    except FhirValidationError as exc:
        first = exc.issues[0]
        path = first.path.split(".", 1)[1] if "." in first.path else first.path
        raise IngestError(f"{first.path}: {first.message}" + (f" (and {len(exc.issues) - 1} more)" if len(exc.issues) > 1 else ""),
                          f"{where}.{path}") from None
    size = len(json.dumps(resource, ensure_ascii=False).encode())
    if size > limit:
        raise IngestError(f"resource is {size} bytes, over the {limit}-byte limit; put binaries in the blob store",
                          where, 413)
    digest = hashlib.sha256(json.dumps(resource, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    occurred = parse_fhir_datetime((resource.get("meta") or {}).get("lastUpdated")) or datetime.now(UTC)
    event = Event(
        event_id=deterministic_event_id(facility, SYSTEM, f"{resource['resourceType']}/{resource['id']}", digest),
        event_type=etype,
        source=Source(facility, SYSTEM, f"{resource['resourceType']}/{resource['id']}"),
        occurred_at=occurred,
        recorded_at=datetime.now(UTC),
        patient_key=patient_key_for(resource, facility, where, known),
        resource=resource,
    )
    try:
        check_event(event)  # what is acknowledged must fit the shared record (hub.core.limits)
    except LimitError as exc:
        expression = exc.expression.replace(str(resource["resourceType"]), where, 1)
        if exc.expression == "patient" and resource["resourceType"] == "Patient":  # its record number
            mrn = [i.get("system") for i in resource.get("identifier") or []].index(local_mrn_system(facility))
            expression = f"{where}.identifier[{mrn}].value"
        raise IngestError(str(exc).replace(exc.expression, expression, 1), expression) from None
    return event


def _existing(request: Request, rtype: str, condition: str, facility: str) -> str | None:
    """`If-None-Exist: identifier=system|value`: the member's own stored resource with it, if any
    (community records are not the member's to match against)."""
    name, _, value = condition.partition("=")
    if name != "identifier" or not value:
        raise FhirError(400, "invalid", "If-None-Exist supports identifier=system|value only", ["If-None-Exist"])
    system, _, code = value.rpartition("|")
    with request.app.state.database.reading() as session:
        ids, total = request.app.state.services.shared_record.find_by_identifier(
            session, rtype, system or None, code, facility, 2)
    if total > 1:
        raise FhirError(412, "duplicate", f"If-None-Exist matches {total} resources", ["If-None-Exist"])
    return ids[0] if ids else None


@router.post("/{resource_type}", status_code=201, summary="Create (conditional with If-None-Exist)",
             openapi_extra=declares("create", ACCEPTED))
async def create(resource_type: str, request: Request, principal: Principal = Depends(submitter)) -> Response:
    facility = sending_facility(request, principal)
    resource = await json_body(request)
    if resource.get("resourceType") != resource_type:
        raise FhirError(400, "invalid", f"the body is a {resource.get('resourceType')!r}, not a {resource_type}",
                        [f"{resource_type}.resourceType"])
    condition = request.headers.get("if-none-exist")
    if condition and (found := _existing(request, resource_type, condition, facility)):
        return fhir_response(outcome("informational", f"{resource_type}/{found} already exists", severity="information"),
                             200, {"Location": f"/fhir/{resource_type}/{found}"})
    try:
        event = _prepare(resource, facility, resource_type, _limit(request))
    except IngestError as exc:
        raise _refusal(exc) from None
    report = _sink(request).accept(PollResult(events=[event]))
    result = report.outcomes[0]
    if not result.accepted:
        raise FhirError(422, "invalid", result.reason or "rejected", [resource_type])
    location = f"/fhir/{resource_type}/{event.resource['id']}"
    return answer(request, event.resource, 200 if result.duplicate else 201, {"Location": location})


def _version_now(request: Request, resource_type: str, resource_id: str) -> tuple[int, str | None] | None:
    with request.app.state.database.reading() as session:
        found: tuple[int, str | None] | None = request.app.state.services.shared_record.current_version(
            session, resource_type, resource_id)
    return found


def _check_update(request: Request, facility: str, rtype: str, rid: str, resource: dict[str, Any], condition: str | None,
                  where: str, condition_at: str) -> bool:
    """What an update must hold before it is published (alone or as a Bundle entry); True when it
    creates. `If-Match: W/"n"` holds only if the shared record has version n now: events in flight
    (accepted, not yet applied) are not counted, so the check is as good as the record is current."""
    if resource.get("id") != rid:
        raise IngestError(f"the resource's id {resource.get('id')!r} must be the id in the URL, {rid!r}", f"{where}.id", 400)
    reference = f"{rtype}/{rid}"
    current = _version_now(request, rtype, rid)
    if current is not None and current[1] != facility:
        raise IngestError(f"{reference} is not a record of facility {facility}; update only your own", f"{where}.id", 403)
    if current is None and not rid.startswith(f"{facility}-"):
        raise IngestError(f"a new record of facility {facility} has an id starting {facility}- "
                          f"(POST /fhir/{rtype} assigns one)", f"{where}.id", 400)
    if rtype == "Patient" and (derived := assign_id(resource, facility)) != rid:
        raise IngestError(f"a Patient's id comes from its record number: {derived!r} for this one, not {rid!r}",
                          f"{where}.id", 400)
    if condition is not None:
        wanted = condition.strip().removeprefix("W/").strip('"')
        if not wanted.isdigit():
            raise IngestError(f'If-Match must be a version tag like W/"3", not {condition!r}', condition_at, 400)
        if current is None:
            raise IngestError(f"{reference} is not in the shared record, so If-Match {condition} cannot hold",
                              condition_at, 412)
        if current[0] != int(wanted):
            raise IngestError(f'{reference} is at version W/"{current[0]}" in the shared record, not {condition}; '
                              "read it again and resend the update", condition_at, 412)
    return current is None


def _refusal(exc: IngestError) -> FhirError:
    code = {413: "too-costly", 403: "forbidden", 412: "conflict"}.get(exc.status, "invalid")
    return FhirError(exc.status, code, str(exc), [exc.expression])


@router.put("/{resource_type}/{resource_id}", summary="Update (If-Match for a version-aware update)",
            openapi_extra=declares("update", ACCEPTED))
async def update(resource_type: str, resource_id: str, request: Request,
                 principal: Principal = Depends(submitter)) -> Response:
    """Publishes like a create, with the id from the path. An update of a resource not yet stored creates
    it (201), under an id of the member's own (`<facility>-...`; a Patient's comes from its record number)."""
    facility = sending_facility(request, principal)
    resource = await json_body(request)
    if resource.get("resourceType") != resource_type:
        raise FhirError(400, "invalid", f"the body is a {resource.get('resourceType')!r}, not a {resource_type}",
                        [f"{resource_type}.resourceType"])
    try:
        created = _check_update(request, facility, resource_type, resource_id, resource,
                                request.headers.get("if-match"), resource_type, "If-Match")
        event = _prepare(resource, facility, resource_type, _limit(request), assigned=resource_id)
    except IngestError as exc:
        raise _refusal(exc) from None
    result = _sink(request).accept(PollResult(events=[event])).outcomes[0]
    if not result.accepted:
        raise FhirError(422, "invalid", result.reason or "rejected", [resource_type])
    return answer(request, event.resource, 201 if created else 200, {"Location": f"/fhir/{resource_type}/{resource_id}"})


@router.post("", summary="Batch or transaction Bundle",
             openapi_extra=both(declares("batch"), declares("transaction")))
async def bundle(request: Request, principal: Principal = Depends(submitter)) -> JSONResponse:
    facility = sending_facility(request, principal)
    body = await json_body(request)
    if body.get("resourceType") != "Bundle":
        raise FhirError(400, "invalid", "POST /fhir takes a Bundle", ["Bundle.resourceType"])
    kind = body.get("type")
    if kind not in ("batch", "transaction"):
        raise FhirError(400, "invalid", f"Bundle.type must be batch or transaction, not {kind!r}", ["Bundle.type"])
    entries = body.get("entry") or []
    if not isinstance(entries, list) or not entries:
        raise FhirError(400, "invalid", "the Bundle has no entries", ["Bundle.entry"])
    # Assign ids first so entries may reference each other by fullUrl (urn:uuid:...).
    assigned: dict[int, str] = {}
    references: dict[str, str] = {}
    patients: dict[str, str] = {}  # the Bundle's Patient ids -> their patient keys
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") in ACCEPTED:
            url = str((entry.get("request") or {}).get("url") or "")
            put = (entry.get("request") or {}).get("method") == "PUT" and "/" in url
            assigned[i] = url.partition("/")[2] if put else assign_id(resource, facility)  # an update keeps its id
            if resource["resourceType"] == "Patient":
                patients[assigned[i]] = patient_key_for(resource, facility, f"Bundle.entry[{i}].resource")
            if entry.get("fullUrl"):
                references[entry["fullUrl"]] = f"{resource['resourceType']}/{assigned[i]}"
    prepared: list[Event | IngestError] = []
    created: dict[int, bool] = {}  # updates (PUT entries): whether each creates
    for i, entry in enumerate(entries):
        where = f"Bundle.entry[{i}].resource"
        try:
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                raise IngestError("entry has no resource", f"Bundle.entry[{i}]", 400)
            asked = entry.get("request") or {}
            method = asked.get("method", "POST")
            if method == "PUT":
                rtype, _, rid = str(asked.get("url") or "").partition("/")
                if rtype != entry["resource"].get("resourceType") or not rid:
                    raise IngestError("request.url of a PUT entry is <type>/<id> of its resource",
                                      f"Bundle.entry[{i}].request.url", 400)
                created[i] = _check_update(request, facility, rtype, rid, entry["resource"], asked.get("ifMatch"), where,
                                           f"Bundle.entry[{i}].request.ifMatch")
            elif method != "POST":
                raise IngestError(f"request.method {method} is not supported; use POST or PUT",
                                  f"Bundle.entry[{i}].request.method", 400)
            resource = rewrite_references(entry["resource"], references)
            prepared.append(_prepare(resource, facility, where, _limit(request), assigned.get(i), patients))
        except IngestError as exc:
            prepared.append(exc)
    errors = [p for p in prepared if isinstance(p, IngestError)]
    sink = _sink(request)
    if kind == "transaction":
        if errors:
            issues = [{"severity": "error", "code": "invalid", "diagnostics": str(e), "expression": [e.expression]}
                      for e in errors]
            status = next((same for same in (413, 412) if all(e.status == same for e in errors)), None)
            status = status or (422 if all(e.status != 400 for e in errors) else 400)
            return fhir_response({"resourceType": "OperationOutcome", "issue": issues}, status)
        events = [p for p in prepared if isinstance(p, Event)]
        report = sink.accept(PollResult(events=events))  # one outbox transaction: all or nothing
        # No entry failed, so `events` is `prepared` and its indexes are the entries'.
        responses = [_entry(request, e.resource, _status(created.get(i), o.duplicate))
                     for i, (e, o) in enumerate(zip(events, report.outcomes, strict=True))]
        return fhir_response({"resourceType": "Bundle", "type": "transaction-response", "entry": responses})
    events = [p for p in prepared if isinstance(p, Event)]
    rejected = [
        Rejected(str(p), "validate", json.dumps(entries[i], ensure_ascii=False, default=str), f"Bundle.entry[{i}]")
        for i, p in enumerate(prepared) if isinstance(p, IngestError)
    ]
    report = sink.accept(PollResult(events=events, rejected=rejected))
    outcomes = iter(report.outcomes)
    responses = []
    for i, p in enumerate(prepared):
        if isinstance(p, Event):
            result = next(outcomes)
            responses.append(_entry(request, p.resource, _status(created.get(i), result.duplicate)) if result.accepted
                             else _failed(422, result.reason or ""))
        else:
            responses.append(_failed(p.status, str(p), p.expression))
    return fhir_response({"resourceType": "Bundle", "type": "batch-response", "entry": responses})


def _status(creates: bool | None, duplicate: bool) -> int:
    """201 for what is new: a create that is not a resend, an update of an id not yet stored."""
    if creates is not None:
        return 201 if creates else 200
    return 200 if duplicate else 201


def _entry(request: Request, resource: dict[str, Any], status: int) -> dict[str, Any]:
    return prefer.entry(request, resource, status)


def _failed(status: int, message: str, expression: str | None = None) -> dict[str, Any]:
    return {"response": {"status": str(status), "outcome": outcome("invalid", message, [expression] if expression else None)}}
