"""The FHIR message for a member's endpoint: a transaction Bundle that PUTs the result and what it
carries (a report's Observations, what a notice is about) by their ids. Pure functions, no I/O.

PUT by id makes a resend harmless (the member's server keeps one copy), and the Bundle's own id and
identifier are the message's stable id, so a member can also drop a resend it has seen.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from consumers.delivery.hl7_oru import RenderError

CONTENT_TYPE = "application/fhir+json"
_CARRIED = ("Observation", "DiagnosticReport", "ImagingStudy", "ServiceRequest", "DetectedIssue")


def transaction(message_id: str, resource: dict[str, Any], related: Sequence[dict[str, Any]], at: datetime) -> bytes:
    entries = [resource, *(r for r in related if r.get("resourceType") in _CARRIED)]
    seen: set[tuple[str, str]] = set()
    bundle_entries = []
    for entry in entries:
        kind, rid = str(entry.get("resourceType", "")), str(entry.get("id", ""))
        if not kind or not rid:
            raise RenderError(f"a {kind or 'resource'} without an id cannot be delivered (it is PUT by its id)")
        if (kind, rid) in seen:
            continue
        seen.add((kind, rid))
        bundle_entries.append({"fullUrl": f"{kind}/{rid}", "resource": entry,
                               "request": {"method": "PUT", "url": f"{kind}/{rid}"}})
    bundle = {
        "resourceType": "Bundle",
        "id": message_id,
        "identifier": {"system": "urn:hub:delivery", "value": message_id},
        "type": "transaction",
        "timestamp": at.isoformat(),
        "entry": bundle_entries,
    }
    return json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
