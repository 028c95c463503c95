"""Tables of the image archive: studies, their series and instances, each instance with its file's blob.

Patients appear as the member sent them (the DICOM PatientID and the source Patient id the connector
gave); the community patient is looked up when asked (links change as the patient index learns).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db.models import Base
from hub.core.db.types import UTCDateTime
from hub.core.events import utcnow


class ImageStudy(Base):
    """One DICOM study as the member's files describe it (the newest file wins for study attributes)."""

    __tablename__ = "image_study"

    study_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    facility_id: Mapped[str] = mapped_column(String(32), index=True)  # the member that sent it
    patient_id: Mapped[str] = mapped_column(String(64), index=True)  # the source Patient (th01-pat-...)
    patient_key: Mapped[str] = mapped_column(String(100), index=True)  # facility/local id
    dicom_patient_id: Mapped[str] = mapped_column(String(64), index=True)  # PatientID (0010,0020)
    patient_name: Mapped[str | None] = mapped_column(String(200))  # PatientName as sent, for matching
    study_date: Mapped[str | None] = mapped_column(String(8), index=True)  # YYYYMMDD
    study_time: Mapped[str | None] = mapped_column(String(16))
    accession_number: Mapped[str | None] = mapped_column(String(64), index=True)
    description: Mapped[str | None] = mapped_column(String(200))
    imaging_study_id: Mapped[str | None] = mapped_column(String(64))  # the FHIR ImagingStudy
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ImageSeries(Base):
    __tablename__ = "image_series"

    series_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    study_uid: Mapped[str] = mapped_column(String(64), index=True)
    modality: Mapped[str] = mapped_column(String(16), index=True)
    series_number: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(String(200))


class ImageInstance(Base):
    """One SOP instance: where its file is (blob and SHA-256) and what a viewer needs to draw it."""

    __tablename__ = "image_instance"

    sop_uid: Mapped[str] = mapped_column(String(64), primary_key=True)
    series_uid: Mapped[str] = mapped_column(String(64), index=True)
    study_uid: Mapped[str] = mapped_column(String(64), index=True)
    sop_class_uid: Mapped[str] = mapped_column(String(64))
    instance_number: Mapped[int | None] = mapped_column(Integer)
    transfer_syntax: Mapped[str] = mapped_column(String(64))
    frames: Mapped[int] = mapped_column(Integer)  # 0: no pixel data (an ECG, a report)
    rows: Mapped[int | None] = mapped_column(Integer)
    columns: Mapped[int | None] = mapped_column(Integer)
    photometric: Mapped[str | None] = mapped_column(String(16))
    row_spacing_mm: Mapped[float | None] = mapped_column(Float)  # PixelSpacing[0]: between rows
    column_spacing_mm: Mapped[float | None] = mapped_column(Float)  # PixelSpacing[1]: between columns
    window_center: Mapped[float | None] = mapped_column(Float)  # the file's first default
    window_width: Mapped[float | None] = mapped_column(Float)
    blob_sha256: Mapped[str] = mapped_column(String(64), index=True)
    blob_size: Mapped[int] = mapped_column(Integer)
    dicom_json: Mapped[str] = mapped_column(Text)  # the header as DICOM JSON, bulk data left out
    event_id: Mapped[str] = mapped_column(String(80))
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
