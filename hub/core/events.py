"""The event envelope every topic carries: who said what, about which patient, from where."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Source:
    """Where an event came from. `position` lets a connector resume after the last emitted item."""

    facility_id: str
    system: str  # e.g. "his_db:vendor_a", "mllp", "fhir-rest", "dicom"
    position: str


@dataclass(frozen=True)
class Event:
    event_id: str
    event_type: str
    source: Source
    occurred_at: datetime  # when it happened in the member system
    recorded_at: datetime  # when the hub accepted it
    patient_key: str  # "facility/local-patient-id": the Kafka key
    resource: dict[str, Any]  # a FHIR R4 resource as JSON
    related: tuple[dict[str, Any], ...] = field(default=())  # e.g. a report's Observations
    flags: tuple[str, ...] = field(default=())  # data-quality notes, e.g. "resident-id-check-digit"

    @property
    def resource_type(self) -> str:
        return str(self.resource.get("resourceType", ""))


def deterministic_event_id(facility_id: str, system: str, natural_key: str, version: str) -> str:
    """The same change read twice gets the same id, so a re-read is a recognisable duplicate."""
    digest = hashlib.sha256(f"{facility_id}|{system}|{natural_key}|{version}".encode()).hexdigest()
    return str(uuid.UUID(digest[:32]))


@dataclass(frozen=True)
class Rejected:
    """An input the connector could not turn into a valid event. It goes to the dead letters."""

    reason: str
    stage: str  # "parse", "map", "validate", "encode"
    payload: str  # the input as received (row as JSON, raw message, ...)
    position: str  # where in the source it was
    patient_key: str | None = None
    fingerprint: str | None = None  # stable id of this input, so a re-read is not dead-lettered twice


@dataclass(frozen=True)
class PollResult:
    events: list[Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    checkpoints: dict[str, str] = field(default_factory=dict)  # saved with the events, after the last one
    notes: list[str] = field(default_factory=list)  # problems worth reporting that are not rejections

    @property
    def empty(self) -> bool:
        return not (self.events or self.rejected)
