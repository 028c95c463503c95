"""Tables of the central pharmacy. Patients appear by their member's Patient id and key; the person
behind them is found through the shared record's patient index when it is needed, so a link made
later (or undone) by the index is honoured without rewriting these rows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db.models import Base
from hub.core.db.types import UTCDateTime
from hub.core.events import utcnow


class PharmacyMedication(Base):
    """A prescription line (MedicationRequest) or a dispense (MedicationDispense) from any member."""

    __tablename__ = "pharmacy_medication"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # "MedicationRequest/<id>" or "MedicationDispense/<id>"
    kind: Mapped[str] = mapped_column(String(16))  # request | dispense
    facility_id: Mapped[str] = mapped_column(String(32))
    patient_key: Mapped[str] = mapped_column(String(100), index=True)
    patient_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))  # the FHIR status: active | completed | stopped | ...
    name: Mapped[str] = mapped_column(String(200))
    drug_code: Mapped[str | None] = mapped_column(String(32))  # the community catalogue's code, once recognised
    atc: Mapped[str | None] = mapped_column(String(16))
    local_system: Mapped[str | None] = mapped_column(String(120))  # an unmapped member code: its system and code
    local_code: Mapped[str | None] = mapped_column(String(64))
    dose_text: Mapped[str | None] = mapped_column(String(200))
    authored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resource: Mapped[str] = mapped_column(Text)  # the FHIR resource as received (JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


Index("pharmacy_medication_local", PharmacyMedication.local_system, PharmacyMedication.local_code)


class PharmacyAllergy(Base):
    __tablename__ = "pharmacy_allergy"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the AllergyIntolerance id
    facility_id: Mapped[str] = mapped_column(String(32))
    patient_key: Mapped[str] = mapped_column(String(100), index=True)
    patient_id: Mapped[str | None] = mapped_column(String(64))
    substance: Mapped[str] = mapped_column(String(200))
    atc: Mapped[str | None] = mapped_column(String(16))
    criticality: Mapped[str | None] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(24))  # clinicalStatus: active | inactive | resolved
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resource: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PharmacyLab(Base):
    """An eGFR or creatinine value (the renal rules' input), from any member."""

    __tablename__ = "pharmacy_lab"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the Observation id
    facility_id: Mapped[str] = mapped_column(String(32))
    patient_key: Mapped[str] = mapped_column(String(100), index=True)
    analyte: Mapped[str] = mapped_column(String(16))  # egfr | creatinine
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PharmacyPatient(Base):
    """What the rules need of a member's patient record: birth date, sex, weight and pregnancy when carried."""

    __tablename__ = "pharmacy_patient"

    patient_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    patient_id: Mapped[str | None] = mapped_column(String(64))
    birth_date: Mapped[str | None] = mapped_column(String(10))
    sex: Mapped[str | None] = mapped_column(String(16))
    weight_kg: Mapped[float | None] = mapped_column(Float)
    pregnant: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PharmacyReview(Base):
    """The review of one prescription line: its outcome, findings, clock and the pharmacist's decision.
    Also the FHIR Task (id = this id) on the pharmacists' queue while it is held."""

    __tablename__ = "pharmacy_review"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    prescription: Mapped[str] = mapped_column(String(100), unique=True)  # "MedicationRequest/<id>"
    facility_id: Mapped[str] = mapped_column(String(32), index=True)  # the prescribing member
    patient_key: Mapped[str] = mapped_column(String(100))
    patient_id: Mapped[str | None] = mapped_column(String(64))
    community_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(8))  # pass | warn | hold
    status: Mapped[str] = mapped_column(String(16))  # ready (on the queue) | completed
    decision: Mapped[str | None] = mapped_column(String(16))  # approve | return | override
    reason_code: Mapped[str | None] = mapped_column(String(32))
    reason_text: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    findings: Mapped[str] = mapped_column(Text)  # JSON list of the engine's findings
    rules_version: Mapped[str] = mapped_column(String(64))
    waits_for_mapping: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)  # of the Task: each new outcome or decision +1
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


Index("pharmacy_review_queue", PharmacyReview.status, PharmacyReview.due_at)


class PharmacyLocalCode(Base):
    """A member's local drug code nobody has mapped yet (or the mapping a pharmacist gave it)."""

    __tablename__ = "pharmacy_local_code"
    __table_args__ = (UniqueConstraint("system", "code", name="pharmacy_local_code_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    facility_id: Mapped[str] = mapped_column(String(32), index=True)
    system: Mapped[str] = mapped_column(String(120))
    code: Mapped[str] = mapped_column(String(64))
    display: Mapped[str | None] = mapped_column(String(200))
    seen: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    drug_code: Mapped[str | None] = mapped_column(String(32))  # the catalogue drug, once mapped
    mapped_by: Mapped[str | None] = mapped_column(String(100))
    mapped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PharmacyRuleVersion(Base):
    """A version of the review rules edited by pharmacists (the shipped rules are version 'shipped')."""

    __tablename__ = "pharmacy_rule_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
