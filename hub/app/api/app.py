"""The ASGI application: one FastAPI app for FHIR, the operator API, health, metrics and pages."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from hub import __version__
from hub.app import parts as registered
from hub.app.api import audit_events, login, metadata, ops
from hub.app.pages import site as pages
from hub.app.status import Runtime
from hub.core import metrics
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.pipeline import Sink
from hub.core.results import ResultOutbox
from hub.core.schema_registry import make_registry
from hub.core.serialization import EventCodec
from hub.core.web import errors
from hub.core.web.auth import Authenticator
from hub.core.web.hooks import PatientDataHook


def create_app(
    settings: HubSettings,
    database: Database,
    runtime: Runtime | None = None,
    sinks: Mapping[str, Sink] | None = None,
    results: ResultOutbox | None = None,
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
    # Where routes put the hub's own events (a signed report); the hub's results relay publishes them.
    app.state.results = results or ResultOutbox(
        database, EventCodec(make_registry(settings.schema_registry_url), settings.topic_prefix), settings
    )
    app.state.auth = Authenticator(settings, database)
    parts = registered.all_parts()
    app.state.parts = parts
    app.state.services = registered.services(parts)
    errors.install(app)
    routers = [ops.router, login.router, audit_events.router, metadata.router]
    routers += [registered.load(target) for part in parts for target in part.routers]
    app.include_router(_literal_paths_first(routers))
    for part in parts:
        for target in part.app_setup:
            registered.load(target)(app)
    pages.install(app, parts)
    # Audits and masks every answer given to a credential (hub/core/web/hooks.py): routes do neither.
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


def _literal_paths_first(routers: list[APIRouter]) -> APIRouter:
    """One router holding every router's routes, a literal path before a pattern that also matches it,
    whichever part added which: POST /fhir/Patient/$match before POST /fhir/{type}/{id}, GET /fhir/Task
    (reading) and GET /fhir/AuditEvent before GET /fhir/{type}. FastAPI keeps each included router as one
    opaque entry of the app's routes, matched in the order of inclusion, so the routes are gathered and
    sorted before they are included. The sort is stable: routes otherwise keep the order they came in."""
    def parameters(route: BaseRoute) -> int:
        return route.path.count("{") if isinstance(route, APIRoute) else 0

    combined = APIRouter()
    combined.routes.extend(sorted((route for router in routers for route in router.routes), key=parameters))
    return combined
