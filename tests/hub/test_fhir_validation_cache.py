"""The validation cache (hub/core/fhir_shapes.py) must never pass what the full R4B models refuse: once a
shape is known good, every leaf of another resource of that shape is replaced by bad values of the same
Python type, and the cached verdict is compared with the full models' verdict."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from hub.core import fhir
from hub.core.fhir import FhirValidationError, validate_resource

RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "th01-pat-1", "active": True,
     "identifier": [{"system": "urn:hub:facility:th01:mrn", "value": "0001"}],
     "name": [{"text": "王秀英", "family": "王", "given": ["秀英"]}], "gender": "female", "birthDate": "1962-03-05",
     "telecom": [{"system": "phone", "value": "13800000000"}],
     "address": [{"city": "某县", "line": ["某村"], "postalCode": "123456"}]},
    {"resourceType": "Observation", "id": "th01-obs-1", "status": "final",
     "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
     "subject": {"reference": "Patient/th01-pat-1"}, "effectiveDateTime": "2026-11-27T08:30:00+08:00",
     "issued": "2026-11-27T09:00:00+08:00",
     "valueQuantity": {"value": 6.1, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
     "referenceRange": [{"low": {"value": 3.9}, "high": {"value": 6.1}}]},
    {"resourceType": "MedicationRequest", "id": "th01-rx-1", "status": "active", "intent": "order",
     "subject": {"reference": "Patient/th01-pat-1"}, "authoredOn": "2026-11-27",
     "medicationCodeableConcept": {"coding": [{"system": "urn:hub:drug", "code": "A10BA02"}]},
     "dosageInstruction": [{"sequence": 1, "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                            "doseAndRate": [{"doseQuantity": {"value": 0.5, "unit": "g"}}]}],
     "dispenseRequest": {"numberOfRepeatsAllowed": 0, "quantity": {"value": 60}}},
    # A child's prescription carries the weight its dose was computed for, as a contained Observation.
    {"resourceType": "MedicationRequest", "id": "th01-rx-2", "status": "active", "intent": "order",
     "subject": {"reference": "Patient/th01-pat-1"}, "authoredOn": "2026-11-27",
     "contained": [{"resourceType": "Observation", "id": "weight", "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                    "effectiveDateTime": "2026-11-27T08:30:00+08:00",
                    "valueQuantity": {"value": 18.5, "unit": "kg", "system": "http://unitsofmeasure.org",
                                      "code": "kg"}}],
     "supportingInformation": [{"reference": "#weight"}],
     "medicationCodeableConcept": {"coding": [{"system": "urn:hub:drug", "code": "J01CA04"}]}},
    # A resource in a Bundle entry is typed the same way as a contained one: by the type it names.
    {"resourceType": "Bundle", "id": "b1", "type": "collection",
     "entry": [{"fullUrl": "urn:uuid:5f0c2a9e-1b2c-4d3e-8f40-0139123456ab",
                "resource": {"resourceType": "Encounter", "id": "th01-enc-1", "status": "finished",
                             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                       "code": "AMB"},
                             "period": {"start": "2026-11-27T08:30:00+08:00"}}}]},
]

BAD_STRINGS = ["", " ", "x y", "not-a-date", "2026-13-45", "1962-02-30", "a" * 70, "bad\x00char",
               "http://exa mple", "T08:30", "-1"]
BAD_NUMBERS: list[Any] = [-1, 0, -0.5, 10**12]


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key != "resourceType":
                yield from _leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaf_paths(item, (*path, i))
    else:
        yield path


def _replaced(resource: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(resource)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def _fully_valid(resource: dict[str, Any]) -> bool:
    saved = dict(fhir._SHAPES)
    fhir._SHAPES.clear()  # the full models, as the first resource of a shape gets them
    try:
        validate_resource(resource)
        return True
    except FhirValidationError:
        return False
    finally:
        fhir._SHAPES.clear()
        fhir._SHAPES.update(saved)


@pytest.mark.parametrize("resource", RESOURCES, ids=[r["id"] for r in RESOURCES])
def test_a_known_shape_never_passes_a_value_the_models_refuse(resource: dict[str, Any]) -> None:
    validate_resource(copy.deepcopy(resource))  # the shape becomes known good
    leaf = fhir.shape_of(resource, [])
    assert fhir._SHAPES.get(leaf) is not None, "the sample's shape should be cacheable, or the test checks nothing"
    compared = 0
    for path in _leaf_paths(resource):
        target: Any = resource
        for step in path:
            target = target[step]
        if isinstance(target, bool):
            candidates: list[Any] = []
        elif isinstance(target, str):
            candidates = BAD_STRINGS
        else:
            candidates = BAD_NUMBERS
        for bad in candidates:
            mutated = _replaced(resource, path, bad)
            try:
                validate_resource(copy.deepcopy(mutated))
                cached = True
            except FhirValidationError:
                cached = False
            assert cached == _fully_valid(mutated), f"{'.'.join(map(str, path))} = {bad!r}"
            compared += 1
    assert compared > 50


def test_a_new_shape_still_gets_the_full_models() -> None:
    patient = copy.deepcopy(RESOURCES[0])
    validate_resource(copy.deepcopy(patient))
    patient["unknownElement"] = "x"  # a shape never seen: the models refuse the element
    with pytest.raises(FhirValidationError):
        validate_resource(patient)
    nested = copy.deepcopy(RESOURCES[0])
    nested["name"][0]["given"] = "秀英"  # a list element given as a string
    with pytest.raises(FhirValidationError):
        validate_resource(nested)
