"""Reading the common fields of a FHIR resource: its clinical date, codes, status and patient reference
(what the record store indexes, and what limits, routes and other consumers read the same way)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# Where the clinical date of each resource type lives, in order of preference.
_DATE_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "Encounter": (("period", "start"),),
    "MedicationRequest": (("authoredOn",),),
    "DiagnosticReport": (("effectiveDateTime",), ("effectivePeriod", "start"), ("issued",)),
    "Observation": (("effectiveDateTime",), ("effectivePeriod", "start"), ("issued",)),
    "ServiceRequest": (("authoredOn",), ("occurrenceDateTime",)),
    "ImagingStudy": (("started",),),
    "Condition": (("onsetDateTime",), ("recordedDate",)),
    "Task": (("authoredOn",),),
    "Patient": (("birthDate",),),
}
# Which elements hold the codes `code=` searches.
_CODE_FIELDS = ("code", "medicationCodeableConcept", "reasonCode", "type", "category", "modality")


def parse_fhir_datetime(value: Any) -> datetime | None:
    """FHIR date, dateTime or instant to an aware UTC datetime; partial dates take their first day."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if len(text) == 4:
        text += "-01-01"
    elif len(text) == 7:
        text += "-01"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # Member systems record China Standard Time when they give no offset.
        from zoneinfo import ZoneInfo

        parsed = parsed.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    return parsed.astimezone(UTC)


def clinical_date(resource: dict[str, Any]) -> datetime | None:
    return first_datetime(resource, *_DATE_PATHS.get(resource.get("resourceType", ""), ()))


def first_datetime(resource: dict[str, Any], *paths: tuple[str, ...]) -> datetime | None:
    """The first of the element paths that holds a FHIR date or dateTime, parsed."""
    for path in paths:
        node: Any = resource
        for step in path:
            node = node.get(step) if isinstance(node, dict) else None
        parsed = parse_fhir_datetime(node)
        if parsed is not None:
            return parsed
    return None


def codings(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (system, code) in the searchable code elements, in document order, without repeats."""
    found: list[tuple[str, str]] = []
    for field in _CODE_FIELDS:
        value = resource.get(field)
        concepts = value if isinstance(value, list) else [value]
        for concept in concepts:
            if not isinstance(concept, dict):
                continue
            for coding in concept.get("coding", []) if "coding" in concept else [concept]:
                if isinstance(coding, dict) and coding.get("code"):
                    pair = (str(coding.get("system", "")), str(coding["code"]))
                    if pair not in found:
                        found.append(pair)
    return found


def main_code(resource: dict[str, Any]) -> str | None:
    found = codings(resource)
    return f"{found[0][0]}|{found[0][1]}" if found else None


def patient_reference(resource: dict[str, Any]) -> str | None:
    """The id of the Patient a resource is about (subject, patient, or a Task's `for`), if it points at one."""
    for field in ("subject", "patient", "for"):
        ref = resource.get(field)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            kind, _, rid = ref["reference"].partition("/")
            if kind == "Patient" and rid:
                return rid
    return None


# A Patient a connector made from an image's patient module (DICOM) rather than from the member's
# registration system: it fills a gap, and never replaces what the registration system sent.
IMAGE_ORIGIN = {"system": "urn:hub:origin", "code": "dicom-patient-module"}


def from_image_archive(resource: dict[str, Any]) -> bool:
    tags = (resource.get("meta") or {}).get("tag") or []
    return any(isinstance(t, dict) and t.get("system") == IMAGE_ORIGIN["system"] and t.get("code") == IMAGE_ORIGIN["code"]
               for t in tags)
