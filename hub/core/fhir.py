"""FHIR R4 validation with fhir.resources' R4B models, reporting the offending element by path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from hub.core.errors import PermanentError

# Required value-set bindings of the elements the hub relies on. fhir.resources checks types and
# cardinality but not bindings, so `"status": "teleported"` would otherwise pass.
_REQUIRED_CODES: dict[tuple[str, str], frozenset[str]] = {
    ("Patient", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("Encounter", "status"): frozenset({"planned", "arrived", "triaged", "in-progress", "onleave", "finished",
                                         "cancelled", "entered-in-error", "unknown"}),
    ("MedicationRequest", "status"): frozenset({"active", "on-hold", "cancelled", "completed", "entered-in-error",
                                                 "stopped", "draft", "unknown"}),
    ("MedicationRequest", "intent"): frozenset({"proposal", "plan", "order", "original-order", "reflex-order",
                                                 "filler-order", "instance-order", "option"}),
    ("MedicationRequest", "priority"): frozenset({"routine", "urgent", "asap", "stat"}),
    ("DiagnosticReport", "status"): frozenset({"registered", "partial", "preliminary", "final", "amended",
                                                "corrected", "appended", "cancelled", "entered-in-error", "unknown"}),
    ("Observation", "status"): frozenset({"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                                           "entered-in-error", "unknown"}),
    ("ServiceRequest", "status"): frozenset({"draft", "active", "on-hold", "revoked", "completed",
                                              "entered-in-error", "unknown"}),
    ("ServiceRequest", "intent"): frozenset({"proposal", "plan", "directive", "order", "original-order",
                                              "reflex-order", "filler-order", "instance-order", "option"}),
    ("ServiceRequest", "priority"): frozenset({"routine", "urgent", "asap", "stat"}),
    ("ImagingStudy", "status"): frozenset({"registered", "available", "cancelled", "entered-in-error", "unknown"}),
}


@dataclass(frozen=True)
class FhirIssue:
    path: str  # FHIRPath-like, e.g. "Patient.birthDate"
    message: str


class FhirValidationError(PermanentError, ValueError):
    def __init__(self, resource_type: str, issues: list[FhirIssue]) -> None:
        self.resource_type = resource_type
        self.issues = issues
        super().__init__("; ".join(f"{i.path}: {i.message}" for i in issues) or f"invalid {resource_type}")


def validate_resource(resource: Any) -> dict[str, Any]:
    """Returns the resource unchanged when it is valid R4 JSON; raises FhirValidationError otherwise."""
    if not isinstance(resource, dict):
        raise FhirValidationError("?", [FhirIssue("(root)", "a FHIR resource must be a JSON object")])
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        raise FhirValidationError("?", [FhirIssue("resourceType", "missing resourceType")])
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        raise FhirValidationError(
            resource_type, [FhirIssue("resourceType", f"unknown FHIR R4 resource type {resource_type!r}")]
        ) from None
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        issues = [
            FhirIssue(
                ".".join([resource_type, *(str(p) for p in err["loc"] if p != "__root__")]),
                str(err.get("msg", "invalid")),
            )
            for err in exc.errors()
        ]
        raise FhirValidationError(resource_type, issues) from None
    bad = [
        FhirIssue(f"{resource_type}.{element}", f"{resource[element]!r} is not in the required value set: "
                  f"{', '.join(sorted(allowed))}")
        for (rtype, element), allowed in _REQUIRED_CODES.items()
        if rtype == resource_type and element in resource and resource[element] not in allowed
    ]
    if bad:
        raise FhirValidationError(resource_type, bad)
    return resource
