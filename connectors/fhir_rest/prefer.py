"""`Prefer: return=minimal | representation | OperationOutcome` (FHIR RESTful API, "Managing Return
Content"): what an accepted create or update answers with, alone or as a Bundle entry."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request, Response

from hub.core.web.errors import fhir_response, outcome

Return = Literal["minimal", "representation", "OperationOutcome"]
RETURNS: tuple[Return, ...] = ("minimal", "representation", "OperationOutcome")


def preferred_return(request: Request) -> Return:
    """The `return` preference; a missing or unknown one is the full resource (RFC 7240 ignores what a
    server does not know)."""
    for part in request.headers.get("prefer", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "return":
            value = value.strip().strip('"')
            for known in RETURNS:
                if value.lower() == known.lower():
                    return known
    return "representation"


def _accepted(resource: dict[str, Any], status: int) -> dict[str, Any]:
    verb = "created" if status == 201 else "accepted"
    return outcome("informational", f"{resource['resourceType']}/{resource['id']} {verb}; the shared record "
                   "shows it once the record store has applied it", severity="information")


def answer(request: Request, resource: dict[str, Any], status: int, headers: dict[str, str]) -> Response:
    """The answer to one accepted resource, as the client preferred."""
    wanted = preferred_return(request)
    if wanted == "minimal":
        return Response(status_code=status, headers=headers)
    if wanted == "OperationOutcome":
        return fhir_response(_accepted(resource, status), status, headers)
    return fhir_response(resource, status, headers)


def entry(request: Request, resource: dict[str, Any], status: int) -> dict[str, Any]:
    """A transaction- or batch-response entry of one accepted resource, as the client preferred."""
    location = f"{resource['resourceType']}/{resource['id']}"
    response: dict[str, Any] = {"status": "201 Created" if status == 201 else "200 OK", "location": location}
    wanted = preferred_return(request)
    if wanted == "OperationOutcome":
        response["outcome"] = _accepted(resource, status)
    if wanted == "representation":
        return {"resource": resource, "response": response}
    return {"response": response}
