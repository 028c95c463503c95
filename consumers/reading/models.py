"""Tables of the reading centres: orders and arrivals as seen, the keys that match them, the work
items (one per study to read), their history, and reports with every signed version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db.models import Base
from hub.core.db.types import UTCDateTime
from hub.core.events import utcnow


class ReadingOrder(Base):
    """A member's order for a read (ServiceRequest), as last seen."""

    __tablename__ = "reading_order"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the ServiceRequest id
    facility_id: Mapped[str] = mapped_column(String(32))
    patient_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32))
    resource: Mapped[str] = mapped_column(Text)  # the ServiceRequest as JSON
    item_id: Mapped[str | None] = mapped_column(String(64), index=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReadingArrival(Base):
    """A study (images, a waveform, slides) that arrived; `item_id` is empty while it has no order."""

    __tablename__ = "reading_arrival"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the ImagingStudy id
    facility_id: Mapped[str] = mapped_column(String(32), index=True)
    patient_key: Mapped[str] = mapped_column(String(100))
    patient_id: Mapped[str | None] = mapped_column(String(64))
    centre: Mapped[str] = mapped_column(String(16))
    modality: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8))
    study_uid: Mapped[str | None] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(String(500))
    waveform: Mapped[str | None] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(64))  # the request the connector made for it
    resource: Mapped[str] = mapped_column(Text)  # the ImagingStudy as JSON
    item_id: Mapped[str | None] = mapped_column(String(64), index=True)
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_by: Mapped[str | None] = mapped_column(String(100))  # the lead who made it an item unordered


class ReadingKey(Base):
    """A matching key (member + accession/order number, order id or study UID) of an order or arrival."""

    __tablename__ = "reading_key"
    __table_args__ = (Index("ix_reading_key_ref", "kind", "ref"),)  # an order's or arrival's own keys

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # order, arrival
    ref: Mapped[str] = mapped_column(String(64), primary_key=True)


class ReadingItem(Base):
    """One study to read at one centre: the FHIR Task of the worklist."""

    __tablename__ = "reading_item"
    __table_args__ = (
        Index("ix_reading_item_queue", "centre", "state", "due_at"),
        Index("ix_reading_item_patient", "patient_key"),
        Index("ix_reading_item_state", "state", "due_at"),  # the sweep and the figures: open items only
        Index("ix_reading_item_done", "done_at"),  # turnaround of recent reports
        Index("ix_reading_item_breached", "breached_at"),  # breaches of recent days
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    centre: Mapped[str] = mapped_column(String(16))  # ecg, imaging, pathology
    modality: Mapped[str] = mapped_column(String(16))
    # waiting (ordered, nothing arrived), ready, claimed, done, cancelled
    state: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(8), default="first")  # first, second (a second reading)
    priority: Mapped[str] = mapped_column(String(8))
    facility_id: Mapped[str] = mapped_column(String(32), index=True)  # the ordering member
    patient_key: Mapped[str] = mapped_column(String(100))
    patient_id: Mapped[str | None] = mapped_column(String(64))  # the member's Patient
    order_id: Mapped[str | None] = mapped_column(String(64))
    order_text: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))
    study_id: Mapped[str | None] = mapped_column(String(64))
    study_uid: Mapped[str | None] = mapped_column(String(128))
    waveform: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    at_risk_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when it counts as at risk
    duty_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when a breach goes to the duty expert
    flagged_at_risk: Mapped[datetime | None] = mapped_column(UTCDateTime())
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalation: Mapped[int] = mapped_column(Integer, default=0)  # 0 none, 1 backup readers, 2 duty expert
    escalated_to: Mapped[str | None] = mapped_column(String(500))  # names, comma-separated
    holder: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_reader: Mapped[str | None] = mapped_column(String(100))
    second_reading: Mapped[bool] = mapped_column(Boolean, default=False)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    report_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReadingItemLog(Base):
    """What happened to an item and who did it: claimed, renewed lapses, reassignments, escalations."""

    __tablename__ = "reading_item_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReadingReport(Base):
    """A report on an item: its draft being typed, and its state (draft, preliminary, final, amended)."""

    __tablename__ = "reading_report"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the DiagnosticReport id
    item_id: Mapped[str] = mapped_column(String(64), unique=True)
    centre: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # draft, preliminary, final, amended
    version: Mapped[int] = mapped_column(Integer, default=0)  # the last signed version (0: none yet)
    draft: Mapped[str | None] = mapped_column(Text)  # the structured content being typed (JSON)
    drafted_by: Mapped[str | None] = mapped_column(String(100))
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    signed_by: Mapped[str | None] = mapped_column(String(100))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReadingReportVersion(Base):
    """Every signed version of a report, kept: what was signed, by whom, and what was published."""

    __tablename__ = "reading_report_version"

    report_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # preliminary, final, amended
    content: Mapped[str] = mapped_column(Text)  # the structured content (JSON)
    resource: Mapped[str | None] = mapped_column(Text)  # the DiagnosticReport published (JSON), if any
    observations: Mapped[str | None] = mapped_column(Text)  # its Observations (JSON list)
    signed_by: Mapped[str] = mapped_column(String(100))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(500))  # why it was amended
    event_id: Mapped[str | None] = mapped_column(String(80))
