"""Tables of critical-value notices: one row per notice (its clock, escalation and acknowledgement) and the
values the rules could not check. Patients appear by their member's Patient id and key only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db.models import Base
from hub.core.db.types import UTCDateTime
from hub.core.events import utcnow


class CriticalNotice(Base):
    """A critical value a member must acknowledge: one per report (or lone Observation) of a member. A
    later version of the same result with the same critical values changes nothing; changed values
    raise it again (a new version of its Communication)."""

    __tablename__ = "critical_notice"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # also the Communication's id
    facility_id: Mapped[str] = mapped_column(String(32), index=True)  # the member that must acknowledge
    patient_key: Mapped[str] = mapped_column(String(100))  # facility/local-id: routes the notice
    patient_id: Mapped[str | None] = mapped_column(String(64))  # the member's Patient id
    source: Mapped[str] = mapped_column(String(16))  # lab_rule | lab_flag | reader
    about: Mapped[str] = mapped_column(String(100))  # "DiagnosticReport/<id>" or "Observation/<id>"
    origin_event_id: Mapped[str] = mapped_column(String(80))  # the event that raised (or last changed) it
    fingerprint: Mapped[str] = mapped_column(String(64))  # the critical values; a change raises it again
    summary: Mapped[str] = mapped_column(Text)  # what is critical, in Chinese (the notice's text)
    findings: Mapped[str] = mapped_column(Text)  # JSON list of the findings, for the page
    related: Mapped[str] = mapped_column(Text)  # JSON list of what the notice is about (FHIR), to send again
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | acknowledged
    version: Mapped[int] = mapped_column(Integer)  # of the Communication: raised 1, each new sending +1
    level: Mapped[int] = mapped_column(Integer, default=0)  # 0 raised, 1 sent again, 2 duty doctors called
    ack_s: Mapped[float] = mapped_column(Float)  # the time the member has, per deadline
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())  # when the current values were first notified
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the next deadline
    level1_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    level2_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_to: Mapped[str | None] = mapped_column(Text)  # JSON: the duty doctors called at level 2
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ack_name: Mapped[str | None] = mapped_column(String(100))  # the person who acknowledged
    ack_role: Mapped[str | None] = mapped_column(String(100))  # their role (医师, 护士 ...)
    ack_action: Mapped[str | None] = mapped_column(Text)  # what they did
    ack_credential: Mapped[str | None] = mapped_column(String(100))  # the token or account it came with
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# The escalation worker's question: open notices past their deadline.
Index("critical_notice_open_due", CriticalNotice.status, CriticalNotice.due_at)


class CriticalUnchecked(Base):
    """A lab value a rule covers whose unit cannot be converted: kept so the rules can be completed."""

    __tablename__ = "critical_unchecked"
    __table_args__ = (UniqueConstraint("event_id", "observation_id", name="critical_unchecked_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(80))
    observation_id: Mapped[str] = mapped_column(String(64))
    facility_id: Mapped[str] = mapped_column(String(32), index=True)
    analyte: Mapped[str] = mapped_column(String(32))
    unit: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
