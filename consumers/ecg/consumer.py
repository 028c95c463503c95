"""The ECG consumer: every ECG study on `hub.imaging-request.v1` is validated and measured on
arrival; the outcome (measurements as Observations, or the problems) is stored per study.

Measuring takes about a second per ECG, so it is done in `prepare`, before the batch's transaction
opens (SQLite takes its write lock when a transaction begins); `apply_batch` only writes what was
measured (measuring there itself if it was called without `prepare`). A study sent again (a new
event for the same ImagingStudy) replaces its earlier outcome; a redelivered event changes nothing.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from consumers.ecg.analysis import Outcome, analyse
from consumers.ecg.models import EcgObservation, EcgStudy
from consumers.ecg.observations import KINDS, StudyFacts, observations
from hub.core.blobs import BlobStore, FileBlobStore
from hub.core.config import HubSettings
from hub.core.consumer import Consumer, Delivery
from hub.core.events import Event, utcnow
from hub.core.fhir_fields import first_datetime

ECG_LOINC = "11524-6"
# Outcomes kept by blob: what prepare measured is written by apply_batch, and a batch retried one
# event at a time is not measured twice. More than a batch's ECGs (prepare sees the whole batch).
_CACHE = 1024


@dataclass(frozen=True)
class EcgArrival:
    """What the consumer needs of an imaging_request event that carries an ECG."""

    study: dict[str, Any]
    request_id: str | None
    waveform_ref: str | None
    dicom_ref: str | None


def _extension(study: dict[str, Any], url: str) -> str | None:
    for item in study.get("extension") or []:
        if isinstance(item, dict) and item.get("url") == url and isinstance(item.get("valueString"), str):
            return str(item["valueString"])
    return None


def ecg_arrival(event: Event) -> EcgArrival | None:
    """The ECG in an event, or None for images and anything else."""
    resources = [event.resource, *event.related]
    study = next((r for r in resources if r.get("resourceType") == "ImagingStudy"), None)
    request = next((r for r in resources if r.get("resourceType") == "ServiceRequest"), None)
    if study is None or not study.get("id"):
        return None
    modalities = {str(m.get("code")) for m in study.get("modality") or [] if isinstance(m, dict)}
    ordered = {str(c.get("code")) for c in ((request or {}).get("code") or {}).get("coding") or [] if isinstance(c, dict)}
    waveform = _extension(study, "urn:hub:blob:ecg")
    if waveform is None and "ECG" not in modalities and ECG_LOINC not in ordered:
        return None
    return EcgArrival(study, (request or {}).get("id"), waveform, _extension(study, "urn:hub:blob:dicom"))


def _study_uid(study: dict[str, Any]) -> str | None:
    for identifier in study.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == "urn:dicom:uid":
            return str(identifier.get("value", "")).removeprefix("urn:oid:")[:64] or None
    return None


def _patient_id(study: dict[str, Any]) -> str | None:
    reference = str((study.get("subject") or {}).get("reference", ""))
    return reference.removeprefix("Patient/")[:64] if reference.startswith("Patient/") else None


class EcgConsumer(Consumer):
    name = "ecg"
    event_types = ("imaging_request",)
    # Measuring one tracing costs about a second of CPU; a batch of a backlog's worth kept a stopping
    # hub waiting past its shutdown time. A few a batch keep a stop, and other consumers, prompt.
    max_batch = 3

    def __init__(self, settings: HubSettings | None = None, blobs: BlobStore | None = None) -> None:
        super().__init__(settings)
        self.blobs = blobs or FileBlobStore(self.settings.data_dir / "blobs")
        self._outcomes: OrderedDict[tuple[str | None, str | None], Outcome] = OrderedDict()

    def _outcome(self, arrival: EcgArrival) -> Outcome:
        key = (arrival.waveform_ref, arrival.dicom_ref)
        if key in self._outcomes:
            self._outcomes.move_to_end(key)
            return self._outcomes[key]
        outcome = analyse(self.blobs, arrival.waveform_ref, arrival.dicom_ref)
        self._outcomes[key] = outcome
        while len(self._outcomes) > _CACHE:
            self._outcomes.popitem(last=False)
        return outcome

    def prepare(self, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            arrival = ecg_arrival(delivery.event) if delivery.event is not None else None
            if arrival is not None:
                self._outcome(arrival)

    def apply_batch(self, session: Session, deliveries: list[Delivery]) -> None:
        measured = []
        for delivery in deliveries:  # measured in prepare (kept by blob), else now
            event = delivery.event
            arrival = ecg_arrival(event) if event is not None else None
            if event is not None and arrival is not None:
                measured.append((event, arrival, self._outcome(arrival)))
        for event, arrival, outcome in measured:
            self._store(session, event, arrival, outcome)

    def apply(self, session: Session, delivery: Delivery) -> None:
        self.apply_batch(session, [delivery])

    def _store(self, session: Session, event: Event, arrival: EcgArrival, outcome: Outcome) -> None:
        study = arrival.study
        study_id = str(study["id"])[:64]
        started = first_datetime(study, ("started",))
        row = session.get(EcgStudy, study_id)
        if row is None:
            row = EcgStudy(id=study_id)
            session.add(row)
        row.study_uid, row.request_id = _study_uid(study), (arrival.request_id or None)
        row.facility_id, row.patient_key, row.patient_id = event.source.facility_id, event.patient_key, _patient_id(study)
        row.started_at, row.description = started, (str(study.get("description") or "")[:200] or None)
        row.waveform_ref, row.dicom_ref = arrival.waveform_ref, arrival.dicom_ref
        row.status = outcome.status
        row.problems = json.dumps([p.as_json() for p in outcome.problems], ensure_ascii=False)
        row.measurements = json.dumps(outcome.measurements.as_json()) if outcome.measurements else None
        row.device = json.dumps(outcome.device, ensure_ascii=False) if outcome.device else None
        row.sampling_frequency = outcome.sampling_frequency
        row.derived_leads = ",".join(outcome.derived) or None
        row.event_id, row.received_at, row.analysed_at = event.event_id, event.occurred_at, utcnow()
        session.execute(delete(EcgObservation).where(EcgObservation.study_id == study_id))
        if outcome.measurements is None:
            return
        facts = StudyFacts(study_id, dict(study.get("subject") or {}), event.source.facility_id,
                           study.get("started") if isinstance(study.get("started"), str) else None)
        units = {kind.code: kind.unit for kind in KINDS}
        for resource in observations(facts, outcome.measurements):
            code = resource["code"]["coding"][0]["code"]
            session.add(EcgObservation(id=resource["id"], study_id=study_id, code=code,
                                       value=float(resource["valueQuantity"]["value"]), unit=units[code],
                                       content=json.dumps(resource, ensure_ascii=False)))
