"""The FHIRPath subset that field rules name elements with."""

from __future__ import annotations

import pytest

from consumers.record_store.matching.paths import PathError, parse

PATIENT = {
    "resourceType": "Patient",
    "name": [{"family": "Smith", "given": ["Robert", "James"]}, {"family": "Smyth", "given": ["Bob"], "use": "nickname"}],
    "identifier": [{"system": "http://example.org/insurance", "value": "A123"}, {"system": "urn:oid:1.2", "value": "X"}],
    "telecom": [{"system": "email", "value": "a@b.c"}, {"system": "phone", "value": "555-1234"}],
    "address": [{"line": ["12 Main St", "Apt 4"], "city": "Springfield", "postalCode": "12345"}],
    "active": True,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("name[0].family", ["Smith"]),
        ("name.family", ["Smith", "Smyth"]),
        ("Patient.name.given", ["Robert", "James", "Bob"]),
        ("name.given.first()", ["Robert"]),
        ("name[1].given[0]", ["Bob"]),
        ("address[0].line", ["12 Main St", "Apt 4"]),
        ("identifier.where(system='http://example.org/insurance').value", ["A123"]),
        ("telecom.where(system='phone').value", ["555-1234"]),
        ("name.where(use='nickname').family", ["Smyth"]),
        ("name.where(use='nickname' and family='Smyth').given", ["Bob"]),
        ("active", [True]),
        ("deceasedBoolean", []),
        ("name[5].family", []),
    ],
)
def test_paths_reach_elements(path: str, expected: list) -> None:
    assert parse(path).values(PATIENT) == expected


def test_a_whole_element_can_be_reached() -> None:
    assert parse("address.first()").values(PATIENT) == [PATIENT["address"][0]]


@pytest.mark.parametrize(
    ("path", "message"),
    [("name..family", "cannot read"), ("name.", "ends with a dot"), ("identifier.where(system=x)", "element='literal'"),
     ("identifier.where(system='x'", "unclosed"), ("", "empty"), ("name[0]family", "expected a dot")],
)
def test_paths_outside_the_subset_are_named(path: str, message: str) -> None:
    with pytest.raises(PathError) as caught:
        parse(path)
    assert message in str(caught.value)
