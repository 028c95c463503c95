"""The facts the indicators count, kept from the events (visits, lab results, prescription lines), and the
imported medical-insurance settlements of residents' visits outside the county. Patients appear by id only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db.models import Base
from hub.core.db.types import UTCDateTime
from hub.core.events import utcnow


class IndicatorVisit(Base):
    """One visit (Encounter) at a member: where, at which level, when, and its diagnoses."""

    __tablename__ = "indicator_visit"
    __table_args__ = (Index("ix_indicator_visit_month", "month", "facility_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the Encounter id
    facility_id: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(8))  # county, township, village, unknown
    patient_key: Mapped[str] = mapped_column(String(100), index=True)
    patient_id: Mapped[str | None] = mapped_column(String(64))
    visit_class: Mapped[str] = mapped_column(String(8))  # AMB, IMP, EMER, ...
    status: Mapped[str] = mapped_column(String(24))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM, China calendar
    diagnoses: Mapped[str] = mapped_column(String(300))  # ICD-10 codes, space-separated
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IndicatorResult(Base):
    """One lab result (an Observation, alone or in a report): what was tested, where, for whom, when."""

    __tablename__ = "indicator_result"
    __table_args__ = (Index("ix_indicator_result_patient", "patient_key", "effective_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the Observation id
    facility_id: Mapped[str] = mapped_column(String(32))
    patient_key: Mapped[str] = mapped_column(String(100))
    patient_id: Mapped[str | None] = mapped_column(String(64))
    codes: Mapped[str] = mapped_column(String(500))  # "system|code" of each coding, space-separated
    display: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(24))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    month: Mapped[str] = mapped_column(String(7), index=True)


class IndicatorPrescription(Base):
    """One prescription line (MedicationRequest) and whether its drug is a 集采 product."""

    __tablename__ = "indicator_prescription"
    __table_args__ = (Index("ix_indicator_prescription_month", "month", "facility_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the MedicationRequest id
    facility_id: Mapped[str] = mapped_column(String(32))
    patient_key: Mapped[str] = mapped_column(String(100))
    patient_id: Mapped[str | None] = mapped_column(String(64))
    drug_code: Mapped[str | None] = mapped_column(String(32))  # the community catalogue's code, when known
    name: Mapped[str] = mapped_column(String(200))
    vbp: Mapped[str | None] = mapped_column(String(32))  # the 集采 batch, e.g. 第二批
    status: Mapped[str] = mapped_column(String(24))
    authored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    month: Mapped[str] = mapped_column(String(7))


class InsuranceMonth(Base):
    """A month of medical-insurance settlement data imported: only such months have a 县域内就诊率."""

    __tablename__ = "indicator_insurance_month"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    source: Mapped[str] = mapped_column(String(300))  # the file name as uploaded
    rows: Mapped[int] = mapped_column(Integer)
    imported_by: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InsuranceVisit(Base):
    """One settled visit of a county resident at a hospital outside the county (异地就医结算)."""

    __tablename__ = "indicator_insurance_visit"

    settlement_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    settled_on: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD
    visit_type: Mapped[str] = mapped_column(String(16))  # outpatient, inpatient
    hospital: Mapped[str] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))
    insured_id: Mapped[str | None] = mapped_column(String(64))  # masked for roles that may not see it
    diagnosis: Mapped[str | None] = mapped_column(String(200))
