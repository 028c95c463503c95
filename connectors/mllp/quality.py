"""Data-quality notes on optional HL7 fields that were malformed: the value is left out, the message
is accepted, and the note travels three ways: an ERR of severity W in the ACK (the sender's view), a
`meta.tag` on the FHIR resource (survives to the shared record), and an event flag (the consumers' view).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TAG_SYSTEM = "urn:hub:data-quality"
RAW_VALUE_URL = "urn:hub:data-quality:raw-value"
FLAG_PREFIX = "data-quality:"
RAW_MAX = 200  # a note keeps the start of a long value: enough to recognise it, never a second copy


@dataclass(frozen=True)
class FieldIssue:
    """`PID-7` (`sequence` counts segments of that name, from 1) could not be read and was left out."""

    segment: str
    sequence: int
    field: int
    code: str  # HL7 table 0357: 102 data type error, 103 table value not found
    problem: str  # a slug: invalid-date, invalid-code, invalid-phone
    raw: str  # the value as sent
    text: str  # one sentence for a person

    @property
    def location(self) -> str:
        return f"{self.segment}-{self.field}"

    @property
    def tag_code(self) -> str:
        return f"{self.location}:{self.problem}"

    @property
    def flag(self) -> str:
        return FLAG_PREFIX + self.tag_code

    def tag(self) -> dict[str, Any]:
        return {"system": TAG_SYSTEM, "code": self.tag_code, "display": self.text[:500],
                "extension": [{"url": RAW_VALUE_URL, "valueString": self.raw[:RAW_MAX]}]}


def tag_resource(resource: dict[str, Any], issues: list[FieldIssue]) -> dict[str, Any]:
    if issues:
        meta = resource.setdefault("meta", {})
        meta["tag"] = [*(meta.get("tag") or []), *(i.tag() for i in issues)]
    return resource


def flags_of(*resources: dict[str, Any]) -> tuple[str, ...]:
    """The data-quality flags of an event, from its resources' tags (each once, in order)."""
    found: dict[str, None] = {}
    for resource in resources:
        for tag in (resource.get("meta") or {}).get("tag") or []:
            if tag.get("system") == TAG_SYSTEM:
                found[FLAG_PREFIX + tag["code"]] = None
    return tuple(found)
