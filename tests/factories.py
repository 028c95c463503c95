"""Small builders of valid hub events for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hub.core.events import Event, Source, deterministic_event_id
from hub.core.identifiers import RESIDENT_ID, local_mrn_system

BASE_TIME = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


def patient_event(
    facility: str = "th01",
    local_id: str = "1",
    name: str = "张伟",
    resident_id: str | None = "110101199003074573",
    version: int = 0,
    phone: str = "13812345678",
) -> Event:
    identifiers = [{"system": local_mrn_system(facility), "value": local_id}]
    if resident_id:
        identifiers.append({"system": RESIDENT_ID, "value": resident_id})
    resource = {
        "resourceType": "Patient",
        "id": f"{facility}-pat-{local_id}",
        "identifier": identifiers,
        "name": [{"text": name, "family": name[0], "given": [name[1:]]}],
        "gender": "male",
        "birthDate": "1990-03-07",
        "telecom": [{"system": "phone", "value": phone}],
    }
    return _event("patient", facility, local_id, f"pat:{local_id}", version, resource)


def encounter_event(facility: str = "th01", local_id: str = "1", visit: int = 1, version: int = 0) -> Event:
    start = (BASE_TIME + timedelta(days=visit)).isoformat()
    resource = {
        "resourceType": "Encounter",
        "id": f"{facility}-enc-{visit}",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
        "period": {"start": start},
        "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10", "display": "高血压"}]}],
    }
    return _event("encounter", facility, local_id, f"enc:{visit}", version, resource)


def _event(event_type: str, facility: str, local_id: str, natural: str, version: int, resource: dict) -> Event:
    return Event(
        event_id=deterministic_event_id(facility, "test", natural, str(version)),
        event_type=event_type,
        source=Source(facility, "test", f"{natural}@{version}"),
        occurred_at=BASE_TIME + timedelta(seconds=version),
        recorded_at=datetime.now(UTC),
        patient_key=f"{facility}/{local_id}",
        resource=resource,
    )


def random_events(n: int, facility: str = "th01", patients: int = 20) -> list[Event]:
    """n events over `patients` patients: each patient's registration first, then encounters."""
    events = [patient_event(facility, str(p), resident_id=None) for p in range(patients)]
    events += [encounter_event(facility, str(i % patients), visit=i) for i in range(n - len(events))]
    return events[:n]


def unique_facility() -> str:
    return "f" + uuid.uuid4().hex[:6]
