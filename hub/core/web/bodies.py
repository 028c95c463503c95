"""Request bodies: FHIR JSON objects within the size and nesting limits, one clear error for anything else."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from hub.core.web.errors import FhirError

JSON_TYPES = ("application/fhir+json", "application/json")
# Deepest JSON nesting accepted. Real resources stay far below (an extension inside an extension
# inside a resource is about 10); thousands of levels only serve to exhaust the parser and validator.
MAX_DEPTH = 100


def check_content_type(request: Request) -> None:
    """FHIR JSON only: application/fhir+json or application/json, UTF-8 if a charset is named."""
    header = request.headers.get("content-type", "")
    media, _, params = header.partition(";")
    media = media.strip().lower()
    if media not in JSON_TYPES:
        shown = f"Content-Type {header!r}" if header else "no Content-Type"
        raise FhirError(415, "not-supported", f"{shown}: send FHIR JSON as application/fhir+json "
                        "(or application/json)", ["Content-Type"])
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise FhirError(415, "not-supported", f"charset {value.strip()!r}: FHIR JSON must be UTF-8",
                            ["Content-Type"])


def depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion (so no input can exhaust the stack here)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def too_deep() -> FhirError:
    return FhirError(400, "structure", f"the JSON is nested more than {MAX_DEPTH} levels deep; "
                     "no FHIR resource needs that, flatten it", ["(root)"])


async def json_body(request: Request) -> dict[str, Any]:
    check_content_type(request)
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
    except RecursionError:
        raise too_deep() from None
    if depth(body) > MAX_DEPTH:
        raise too_deep()
    if not isinstance(body, dict):
        raise FhirError(400, "invalid", "the body must be one FHIR resource (a JSON object)", ["(root)"])
    return body
