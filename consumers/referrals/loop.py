"""Pure rules of a referral loop: facility levels, direction, and how each step moves a loop forward.

A loop runs requested -> accepted -> arrived -> returned, or closes early as rejected or cancelled.
Steps may be seen in any order (they travel on different topics), so a loop only moves forward and
remembers the earliest time of each milestone, even one it has already passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from hub.core.fhir_fields import first_datetime

DIRECTION_SYSTEM = "urn:hub:referral-direction"
LEVELS = ("village", "township", "county")  # lowest to highest
# Facility ids not in HUB_FACILITY_LEVELS follow the demo county's convention (hub/tools/demo/county.py).
_PREFIXES = (("cty", "county"), ("th", "township"), ("vc", "village"))

OPEN_STATES = ("requested", "accepted", "arrived")
CLOSED_STATES = ("returned", "rejected", "cancelled")
STATES = OPEN_STATES + CLOSED_STATES
_RANK = {"requested": 0, "accepted": 1, "arrived": 2, "returned": 3, "rejected": 3, "cancelled": 3}

_TASK_ACCEPTS = frozenset({"accepted", "in-progress", "completed"})
_TASK_REJECTS = frozenset({"rejected", "cancelled", "failed"})
_REQUEST_CANCELS = frozenset({"revoked", "entered-in-error"})
_NOT_AN_ARRIVAL = frozenset({"planned", "cancelled", "entered-in-error"})

StepKind = Literal["request", "task", "encounter", "answer"]


def facility_level(facility_id: str | None, levels: Mapping[str, str]) -> str | None:
    """county, township or village; None when neither the settings nor the id convention say."""
    if not facility_id:
        return None
    if facility_id in levels:
        return levels[facility_id]
    return next((level for prefix, level in _PREFIXES if facility_id.startswith(prefix)), None)


def direction(
    codings: Iterable[tuple[str, str]], requester: str | None, target: str | None, levels: Mapping[str, str]
) -> str:
    """up (towards the county hospital), down, or unknown. An explicit category coding wins."""
    for system, code in codings:
        if system == DIRECTION_SYSTEM and code in ("up", "down"):
            return code
    source, destination = facility_level(requester, levels), facility_level(target, levels)
    if source is None or destination is None or source == destination:
        return "unknown"
    return "up" if LEVELS.index(destination) > LEVELS.index(source) else "down"


def answers(
    earlier_direction: str, earlier_target: str | None, later_direction: str, later_requester: str
) -> bool:
    """Whether a referral based on an earlier one sends the patient back (the opposite way)."""
    if {earlier_direction, later_direction} == {"up", "down"}:
        return True
    # Without known directions, coming from where the patient was sent is the return.
    unknown = "unknown" in (earlier_direction, later_direction)
    return unknown and earlier_target is not None and later_requester == earlier_target


@dataclass(frozen=True)
class Loop:
    state: str = "requested"
    accepted_at: datetime | None = None
    arrived_at: datetime | None = None
    returned_at: datetime | None = None
    closed_reason: str | None = None
    arrival_encounter_id: str | None = None


@dataclass(frozen=True)
class Step:
    """Something that happened to a referral, told by a ServiceRequest, Task or Encounter."""

    kind: StepKind
    status: str
    at: datetime
    ref: str | None = None  # the Task, Encounter or answering ServiceRequest id
    facility_id: str | None = None  # where an Encounter took place


def implied_state(step: Step, target: str | None, requester: str | None) -> tuple[str, str | None] | None:
    """The state a step moves a loop to, with the reason for closing states; None: no move."""
    match step.kind:
        case "request" if step.status == "completed":
            return "returned", "request completed"
        case "request" if step.status in _REQUEST_CANCELS:
            return "cancelled", f"request {step.status}"
        case "task" if step.status in _TASK_ACCEPTS:
            return "accepted", None
        case "task" if step.status in _TASK_REJECTS:
            return "rejected", f"task {step.status}"
        case "encounter" if step.status not in _NOT_AN_ARRIVAL:
            # The patient arrived where they were sent (or, with no target named, somewhere else).
            there = step.facility_id == target if target else step.facility_id != requester
            return ("arrived", None) if there else None
        case "answer":
            return "returned", f"returned by ServiceRequest/{step.ref}"
    return None


def _earliest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at < current else current


def _remember(loop: Loop, state: str, step: Step) -> Loop:
    """Records when a milestone happened, whether or not the loop has passed it already."""
    if state == "accepted":
        return replace(loop, accepted_at=_earliest(loop.accepted_at, step.at))
    if state == "arrived":
        first = loop.arrived_at is None or step.at < loop.arrived_at
        encounter = step.ref if first else loop.arrival_encounter_id
        return replace(loop, arrived_at=_earliest(loop.arrived_at, step.at), arrival_encounter_id=encounter)
    if state == "returned":
        return replace(loop, returned_at=_earliest(loop.returned_at, step.at))
    return loop


def advance(loop: Loop, step: Step, target: str | None, requester: str | None) -> Loop:
    """The loop after one step. Forward only: a closed loop keeps its state, an open one never goes back."""
    implied = implied_state(step, target, requester)
    if implied is None:
        return loop
    state, reason = implied
    loop = _remember(loop, state, step)
    if loop.state in CLOSED_STATES or _RANK[state] <= _RANK[loop.state]:
        return loop
    return replace(loop, state=state, closed_reason=reason)


# Reading FHIR ------------------------------------------------------------------------------------


def reference_id(reference: Any, resource_type: str) -> str | None:
    """`{"reference": "ServiceRequest/sr1"}` -> "sr1" when it points at that type."""
    text = reference.get("reference") if isinstance(reference, dict) else None
    if not isinstance(text, str):
        return None
    kind, _, rid = text.split("/_history/")[0].rpartition("/")
    return rid if rid and kind.rsplit("/", 1)[-1] == resource_type else None


def based_on_requests(resource: dict[str, Any]) -> list[str]:
    """Ids of the ServiceRequests in `basedOn`, in order, without repeats."""
    found = [reference_id(r, "ServiceRequest") for r in resource.get("basedOn") or []]
    return list(dict.fromkeys(rid for rid in found if rid))


@dataclass(frozen=True)
class Request:
    """What a referral ServiceRequest says, reduced to what the loop needs: ids, no names."""

    id: str
    status: str
    patient_id: str | None
    target: str | None
    direction: str
    requested_at: datetime
    reason_code: str | None
    reason_text: str | None
    based_on: str | None


def read_request(
    resource: dict[str, Any], requester: str, occurred_at: datetime, levels: Mapping[str, str]
) -> Request:
    targets = [reference_id(p, "Organization") for p in resource.get("performer") or []]
    target = next((t for t in targets if t), None)
    category = [
        (str(coding.get("system", "")), str(coding.get("code", "")))
        for concept in resource.get("category") or []
        if isinstance(concept, dict)
        for coding in concept.get("coding") or []
        if isinstance(coding, dict)
    ]
    reason = next((r for r in resource.get("reasonCode") or [] if isinstance(r, dict)), {})
    coding = next((c for c in reason.get("coding") or [] if isinstance(c, dict)), {})
    code = f"{coding.get('system', '')}|{coding['code']}" if coding.get("code") else None
    text = reason.get("text") or coding.get("display")
    earlier = based_on_requests(resource)
    return Request(
        id=str(resource["id"]),
        status=str(resource.get("status", "unknown")),
        patient_id=reference_id(resource.get("subject"), "Patient"),
        target=target,
        direction=direction(category, requester, target, levels),
        requested_at=first_datetime(resource, ("authoredOn",)) or occurred_at,
        reason_code=code[:200] if code else None,
        reason_text=str(text)[:500] if text else None,
        based_on=earlier[0] if earlier else None,
    )
