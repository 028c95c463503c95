"""Tables of the ECG part: one row per ECG study (its waveform, problems, hub and device
measurements) and one per measurement Observation (FHIR JSON kept whole)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db.models import Base
from hub.core.db.types import UTCDateTime
from hub.core.events import utcnow


class EcgStudy(Base):
    """An ECG study as it arrived and what the hub made of it."""

    __tablename__ = "ecg_study"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the ImagingStudy id
    study_uid: Mapped[str | None] = mapped_column(String(64), index=True)  # DICOM StudyInstanceUID
    request_id: Mapped[str | None] = mapped_column(String(64))  # the ServiceRequest asking for a read
    facility_id: Mapped[str] = mapped_column(String(32), index=True)
    patient_key: Mapped[str] = mapped_column(String(100), index=True)
    patient_id: Mapped[str | None] = mapped_column(String(64), index=True)  # the member's Patient
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)  # when recorded
    description: Mapped[str | None] = mapped_column(String(200))
    waveform_ref: Mapped[str | None] = mapped_column(String(80))  # blob:sha256/... of the leads JSON
    dicom_ref: Mapped[str | None] = mapped_column(String(80))
    # measured: hub measurements stored; invalid: the waveform cannot be measured (see problems);
    # unmeasurable: valid leads but no beat could be measured
    status: Mapped[str] = mapped_column(String(16), index=True)
    problems: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of {code, severity, en, zh}
    measurements: Mapped[str | None] = mapped_column(Text)  # JSON of the hub's measurements
    device: Mapped[str | None] = mapped_column(Text)  # JSON of the cart's own measurements, if it sent any
    sampling_frequency: Mapped[float | None] = mapped_column(Float)
    derived_leads: Mapped[str | None] = mapped_column(String(40))  # "III,aVR,aVL,aVF" for 8-lead carts
    event_id: Mapped[str] = mapped_column(String(80))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the event's occurred time (door)
    analysed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EcgObservation(Base):
    """One automatic measurement as a FHIR Observation (derivedFrom the ImagingStudy)."""

    __tablename__ = "ecg_observation"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    study_id: Mapped[str] = mapped_column(String(64), index=True)
    code: Mapped[str] = mapped_column(String(16))  # LOINC
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(8))
    content: Mapped[str] = mapped_column(Text)
