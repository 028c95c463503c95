"""FHIR ids made from record numbers: injective, stable, valid; foreign identifier systems; limits."""

from __future__ import annotations

import re
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from connectors.his_db.mapping import load_mapping, map_row
from connectors.mllp.mapping import clean_id as mllp_id
from hub.core.identifiers import FHIR_ID_MAX, fhir_id, foreign_identifier, system_facility
from hub.core.limits import LimitError, check_resource

FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
OLD_CLEAN = re.compile(r"[^a-z0-9.-]+")
# Record numbers as members write them: any text, and the ASCII shapes most likely to collide.
record_numbers = st.one_of(st.text(min_size=1, max_size=200), st.from_regex(r"[A-Za-z0-9_\-. /]{1,80}", fullmatch=True))


def _old_clean_id(text: str) -> str:
    return OLD_CLEAN.sub("-", text.lower()).strip("-")[:64]


@given(st.sets(record_numbers, min_size=2, max_size=40))
def test_distinct_record_numbers_give_distinct_ids(numbers: set[str]) -> None:
    ids = {fhir_id(f"th01-pat-{n}") for n in numbers}
    assert len(ids) == len(numbers)


@given(record_numbers)
def test_ids_are_valid_fhir_ids_and_stable(number: str) -> None:
    made = fhir_id(f"th01-pat-{number}")
    assert FHIR_ID.match(made) and len(made) <= FHIR_ID_MAX
    assert fhir_id(f"th01-pat-{number}") == made


@given(st.from_regex(r"[a-z0-9.]{1,20}(-[a-z0-9.]{1,20}){0,2}", fullmatch=True))
def test_ids_already_stored_for_safe_lower_case_numbers_do_not_change(number: str) -> None:
    text = f"th01-pat-{number}"
    if len(text) <= FHIR_ID_MAX:
        assert fhir_id(text) == _old_clean_id(text) == text


def test_the_issue_s_two_patients_stay_two() -> None:
    assert _old_clean_id("th01-pat-abc-1") == _old_clean_id("th01-pat-ABC_1")  # the defect
    assert fhir_id("th01-pat-abc-1") == "th01-pat-abc-1"
    assert fhir_id("th01-pat-ABC_1") not in ("th01-pat-abc-1", "th01-pat-ABC-1")
    long_a, long_b = "th01-pat-" + "1" * 70 + "a", "th01-pat-" + "1" * 70 + "b"
    assert _old_clean_id(long_a) == _old_clean_id(long_b)  # the defect: cut at 64
    assert fhir_id(long_a) != fhir_id(long_b)


def test_ids_are_the_same_in_another_process() -> None:
    """Stable across restarts: no per-process salt (Python's hash() would have one)."""
    code = "from hub.core.identifiers import fhir_id; print(fhir_id('th01-pat-王_1'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == fhir_id("th01-pat-王_1")


@given(st.from_regex(r"[A-Za-z0-9_\- /]{1,40}", fullmatch=True))
def test_his_db_and_mllp_give_a_record_number_the_same_patient_id(number: str) -> None:
    """Stable across connector kinds: the HIS `id` transform and HL7 PID-3 meet on one id."""
    mapping = load_mapping("vendor_a")
    spec = next(t for t in mapping.tables if t.name == "patients")
    row = {"pat_id": number, "name": "王五", "sex": "M", "birth_date": "1990-01-01", "id_no": None, "phone": None,
           "address": None, "village": None, "updated_at": "2026-11-23T08:00:00.000000"}
    if not number.strip():
        return
    mapped = map_row(spec, row, [], "th01", mapping)
    assert mapped.resource["id"] == mllp_id(f"th01-pat-{number.strip()}")


def test_foreign_identifier_systems_are_found_anywhere_in_a_resource() -> None:
    assert system_facility("urn:hub:facility:cty01:mrn") == "cty01"
    assert system_facility("urn:oid:2.16.156.10011.1.3") is None
    own = {"identifier": [{"system": "urn:hub:facility:th01:mrn", "value": "1"}]}
    assert foreign_identifier(own, "th01", "Patient") is None
    nested = {"subject": {"identifier": {"system": "urn:hub:facility:cty01:mrn", "value": "X"}}}
    assert foreign_identifier(nested, "th01", "Observation") == ("Observation.subject.identifier.system",
                                                                "urn:hub:facility:cty01:mrn")
    group = {"groupIdentifier": {"system": "urn:hub:facility:cty01:rx", "value": "9"}}
    assert foreign_identifier(group, "th01", "MedicationRequest") is not None
    listed = {"contained": [{"id": "a"}, {"identifier": [{"system": "urn:oid:1.2"},
                                                         {"system": "urn:hub:facility:cty01:mrn"}]}]}
    assert foreign_identifier(listed, "th01", "Encounter") == ("Encounter.contained[1].identifier[1].system",
                                                              "urn:hub:facility:cty01:mrn")
    assigner = {"identifier": [{"system": "urn:oid:1.2", "assigner": {
        "identifier": {"system": "urn:hub:facility:cty01:org"}}}]}
    assert foreign_identifier(assigner, "th01", "Patient") == ("Patient.identifier.assigner.identifier.system",
                                                              "urn:hub:facility:cty01:org")
    coding = {"code": {"coding": [{"system": "urn:hub:facility:cty01:lab", "code": "K"}]}}
    assert foreign_identifier(coding, "th01", "Observation") is None  # a code system is not an identifier


def test_limits_name_the_element() -> None:
    check_resource({"identifier": [{"system": "s", "value": "v" * 100}]}, "Patient")
    try:
        check_resource({"identifier": [{"system": "s", "value": "v" * 101}]}, "Patient")
    except LimitError as exc:
        assert exc.expression == "Patient.identifier[0].value"
    else:
        raise AssertionError("a 101-character identifier passed")
