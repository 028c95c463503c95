"""`_count` and `_offset` of the FHIR reads that page by offset (history, `$everything`, AuditEvent)."""

from __future__ import annotations

from collections.abc import Mapping

from hub.core.web.errors import FhirError


def count_and_offset(params: Mapping[str, str], default: int, maximum: int, least: int = 0) -> tuple[int, int]:
    """(count, offset) from the query; count is capped at `maximum` (FHIR lets a server return fewer)."""
    try:
        count = int(params.get("_count", default))
        offset = int(params.get("_offset", 0))
    except ValueError:
        raise FhirError(400, "invalid", "_count and _offset must be whole numbers", ["_count"]) from None
    if count < least or offset < 0:
        lower = "must not be negative" if least == 0 else f"must be at least {least}"
        raise FhirError(400, "invalid", f"_count {lower} and _offset must not be negative", ["_count"])
    return min(count, maximum), offset
