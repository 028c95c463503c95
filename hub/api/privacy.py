"""Masking of resident ID and phone numbers for roles that may not see them."""

from __future__ import annotations

import copy
from typing import Any

from hub.identifiers import RESIDENT_ID
from hub.masking import mask_middle


def mask_resource(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy with resident IDs (first 4, last 4 kept) and phone numbers (first 3, last 4) masked."""
    if resource.get("resourceType") not in ("Patient", "RelatedPerson", "Person", "Practitioner"):
        return resource
    masked = copy.deepcopy(resource)
    for identifier in masked.get("identifier") or []:
        if identifier.get("system") == RESIDENT_ID and isinstance(identifier.get("value"), str):
            identifier["value"] = mask_middle(identifier["value"], 4, 4)
    for telecom in masked.get("telecom") or []:
        if telecom.get("system") in ("phone", "sms") and isinstance(telecom.get("value"), str):
            telecom["value"] = mask_middle(telecom["value"], 3, 4)
    for contact in masked.get("contact") or []:
        for telecom in contact.get("telecom") or []:
            if isinstance(telecom.get("value"), str):
                telecom["value"] = mask_middle(telecom["value"], 3, 4)
    return masked
