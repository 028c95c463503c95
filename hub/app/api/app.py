"""The ASGI application: one FastAPI app for FHIR, the operator API, health, metrics and pages."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from consumers.record_store.matching.rules import load_rules
from connectors.dicom import routes as dicomweb
from connectors.fhir_rest import routes as fhir_ingest
from consumers.record_store.api import fhir_read, mpi, recognition
from consumers.referrals import api as referrals
from hub import __version__
from hub.app.api import audit_events, login, ops, pages
from hub.core import metrics
from hub.core.web import errors
from hub.core.web.auth import Authenticator
from hub.core.web.hooks import PatientDataHook
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.pipeline import Sink
from hub.app.status import Runtime


def create_app(
    settings: HubSettings,
    database: Database,
    runtime: Runtime | None = None,
    sinks: Mapping[str, Sink] | None = None,
) -> FastAPI:
    app = FastAPI(
        title="County Hub",
        version=__version__,
        description="FHIR R4 API and operator API of the county medical community hub. "
        "Every /fhir and /api route needs a bearer token (programs) or a page session (people, /login).",
    )
    app.state.settings = settings
    app.state.database = database
    app.state.runtime = runtime
    app.state.sinks = dict(sinks or {})  # push connectors behind HTTP routes, by kind
    app.state.auth = Authenticator(settings, database)
    app.state.match_rules = load_rules(settings.match_rules)
    errors.install(app)
    app.include_router(ops.router)
    app.include_router(pages.router)
    app.include_router(login.router)
    app.include_router(mpi.router)  # before fhir_ingest: POST /fhir/Patient/$match is not a create
    app.include_router(fhir_ingest.router)
    app.include_router(dicomweb.router)
    app.include_router(audit_events.router)  # before fhir_read: AuditEvent is not a record type
    app.include_router(fhir_read.router)
    app.include_router(referrals.router)
    recognition.install(app)  # loads the recognition rules once and adds its route
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    # Audits and masks every answer given to a credential (hub/api/hooks.py): routes do neither.
    app.add_middleware(PatientDataHook)

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        response.headers.setdefault("X-Response-Time-ms", f"{(time.perf_counter() - started) * 1000:.1f}")
        return response

    return app
