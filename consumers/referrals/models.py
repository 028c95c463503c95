"""Tables of the referral loops: one row per referral, its state history, and steps seen too early."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db.models import Base
from hub.core.db.types import UTCDateTime
from hub.core.events import utcnow


class Referral(Base):
    """One referral (a ServiceRequest) and how far its loop has come. Patients appear by id only."""

    __tablename__ = "referral"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the ServiceRequest id
    patient_key: Mapped[str] = mapped_column(String(100), index=True)  # facility/local-id of the request
    patient_id: Mapped[str | None] = mapped_column(String(64))  # the source Patient in `subject`
    requester_facility: Mapped[str] = mapped_column(String(32), index=True)
    target_facility: Mapped[str | None] = mapped_column(String(32), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # up, down, unknown
    state: Mapped[str] = mapped_column(String(16), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_reason: Mapped[str | None] = mapped_column(String(200))
    reason_code: Mapped[str | None] = mapped_column(String(200))  # system|code
    reason_text: Mapped[str | None] = mapped_column(String(500))
    based_on: Mapped[str | None] = mapped_column(String(64), index=True)  # the referral this one answers
    arrival_encounter_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReferralStateChange(Base):
    """Every state a referral entered, when (clinical time of the step) and which event said so."""

    __tablename__ = "referral_state_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[str] = mapped_column(String(80))


class PendingReferralStep(Base):
    """A Task or Encounter about a referral whose ServiceRequest has not arrived yet."""

    __tablename__ = "referral_pending_step"

    referral_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # task, encounter
    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    ref: Mapped[str | None] = mapped_column(String(64))
    facility_id: Mapped[str | None] = mapped_column(String(32))
