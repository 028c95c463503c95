"""Several parts may each own some searches of one FHIR type (the reading centres' Tasks, the central
pharmacy's Tasks, the shared record's others). The app puts literal paths first, so the first part's
route answers `/fhir/Task`; a search it does not own is handed on to the next part that serves the same
path, then to the generic `/fhir/{resource_type}` route, found by path, never by importing another part."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from hub.core.web.errors import FhirError


def every_route(routes: list[Any]) -> Iterator[Any]:
    """The app's routes, also those inside included routers (FastAPI keeps an included router as one
    entry that holds the original router)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from every_route(inner.routes)
        else:
            yield route


def hand_on(request: Request, owner: str, resource_type: str, **params: Any) -> Any:
    """Calls the next GET route for the search of `resource_type`: another part's `/fhir/<type>` route that has
    not declined this request, else the generic `/fhir/{resource_type}`; FhirError 404 when none is left.
    `owner` is the calling part's module prefix (e.g. "consumers.reading")."""
    tried: set[str] = getattr(request.state, "fhir_declined_by", set()) | {owner}
    request.state.fhir_declined_by = tried
    literal, generic = f"/fhir/{resource_type}", "/fhir/{resource_type}"
    for path, extra in ((literal, {}), (generic, {"resource_type": resource_type})):
        for route in every_route(request.app.router.routes):
            if (isinstance(route, APIRoute) and route.path == path and "GET" in (route.methods or ())
                    and not any(route.endpoint.__module__.startswith(t) for t in tried)):
                return route.endpoint(request=request, **extra, **params)
    raise FhirError(404, "not-supported", f"no part of the hub serves this {resource_type} search", [resource_type])
