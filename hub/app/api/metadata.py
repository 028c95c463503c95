"""`GET /fhir/metadata`: the CapabilityStatement of the routes this app serves (hub/core/web/capability.py).
Open without a token, as FHIR clients read it before they authenticate; it holds no patient data."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hub import __version__
from hub.core.events import utcnow
from hub.core.web.capability import statement
from hub.core.web.errors import fhir_response
from hub.core.web.hooks import no_patient_data

router = APIRouter(prefix="/fhir", tags=["FHIR"])


@router.get("/metadata", summary="The CapabilityStatement: what this server serves (the capabilities interaction)")
@no_patient_data
def metadata(request: Request) -> JSONResponse:
    body = statement(request.app.router.routes, request.app.state.settings.public_base, "county-hub", __version__,
                     utcnow().date().isoformat())
    return fhir_response(body)
