"""Request bodies: JSON objects within the size limit, with one clear error for anything else."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from hub.api.errors import FhirError


async def json_body(request: Request) -> dict[str, Any]:
    limit = request.app.state.settings.max_event_bytes * 20  # a Bundle may carry many events
    raw = await request.body()
    if len(raw) > limit:
        raise FhirError(413, "too-costly", f"request body of {len(raw)} bytes is over the {limit}-byte limit")
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise FhirError(400, "invalid", "the body is not UTF-8; FHIR JSON must be UTF-8") from None
    except json.JSONDecodeError as exc:
        raise FhirError(400, "invalid", f"the body is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(body, dict):
        raise FhirError(400, "invalid", "the body must be one FHIR resource (a JSON object)", ["(root)"])
    return body
