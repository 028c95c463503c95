"""Prescriptions, dispenses, allergies and renal labs as the hub's topics carry them, and a bound pharmacy consumer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from consumers.pharmacy.consumer import PharmacyConsumer
from hub.app import parts as registered
from hub.core.config import HubSettings
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.events import Event, Source, deterministic_event_id
from hub.core.parts import PartContext
from hub.core.results import ResultOutbox
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.terminology import ATC, COMMUNITY_DRUG
from tests.factories import BASE_TIME, patient_event

METFORMIN, ASPIRIN, IBUPROFEN, CLOPIDOGREL, WARFARIN = "D0011", "D0015", "D0021", "D0018", "D0126"
OMEPRAZOLE, PANTOPRAZOLE = "D0019", "D0191"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=BASE_TIME.tzinfo)


def coded(code: str, display: str = "") -> dict[str, Any]:
    return {"system": COMMUNITY_DRUG, "code": code, **({"display": display} if display else {})}


def local(facility: str, code: str, display: str) -> dict[str, Any]:
    return {"system": f"urn:hub:code:local-drug:{facility}", "code": code, "display": display}


def prescription(n: str, coding: dict[str, Any], facility: str = "th01", local_id: str = "1", dose: float = 0.5,
                 unit: str = "g", per_day: int = 2, status: str = "active", version: int = 0) -> Event:
    resource = {
        "resourceType": "MedicationRequest", "id": f"{facility}-rx-{n}", "status": status, "intent": "order",
        "medicationCodeableConcept": {"coding": [coding], "text": coding.get("display")},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"}, "authoredOn": "2026-11-23T09:00:00+08:00",
        "dosageInstruction": [{"text": f"{dose:g}{unit} {per_day}次/日",
                               "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
                               "doseAndRate": [{"doseQuantity": {"value": dose, "unit": unit}}]}],
    }
    return Event(deterministic_event_id(facility, "test", f"rx:{n}", str(version)), "prescription",
                 Source(facility, "test", f"rx:{n}"), BASE_TIME, BASE_TIME, f"{facility}/{local_id}", resource)


def allergy(n: str, atc: str, text: str, facility: str = "th01", local_id: str = "1") -> Event:
    resource = {
        "resourceType": "AllergyIntolerance", "id": f"{facility}-alg-{n}", "criticality": "high",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                       "code": "active"}]},
        "code": {"coding": [{"system": ATC, "code": atc, "display": text}], "text": text},
        "patient": {"reference": f"Patient/{facility}-pat-{local_id}"}, "recordedDate": "2025-01-01",
    }
    return Event(deterministic_event_id(facility, "test", f"alg:{n}", "0"), "allergy", Source(facility, "test", n),
                 BASE_TIME, BASE_TIME, f"{facility}/{local_id}", resource)


def egfr(n: str, value: float, facility: str = "cty01", local_id: str = "A77", when: str = "2026-11-22T08:00:00+08:00") -> Event:
    observation = {
        "resourceType": "Observation", "id": f"{facility}-obs-{n}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "62238-1", "display": "eGFR"}]},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"}, "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "mL/min/1.73m2"},
    }
    report = {"resourceType": "DiagnosticReport", "id": f"{facility}-dr-{n}", "status": "final",
              "code": {"text": "肾功能"}, "subject": observation["subject"],
              "result": [{"reference": f"Observation/{observation['id']}"}]}
    return Event(deterministic_event_id(facility, "test", f"dr:{n}", "0"), "lab_result", Source(facility, "test", n),
                 BASE_TIME, BASE_TIME, f"{facility}/{local_id}", report, (observation,))


def dispense(n: str, coding: dict[str, Any], facility: str = "cty01", local_id: str = "A77") -> Event:
    resource = {
        "resourceType": "MedicationDispense", "id": f"{facility}-disp-{n}", "status": "completed",
        "medicationCodeableConcept": {"coding": [coding]}, "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
        "whenHandedOver": "2026-11-20T09:00:00+08:00", "quantity": {"value": 30, "unit": "片"},
    }
    return Event(deterministic_event_id(facility, "test", f"disp:{n}", "0"), "dispense", Source(facility, "test", n),
                 BASE_TIME, BASE_TIME, f"{facility}/{local_id}", resource)


def results_outbox(settings: HubSettings, db: Database) -> ResultOutbox:
    return ResultOutbox(db, EventCodec(FileSchemaRegistry(), settings.topic_prefix), settings)


def bound_consumer(settings: HubSettings, db: Database, clock: Callable[[], datetime] = lambda: NOW,
                   people: bool = True) -> PharmacyConsumer:
    """The pharmacy consumer bound to the test's database; with `people`, it has had the patient
    events of the two records the `community` fixture holds (王秀英, born 1990, at th01 and cty01)."""
    consumer = PharmacyConsumer(settings, clock=clock)
    consumer.bind(PartContext(settings, db, registered.services(), results_outbox(settings, db)))
    if people:
        apply(consumer, db, patient_event("th01", "1", name="王秀英", resident_id="110101199003074573"),
              patient_event("cty01", "A77", name="王秀英", resident_id="110101199003074573"))
    return consumer


def apply(consumer: PharmacyConsumer, db: Database, *events: Event) -> None:
    """Applies events as the consumer framework would (one transaction), without the broker."""
    with db.transaction() as session:
        consumer.apply_batch(session, [Delivery("t", 0, i, None, None, (), 0, e) for i, e in enumerate(events)])


def later(seconds: float) -> Callable[[], datetime]:
    return lambda: NOW + timedelta(seconds=seconds)
