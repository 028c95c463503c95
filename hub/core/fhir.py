"""FHIR R4 validation with fhir.resources' R4B models, reporting the offending element by path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hub.core.errors import PermanentError
from hub.core.fhir_shapes import MAX_SHAPES, Leaf, Shape, Uncacheable, leaf_checks, r4_model, shape_of

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
    model = r4_model(resource_type)
    if model is None:
        raise FhirValidationError(
            resource_type, [FhirIssue("resourceType", f"unknown FHIR R4 resource type {resource_type!r}")]
        )
    leaves: list[Any] = []
    shape = shape_of(resource, leaves)
    if not _known_good(shape, leaves):
        _validate_fully(model, resource_type, resource)
        _learn(model, resource, shape, len(leaves))
    bad = [
        FhirIssue(f"{resource_type}.{element}", f"{resource[element]!r} is not in the required value set: "
                  f"{', '.join(sorted(allowed))}")
        for (rtype, element), allowed in _REQUIRED_CODES.items()
        if rtype == resource_type and element in resource and resource[element] not in allowed
    ]
    if bad:
        raise FhirValidationError(resource_type, bad)
    return resource


# Shape -> one check per leaf value (None: the shape could not be typed; always validate fully).
_SHAPES: dict[Shape, list[Leaf | None] | None] = {}


# (check, type, value) of leaf values that passed: most repeat (systems, codes, units, statuses), and a
# primitive type's check depends on the value alone. Short values only; forgotten when full.
_PASSED: set[tuple[int, type, Any]] = set()
_PASSED_MAX = 20_000
_PASSED_LONGEST = 128


def _known_good(shape: Shape, leaves: list[Any]) -> bool:
    """Whether a resource of a shape that passed before passes again: each leaf value checked alone."""
    checks = _SHAPES.get(shape)
    if checks is None:
        return False
    try:
        for check, value in zip(checks, leaves, strict=True):
            if check is None:
                continue
            seen = (id(check), type(value), value)
            if seen in _PASSED:
                continue
            check(value)
            if not isinstance(value, str) or len(value) <= _PASSED_LONGEST:
                if len(_PASSED) >= _PASSED_MAX:
                    _PASSED.clear()
                _PASSED.add(seen)
    except (ValueError, TypeError):  # pydantic's ValidationError is a ValueError; the models say why
        return False
    return True


def _learn(model: Any, resource: dict[str, Any], shape: Shape, n_leaves: int) -> None:
    if shape in _SHAPES or len(_SHAPES) >= MAX_SHAPES:
        return
    try:
        checks: list[Leaf | None] | None = leaf_checks(model, resource)
    except Uncacheable:
        checks = None
    if checks is not None and len(checks) != n_leaves:
        checks = None
    _SHAPES[shape] = checks


def _validate_fully(model: Any, resource_type: str, resource: dict[str, Any]) -> None:
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
    except (KeyError, AttributeError, ImportError) as exc:
        # A resource inside this one (contained, a Bundle entry) names a type R4 does not have: the
        # models look its class up and fail without saying where.
        where, named = _unknown_inner_type(resource) or ("", str(exc))
        raise FhirValidationError(resource_type, [FhirIssue(
            f"{resource_type}.{where}" if where else resource_type,
            f"resourceType {named!r} is not a FHIR R4 resource type")]) from None


def _unknown_inner_type(node: Any, path: str = "") -> tuple[str, str] | None:
    """(path, type) of the first resource inside `node` whose resourceType R4 does not have."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        inner = f"{path}.{key}" if path else str(key)
        if isinstance(value, dict) and isinstance(value.get("resourceType"), str) \
                and r4_model(value["resourceType"]) is None:
            return inner, value["resourceType"]
        if isinstance(value, dict | list) and (found := _unknown_inner_type(value, inner)):
            return found
    return None
