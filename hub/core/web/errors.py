"""Errors as FHIR OperationOutcomes, the one error shape of every /fhir and /api route."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.core.db.engine import RetriableDatabaseError, is_retriable

FHIR_JSON = "application/fhir+json"
log = logging.getLogger(__name__)
RETRY_AFTER_S = 5


class FhirError(Exception):
    """An error answered with an OperationOutcome. `expression` names the offending element."""

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        expression: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression
        self.headers = headers


def outcome(code: str, diagnostics: str, expression: list[str] | None = None, severity: str = "error") -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = expression
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def fhir_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(FhirError)
    async def _fhir_error(_request: Request, exc: FhirError) -> JSONResponse:
        return fhir_response(outcome(exc.code, exc.diagnostics, exc.expression), exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", []))
        return fhir_response(outcome("invalid", f"{where}: {first.get('msg')}", [where]), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "not-supported", 401: "login", 403: "forbidden"}.get(exc.status_code, "processing")
        text = str(exc.detail)
        if exc.status_code == 404 and text == "Not Found":
            text = f"no route {request.url.path}; see /openapi.json for what is served"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            text = f"{request.method} is not allowed on {request.url.path}" + (f"; allowed: {allowed}" if allowed else "")
        return fhir_response(outcome(code, text), exc.status_code, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        return unhandled(request, exc)


def unhandled(request: Request, exc: BaseException) -> JSONResponse:
    """Any other failure: 503 (retriable) when the database is down or busy, else 500; an OperationOutcome."""
    if isinstance(exc, RetriableDatabaseError) or is_retriable(exc):
        log.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
        return fhir_response(
            outcome("transient", f"the database is unavailable ({type(exc).__name__}); try again in a few seconds"),
            503, {"Retry-After": str(RETRY_AFTER_S)},
        )
    if isinstance(exc, RecursionError):  # JSON nested past the parser's stack, on a route without json_body
        return fhir_response(outcome("structure", "the JSON is nested too deeply; no FHIR resource needs that, "
                                                  "flatten it"), 400)
    incident = uuid.uuid4().hex[:12]
    log.error("%s %s failed (incident %s)", request.method, request.url.path, incident, exc_info=exc)
    return fhir_response(
        outcome("exception", f"the hub failed to answer this request (incident {incident} in its log); "
                             "tell the hub's operator if it persists"),
        500,
    )
