"""The pure rules of a referral loop: levels, direction, every transition, order and repeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.referrals.loop import (
    CLOSED_STATES,
    STATES,
    Loop,
    Step,
    advance,
    answers,
    direction,
    facility_level,
    read_request,
    reference_id,
)
from tests.consumers.referral_factories import referral_event

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
RANK = {"requested": 0, "accepted": 1, "arrived": 2, "returned": 3, "rejected": 3, "cancelled": 3}


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def run(*steps: Step, target: str | None = "cty01", requester: str = "th01") -> Loop:
    return reduce(lambda loop, step: advance(loop, step, target, requester), steps, Loop())


ACCEPT = Step("task", "accepted", at(1), "task-1")
ARRIVE = Step("encounter", "in-progress", at(5), "enc-1", "cty01")
RETURN = Step("answer", "", at(72), "sr-back")


@pytest.mark.parametrize(
    "facility, levels, expected",
    [
        ("cty01", {}, "county"),
        ("th03", {}, "township"),
        ("vc12", {}, "village"),
        ("qs-hosp", {}, None),
        ("qs-hosp", {"qs-hosp": "county"}, "county"),
        ("th01", {"th01": "county"}, "county"),  # the settings win over the id convention
        (None, {}, None),
    ],
)
def test_facility_level(facility: str | None, levels: dict[str, str], expected: str | None) -> None:
    assert facility_level(facility, levels) == expected


@pytest.mark.parametrize(
    "codings, requester, target, expected",
    [
        ([], "th01", "cty01", "up"),
        ([], "vc03", "th01", "up"),
        ([], "cty01", "th02", "down"),
        ([], "th01", "vc05", "down"),
        ([], "th01", "th02", "unknown"),  # same level
        ([], "th01", None, "unknown"),
        ([], "th01", "somewhere", "unknown"),
        ([("urn:hub:referral-direction", "down")], "th01", "cty01", "down"),  # an explicit coding wins
        ([("urn:hub:referral-direction", "sideways")], "th01", "cty01", "up"),
        ([("http://snomed.info/sct", "3457005")], "cty01", "vc01", "down"),
    ],
)
def test_direction(codings, requester: str, target: str | None, expected: str) -> None:
    assert direction(codings, requester, target, {}) == expected


def test_direction_uses_configured_levels() -> None:
    assert direction([], "qs-hosp", "th01", {"qs-hosp": "county"}) == "down"


def test_answers_needs_the_opposite_way() -> None:
    assert answers("up", "cty01", "down", "cty01")
    assert not answers("up", "cty01", "up", "cty01")
    assert answers("unknown", "th02", "unknown", "th02")  # sent back from where the patient went
    assert not answers("unknown", "th02", "unknown", "th05")


def test_each_transition_in_order() -> None:
    loop = run(ACCEPT)
    assert (loop.state, loop.accepted_at) == ("accepted", at(1))
    loop = advance(loop, ARRIVE, "cty01", "th01")
    assert (loop.state, loop.arrived_at, loop.arrival_encounter_id) == ("arrived", at(5), "enc-1")
    loop = advance(loop, RETURN, "cty01", "th01")
    assert (loop.state, loop.returned_at) == ("returned", at(72))
    assert loop.closed_reason == "returned by ServiceRequest/sr-back"


@pytest.mark.parametrize("status", ["accepted", "in-progress", "completed"])
def test_task_statuses_that_accept(status: str) -> None:
    assert run(Step("task", status, at(1))).state == "accepted"


@pytest.mark.parametrize("status", ["requested", "received", "ready", "draft", "on-hold"])
def test_task_statuses_that_change_nothing(status: str) -> None:
    assert run(Step("task", status, at(1))) == Loop()


@pytest.mark.parametrize("status", ["rejected", "cancelled", "failed"])
def test_rejection(status: str) -> None:
    loop = run(ACCEPT, Step("task", status, at(2)))
    assert (loop.state, loop.closed_reason) == ("rejected", f"task {status}")
    assert run(ACCEPT, Step("task", status, at(2)), ARRIVE).state == "rejected"  # closed stays closed


@pytest.mark.parametrize("status", ["revoked", "entered-in-error"])
def test_cancellation(status: str) -> None:
    loop = run(Step("request", status, at(1)))
    assert (loop.state, loop.closed_reason) == ("cancelled", f"request {status}")
    assert run(Step("request", status, at(1)), ACCEPT).state == "cancelled"


def test_request_completed_returns_and_active_changes_nothing() -> None:
    assert run(Step("request", "active", at(0))) == Loop()
    loop = run(ACCEPT, ARRIVE, Step("request", "completed", at(48)))
    assert (loop.state, loop.returned_at, loop.closed_reason) == ("returned", at(48), "request completed")


def test_arrival_counts_only_at_the_target() -> None:
    elsewhere = Step("encounter", "in-progress", at(5), "enc-9", "th02")
    assert run(elsewhere) == Loop()
    assert run(Step("encounter", "planned", at(5), "enc-1", "cty01")) == Loop()
    assert run(Step("encounter", "cancelled", at(5), "enc-1", "cty01")) == Loop()
    # No target named: anywhere but the requesting facility is an arrival.
    assert run(elsewhere, target=None).state == "arrived"
    assert run(Step("encounter", "finished", at(5), "enc-1", "th01"), target=None) == Loop()


def test_forward_only_and_late_steps_still_fill_their_times() -> None:
    loop = run(ARRIVE, ACCEPT)  # the acceptance is seen after the arrival
    assert loop.state == "arrived"
    assert loop.accepted_at == at(1)  # but when it happened is kept
    loop = run(RETURN, ARRIVE, ACCEPT)
    assert loop.state == "returned"
    assert (loop.accepted_at, loop.arrived_at, loop.returned_at) == (at(1), at(5), at(72))


def test_repeating_a_step_changes_nothing() -> None:
    for step in (ACCEPT, ARRIVE, RETURN, Step("task", "rejected", at(2)), Step("request", "revoked", at(2))):
        once = run(step)
        assert advance(once, step, "cty01", "th01") == once


def test_the_earliest_arrival_wins() -> None:
    later = Step("encounter", "finished", at(30), "enc-2", "cty01")
    for order in ((ARRIVE, later), (later, ARRIVE)):
        loop = run(*order)
        assert (loop.arrived_at, loop.arrival_encounter_id) == (at(5), "enc-1")


steps = st.sampled_from(
    [
        ACCEPT,
        Step("task", "completed", at(3)),
        ARRIVE,
        Step("encounter", "finished", at(9), "enc-2", "cty01"),
        RETURN,
        Step("request", "completed", at(80)),
        Step("task", "rejected", at(2)),
        Step("request", "revoked", at(2)),
        Step("encounter", "in-progress", at(4), "enc-x", "th02"),
    ]
)


@given(st.lists(steps, max_size=12))
def test_a_loop_never_goes_back(sequence: list[Step]) -> None:
    loop = Loop()
    for step in sequence:
        after = advance(loop, step, "cty01", "th01")
        assert after.state in STATES
        assert RANK[after.state] >= RANK[loop.state]
        if loop.state in CLOSED_STATES:
            assert after.state == loop.state
        loop = after


@given(st.permutations([ACCEPT, ARRIVE, RETURN, Step("encounter", "finished", at(9), "enc-2", "cty01")]))
def test_the_happy_path_ends_the_same_in_any_order(order: list[Step]) -> None:
    assert run(*order) == run(ACCEPT, ARRIVE, RETURN, Step("encounter", "finished", at(9), "enc-2", "cty01"))


def test_reference_id() -> None:
    assert reference_id({"reference": "ServiceRequest/sr1"}, "ServiceRequest") == "sr1"
    assert (
        reference_id({"reference": "https://h/fhir/ServiceRequest/sr1/_history/3"}, "ServiceRequest") == "sr1"
    )
    assert reference_id({"reference": "Organization/cty01"}, "ServiceRequest") is None
    assert reference_id({"display": "县医院"}, "Organization") is None
    assert reference_id(None, "Organization") is None


def test_read_request_keeps_ids_only() -> None:
    event = referral_event("sr-1", based_on="sr-0")
    request = read_request(event.resource, "th01", event.occurred_at, {})
    assert request.patient_id == "th01-pat-1"
    assert (request.target, request.direction, request.based_on) == ("cty01", "up", "sr-0")
    assert request.requested_at == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # authoredOn, China time
    assert (request.reason_code, request.reason_text) == ("http://hl7.org/fhir/sid/icd-10|I21.9", "胸痛待查")
    no_date = referral_event("sr-2", authored=None, target=None)
    request = read_request(no_date.resource, "th01", no_date.occurred_at, {})
    assert (request.requested_at, request.target, request.direction) == (no_date.occurred_at, None, "unknown")
