"""Masking of resident ID and phone numbers in what the API returns to roles that may not see them.

Masking works on what a value is, not where it sits: every string of the answer (any resource,
any element: identifiers of any system, `telecom.system=other`, `address.text`, narrative
`text.div`, `Observation.valueString`, JSON API fields) goes through `hub.core.masking.mask_text`.
The response hook (hub/core/web/hooks.py) applies it to every JSON answer for these roles.
"""

from __future__ import annotations

from typing import Any

from hub.core.masking import mask_middle, mask_text

__all__ = ["mask_json", "mask_middle", "mask_resource"]


def mask_json(value: Any) -> Any:
    """A copy of a JSON value with every string masked (keys are names, not data, and stay)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: mask_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_json(item) for item in value]
    return value


def mask_resource(resource: dict[str, Any]) -> dict[str, Any]:
    """A masked copy of one resource (of any type)."""
    masked: dict[str, Any] = mask_json(resource)
    return masked
