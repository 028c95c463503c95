"""Topic routing: referrals are told apart from imaging requests by their content."""

from __future__ import annotations

import pytest

from hub.core.topics import CATALOGUE, event_type_for, event_type_for_resource, spec_for

REFERRAL_CODING = {"system": "http://snomed.info/sct", "code": "3457005"}


@pytest.mark.parametrize(
    "resource, expected",
    [
        ({"resourceType": "ServiceRequest", "category": [{"coding": [REFERRAL_CODING]}]}, "referral"),
        (
            {
                "resourceType": "ServiceRequest",
                "category": [{"text": "x"}, {"coding": [{"code": "1"}, REFERRAL_CODING]}],
            },
            "referral",
        ),
        (
            {
                "resourceType": "ServiceRequest",
                "category": [{"coding": [{"system": "http://loinc.org", "code": "3457005"}]}],
            },
            "imaging_request",
        ),
        ({"resourceType": "ServiceRequest"}, "imaging_request"),
        ({"resourceType": "Task", "focus": {"reference": "ServiceRequest/th01-sr-1"}}, "referral"),
        (
            {"resourceType": "Task", "focus": {"reference": "https://his/fhir/ServiceRequest/a/_history/2"}},
            "referral",
        ),
        ({"resourceType": "Encounter", "basedOn": [{"reference": "ServiceRequest/th01-sr-1"}]}, "encounter"),
        ({"resourceType": "Patient"}, "patient"),
        ({"resourceType": "ImagingStudy"}, "imaging_request"),
    ],
)
def test_event_type_for(resource: dict, expected: str) -> None:
    assert event_type_for(resource) == expected


@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": "Task"},
        {"resourceType": "Task", "focus": {"reference": "Patient/p"}},
        {"resourceType": "Condition"},
        {},
    ],
)
def test_no_topic_is_a_key_error(resource: dict) -> None:
    with pytest.raises(KeyError):
        event_type_for(resource)


def test_referral_topic() -> None:
    spec = spec_for("referral")
    assert (spec.name, spec.partitions, spec.resource_types) == (
        "hub.referral.v1",
        3,
        ("ServiceRequest", "Task"),
    )
    assert event_type_for_resource("ServiceRequest") == "imaging_request"  # by type alone, as before
    assert len({s.name for s in CATALOGUE}) == len(CATALOGUE)
