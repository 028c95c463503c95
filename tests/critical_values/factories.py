"""Lab results and readers' reports as the hub's topics carry them, and a bound critical-value consumer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from consumers.critical_values.consumer import CriticalValuesConsumer
from hub.app import parts as registered
from hub.core.config import HubSettings
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.events import Event, Source, deterministic_event_id
from hub.core.parts import PartContext
from hub.core.results import ResultOutbox
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from tests.factories import BASE_TIME

LOINC = "http://loinc.org"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def observation(facility: str, local_id: str, n: str, code: tuple[str, str, str], value: float | None, unit: str,
                low: float | None = None, high: float | None = None, flag: str | None = None) -> dict[str, Any]:
    system, code_value, display = code
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": f"{facility}-obs-{n}", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": system, "code": code_value, "display": display}]},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
        "effectiveDateTime": "2026-11-23T09:00:00+08:00",
    }
    if value is not None:
        resource["valueQuantity"] = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
    if low is not None or high is not None:
        resource["referenceRange"] = [{"low": {"value": low, "unit": unit}, "high": {"value": high, "unit": unit}}]
    if flag:
        resource["interpretation"] = [{"coding": [{"system": V3, "code": flag}]}]
    return resource


def potassium(value: float, facility: str = "th01", local_id: str = "1", n: str = "k1", flag: str | None = None,
              unit: str = "mmol/L") -> dict[str, Any]:
    return observation(facility, local_id, n, (LOINC, "2823-3", "钾"), value, unit, 3.5, 5.5, flag)


def sodium(value: float, facility: str = "th01", local_id: str = "1", n: str = "na1") -> dict[str, Any]:
    return observation(facility, local_id, n, (LOINC, "2951-2", "钠"), value, "mmol/L", 137, 147)


def lab_event(observations: list[dict[str, Any]], facility: str = "th01", local_id: str = "1", report: str = "1",
              version: int = 0, status: str = "final") -> Event:
    resource = {
        "resourceType": "DiagnosticReport", "id": f"{facility}-dr-{report}", "status": status,
        "code": {"coding": [{"system": LOINC, "code": "24326-1", "display": "电解质"}]},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
        "effectiveDateTime": "2026-11-23T09:00:00+08:00",
        "result": [{"reference": f"Observation/{o['id']}"} for o in observations],
    }
    return Event(deterministic_event_id(facility, "test", f"dr:{report}", str(version)), "lab_result",
                 Source(facility, "test", f"dr:{report}@{version}"), BASE_TIME + timedelta(seconds=version),
                 BASE_TIME, f"{facility}/{local_id}", resource, tuple(observations))


def reader_report(facility: str = "th01", local_id: str = "1", report: str = "r1", flag: str | None = "HH",
                  critical_extension: bool = False, version: int = 1) -> Event:
    """A reader's ECG report as the reading part writes it: the QTc Observation interpreted HH."""
    qtc = observation(facility, local_id, f"{report}-qtc", (LOINC, "8636-3", "QTc"), 612, "ms", flag=flag)
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport", "id": f"rd-{report}", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "11524-6", "display": "EKG study"}], "text": "十二导联心电图"},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
        "conclusion": "QTc 显著延长（612 ms），尖端扭转型室速风险",
        "result": [{"reference": f"Observation/{qtc['id']}"}],
    }
    if critical_extension:
        resource["extension"] = [{"url": "urn:hub:critical", "valueBoolean": True}]
    return Event(deterministic_event_id(facility, "reading", f"report:{report}", str(version)), "diagnostic_report",
                 Source(facility, "reading", f"{report}/{version}"), BASE_TIME, BASE_TIME, f"{facility}/{local_id}",
                 resource, (qtc,))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def results_outbox(settings: HubSettings, db: Database) -> ResultOutbox:
    return ResultOutbox(db, EventCodec(FileSchemaRegistry(), settings.topic_prefix), settings)


def bound_consumer(settings: HubSettings, db: Database, clock: Callable[[], datetime]) -> CriticalValuesConsumer:
    consumer = CriticalValuesConsumer(settings, clock=clock)
    consumer.bind(PartContext(settings, db, registered.services(), results_outbox(settings, db)))
    return consumer


def apply(consumer: CriticalValuesConsumer, db: Database, *events: Event) -> None:
    """Applies events as the consumer framework would (one transaction), without the broker."""
    with db.transaction() as session:
        consumer.apply_batch(session, [Delivery("t", 0, i, None, None, (), 0, e) for i, e in enumerate(events)])
