"""Operator routes: health, readiness, Prometheus metrics, status and dead letters."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import select

from hub.app.dead_letters import whole_payload
from hub.app.status import collect_status
from hub.core.blobs import BlobError, FileBlobStore
from hub.core.db.models import DeadLetter
from hub.core.events import utcnow
from hub.core.web.auth import Principal, require
from hub.core.web.errors import FhirError
from hub.core.web.hooks import declare_patients, patients_in

router = APIRouter(tags=["operations"])
admin = require("admin")


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Database and broker reachable, every consumer assigned")
def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    checks: dict[str, Any] = {"database": state.database.reachable()}
    runtime = state.runtime
    if runtime is not None:
        checks["broker"] = runtime.broker_reachable()
        consumers = runtime.consumer_states()
        checks["consumers"] = consumers
        ready = checks["database"] and checks["broker"] and all(consumers.values())
    else:
        ready = checks["database"]
    failing = [name for name, ok in checks.items() if ok is False or (isinstance(ok, dict) and not all(ok.values()))]
    body = {"status": "ready" if ready else "not ready", "checks": checks, "failing": failing}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics")
def metrics(request: Request) -> Response:
    runtime = request.app.state.runtime  # `hub run` serves its child processes' metrics too
    return Response(generate_latest(runtime.metrics_registry() if runtime else REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/status", summary="Throughput, lag, connectors and dead letters")
def status(request: Request, history_since: float | None = None,
           _principal: Principal = Depends(admin)) -> dict[str, Any]:
    """`history_since` (unix time): only the last hour's points after it, for a page that has the others."""
    state = request.app.state
    return asdict(collect_status(state.settings, state.database, state.runtime, history_since))


@router.get("/api/members", summary="Each member facility judged against its own usual traffic: silent or not")
def members(request: Request, _principal: Principal = Depends(admin)) -> list[dict[str, Any]]:
    """The `members` of /api/status alone, without asking the broker: what the status page polls."""
    state = request.app.state
    with state.database.reading() as session:
        return [asdict(m) for m in state.services.member_activity.members(session, state.settings, utcnow())]


def _letter(row: DeadLetter, with_payload: bool) -> dict[str, Any]:
    data = {
        "id": row.id, "origin": row.origin, "stage": row.stage, "reason": row.reason, "exception": row.exception,
        "facility_id": row.facility_id, "origin_topic": row.origin_topic, "origin_partition": row.origin_partition,
        "origin_offset": row.origin_offset, "position": row.position, "quarantine": row.quarantine,
        "created_at": row.created_at.isoformat(), "replayed_at": row.replayed_at.isoformat() if row.replayed_at else None,
    }
    if with_payload:
        data["payload"] = row.payload.decode("utf-8", "backslashreplace")
        data["headers"] = row.headers
    return data


@router.get("/api/dead-letters", summary="Dead letters, newest first")
def dead_letters(request: Request, limit: int = 50, origin: str | None = None,
                 _principal: Principal = Depends(admin)) -> list[dict[str, Any]]:
    with request.app.state.database.reading() as session:
        query = select(DeadLetter).order_by(DeadLetter.created_at.desc()).limit(min(max(limit, 1), 500))
        if origin:
            query = query.where(DeadLetter.origin == origin)
        return [_letter(row, False) for row in session.scalars(query)]


@router.get("/api/dead-letters/{dead_letter_id}", summary="One dead letter with its payload")
def dead_letter(dead_letter_id: str, request: Request, _principal: Principal = Depends(admin)) -> dict[str, Any]:
    with request.app.state.database.reading() as session:
        row = session.get(DeadLetter, dead_letter_id)
        if row is None:
            raise FhirError(404, "not-found", f"no dead letter {dead_letter_id}")
        declare_patients(request, _payload_patients(row.payload))
        return _letter(row, True)


def _payload_patients(payload: bytes) -> set[str]:
    """The patients a dead letter's payload names, when it is FHIR JSON (other input is audited
    without them)."""
    ids: set[str] = set()
    with contextlib.suppress(ValueError):
        patients_in(json.loads(payload), ids, set())
    return ids


def _blob_patients(request: Request, sha256: str) -> set[str]:
    """The patients of the studies that reference a blob: whose data a DICOM file or waveform is."""
    with request.app.state.database.reading() as session:
        return request.app.state.services.shared_record.patients_of_blob(session, sha256)


@router.get("/api/dead-letters/{dead_letter_id}/payload", summary="A dead letter's whole input, as received")
def dead_letter_payload(dead_letter_id: str, request: Request, _principal: Principal = Depends(admin)) -> Response:
    with request.app.state.database.reading() as session:
        row = session.get(DeadLetter, dead_letter_id)
    if row is None:
        raise FhirError(404, "not-found", f"no dead letter {dead_letter_id}")
    try:
        data = whole_payload(request.app.state.settings, row)
    except BlobError as exc:
        raise FhirError(500, "exception", str(exc)) from None
    declare_patients(request, _payload_patients(data))
    return Response(data, media_type="application/octet-stream", headers={"Cache-Control": "private"})


@router.get("/api/blobs/{sha256}", summary="A stored binary (DICOM file, ECG waveform JSON), hash-checked")
def blob(sha256: str, request: Request, _principal: Principal = Depends(require("reader", "reading_lead", "clinician"))) -> Response:
    store = FileBlobStore(request.app.state.settings.data_dir / "blobs")
    try:
        data = store.get(sha256)
    except BlobError as exc:
        status = 404 if "not in the store" in str(exc) or "not a blob" in str(exc) else 500
        raise FhirError(status, "not-found" if status == 404 else "exception", str(exc)) from None
    declare_patients(request, _blob_patients(request, sha256))
    media = "application/json" if data[:1] == b"{" else "application/dicom"
    return Response(data, media_type=media, headers={"Digest": f"sha-256={sha256}", "Cache-Control": "private"})
