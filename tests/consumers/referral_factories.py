"""Builders of referral, Task and arrival events, as a member or the county hospital would send them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.core.consumer import Delivery
from hub.core.events import Event, Source, deterministic_event_id

REFERRAL = {"system": "http://snomed.info/sct", "code": "3457005", "display": "Patient referral"}
AT = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def _event(
    event_type: str, facility: str, local_id: str, natural: str, version: int, resource: dict
) -> Event:
    return Event(
        event_id=deterministic_event_id(facility, "test", natural, str(version)),
        event_type=event_type,
        source=Source(facility, "test", f"{natural}@{version}"),
        occurred_at=AT,
        recorded_at=AT,
        patient_key=f"{facility}/{local_id}",
        resource=resource,
    )


def referral_event(
    sr_id: str,
    facility: str = "th01",
    target: str | None = "cty01",
    status: str = "active",
    authored: str | None = "2026-11-20T09:00:00+08:00",
    based_on: str | None = None,
    direction: str | None = None,
    local_id: str = "1",
    version: int = 0,
) -> Event:
    category: list[dict[str, Any]] = [{"coding": [REFERRAL]}]
    if direction:
        category.append({"coding": [{"system": "urn:hub:referral-direction", "code": direction}]})
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": sr_id,
        "status": status,
        "intent": "order",
        "category": category,
        "code": {"text": "转诊"},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
        "reasonCode": [
            {
                "coding": [
                    {"system": "http://hl7.org/fhir/sid/icd-10", "code": "I21.9", "display": "急性心肌梗死"}
                ],
                "text": "胸痛待查",
            }
        ],
    }
    if authored:
        resource["authoredOn"] = authored
    if target:
        resource["performer"] = [{"reference": f"Organization/{target}"}]
    if based_on:
        resource["basedOn"] = [{"reference": f"ServiceRequest/{based_on}"}]
    return _event("referral", facility, local_id, f"sr:{sr_id}", version, resource)


def task_event(
    sr_id: str, status: str, facility: str = "cty01", when: str = "2026-11-20T10:00:00+08:00"
) -> Event:
    resource = {
        "resourceType": "Task",
        "id": f"task-{sr_id}",
        "status": status,
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/{sr_id}"},
        "for": {"reference": "Patient/th01-pat-1"},
        "authoredOn": when,
        "lastModified": when,
    }
    return _event("referral", facility, "th01-pat-1", f"task:{sr_id}:{status}", 0, resource)


def arrival_event(
    sr_id: str | None,
    facility: str = "cty01",
    status: str = "in-progress",
    start: str = "2026-11-20T14:00:00+08:00",
    encounter_id: str | None = None,
) -> Event:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": encounter_id or f"{facility}-enc-{sr_id}",
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": f"Patient/{facility}-pat-A77"},
        "period": {"start": start},
    }
    if sr_id:
        resource["basedOn"] = [{"reference": f"ServiceRequest/{sr_id}"}]
    return _event("encounter", facility, "A77", f"enc:{resource['id']}:{status}", 0, resource)


def deliveries(events: list[Event]) -> list[Delivery]:
    return [Delivery(f"hub.{e.event_type}.v1", 0, i, None, None, (), 0, e) for i, e in enumerate(events)]
