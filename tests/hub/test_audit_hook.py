"""What the audit hook counts as naming a patient in an answer."""

from hub.core.web.hooks import patients_in


def test_patients_named_by_reference_in_fields_called_patient_are_found() -> None:
    """`patient` is a plain id in the hub's own answers and a FHIR Reference in DetectedIssue and
    AllergyIntolerance: both name the patient."""
    ids: set[str] = set()
    keys: set[str] = set()
    patients_in({"entry": [
        {"resource": {"resourceType": "DetectedIssue", "patient": {"reference": "Patient/th01-pat-1"}}},
        {"resource": {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/cty01-pat-A77"}}},
        {"patient_id": "th02-pat-9", "patient": "th03-pat-2", "patient_key": "th02/9"},
    ]}, ids, keys)
    assert ids == {"th01-pat-1", "cty01-pat-A77", "th02-pat-9", "th03-pat-2"} and keys == {"th02/9"}
