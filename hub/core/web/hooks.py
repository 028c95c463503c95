"""The response hook every request passes through: it audits and masks what routes return.

Routes do neither themselves. When a request was made with a credential (the auth dependency
put its Principal on the request), the hook
- finds every patient whose data the answer holds: each Patient resource, each `Patient/<id>`
  reference anywhere in it, and the JSON API's patient fields (`PATIENT_ID_FIELDS`,
  `PATIENT_KEY_FIELDS`), plus any the route declared for a non-JSON answer (`declare_patients`);
- writes one audit row with them (who, role, facility, when, client address, route, status),
  before the answer leaves: an answer that cannot be audited is not sent (503);
- masks resident ID and phone numbers in every string of a JSON answer for roles that may not
  see them (hub/core/web/privacy.py).
Every route is audited unless its endpoint is marked `@no_patient_data`; the test
tests/api/test_audit_routes.py walks every registered route and checks both kinds.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.core.web.audit import Access, record
from hub.core.web.auth import UNMASKED, Principal
from hub.core.web.errors import outcome
from hub.core.web.privacy import mask_json

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

# JSON API fields (not FHIR) that name patients: Patient ids (source or community) and member keys.
PATIENT_ID_FIELDS = ("patient", "patient_id", "candidate_community", "communities")
PATIENT_KEY_FIELDS = ("patient_key", "moved")
_REFERENCE = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/.*)?$")
_JSON_TYPES = ("application/json", "application/fhir+json", "application/dicom+json")


def no_patient_data(endpoint: F) -> F:
    """Marks a route whose answers never hold patient data: the hook does not audit it."""
    endpoint.__dict__["hub_no_patient_data"] = True
    return endpoint


def audited(route: Any) -> bool:
    endpoint = getattr(route, "endpoint", None)
    return endpoint is not None and not getattr(endpoint, "hub_no_patient_data", False)


def declare_patients(request: Request, patient_ids: set[str]) -> None:
    """For answers the hook cannot read (a DICOM file): the patients they belong to."""
    request.state.audit_patients = set(patient_ids)


def patients_in(value: Any, ids: set[str], keys: set[str]) -> None:
    """Adds the patients named anywhere in a JSON answer to `ids` (Patient ids) and `keys`."""
    if isinstance(value, list):
        for item in value:
            patients_in(item, ids, keys)
        return
    if not isinstance(value, dict):
        return
    is_patient = value.get("resourceType") == "Patient"
    if is_patient and isinstance(value.get("id"), str):
        ids.add(value["id"])
    for name, item in value.items():
        if is_patient and name == "link":
            continue  # the person's other records: named, not returned
        if name == "reference" and isinstance(item, str):
            found = _REFERENCE.search(item)
            if found:
                ids.add(found.group(1))
        elif name in PATIENT_ID_FIELDS or name in PATIENT_KEY_FIELDS:
            target = ids if name in PATIENT_ID_FIELDS else keys
            for text in item if isinstance(item, list) else [item]:
                if isinstance(text, str) and text:
                    target.add(text)
                else:  # a FHIR Reference (DetectedIssue.patient, AllergyIntolerance.patient)
                    patients_in(text, ids, keys)
        else:
            patients_in(item, ids, keys)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _access(scope: Scope, principal: Principal, status: int) -> Access:
    """The request as the audit log keeps it: the resource type and id, and the patient it named
    (in the path, or as `patient`/`subject`)."""
    route = scope.get("route")
    params: dict[str, Any] = dict(scope.get("path_params") or {})
    named = params.pop("patient_id", None)
    resource_type = str(params.pop("resource_type", "") or ("Patient" if named else scope["path"]))
    resource_id = next((str(v) for v in params.values()), named)
    query = scope.get("query_string", b"").decode("latin-1")
    if named is None and resource_type == "Patient":
        named = resource_id
    if named is None:
        asked = parse_qs(query)
        found = (asked.get("patient") or asked.get("subject") or [None])[0]
        named = found.removeprefix("Patient/") if found else None
    client = scope.get("client")
    return Access(principal, getattr(route, "name", "unmatched"), resource_type, resource_id, named,
                  client[0] if client else None, scope["method"], scope["path"], query, status)


def _finish(scope: Scope, principal: Principal, start: Message, body: bytes) -> tuple[int, list[Any], bytes]:
    status: int = start["status"]
    headers: list[tuple[bytes, bytes]] = list(start.get("headers", []))
    parsed: Any = None
    if _header(headers, b"content-type").split(";")[0].strip() in _JSON_TYPES and body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    route = scope.get("route")
    if audited(route):
        access = _access(scope, principal, status)
        if status < 400:
            access.patient_ids |= set(scope.get("state", {}).get("audit_patients", ()))
            patients_in(parsed, access.patient_ids, access.patient_keys)
        state = scope["app"].state
        try:
            with state.database.reading() as session:  # SQLite: written after the read, never queued behind a writer
                record(session, access, state.services.shared_record)
        except Exception:  # noqa: BLE001 - whatever failed, unaudited patient data must not leave
            log.exception("could not write the audit row of %s %s", scope["method"], scope["path"])
            if status < 400:
                unavailable = json.dumps(outcome(
                    "transient", "the answer could not be written to the audit log, so it is withheld; "
                    "try again in a minute")).encode()
                return 503, [(b"content-type", b"application/fhir+json"), (b"retry-after", b"30")], unavailable
    if parsed is not None and principal.role not in UNMASKED:
        body = json.dumps(mask_json(parsed), ensure_ascii=False, separators=(",", ":")).encode()
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
    if audited(route):
        # Patient data is masked per credential: a browser must neither keep it on a shared workstation's
        # disk nor answer one user's request (a 304 to If-None-Match) with what it fetched for another.
        headers = [(k, v) for k, v in headers if k.lower() not in (b"cache-control", b"vary")]
        headers += [(b"cache-control", b"no-store, private"), (b"vary", b"Authorization, Cookie")]
    return status, headers, body


class PatientDataHook:
    """ASGI middleware: holds back each answer given to a credential until it is audited and masked."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # shared with request.state, where the auth dependency writes
        held: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            if message["type"] == "http.response.start":
                principal = state.get("principal")
                if principal is None:  # no credential was checked: nothing to audit or mask
                    held["through"] = True
                    await send(message)
                    return
                held["start"], held["principal"] = message, principal
                return
            if message["type"] != "http.response.body" or held.get("through"):
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            status, headers, body = await run_in_threadpool(
                _finish, scope, held["principal"], held["start"], b"".join(chunks))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, hold)
