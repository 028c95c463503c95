"""Tables of member traffic: one row per member (first and newest event) and one per member and hour with
events (what teaches the member's usual traffic per hour of the week)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db.models import Base
from hub.core.db.types import UTCDateTime


class MemberSeen(Base):
    """A member facility the hub has heard from: its first and newest event (the hub's acceptance times)."""

    __tablename__ = "member_seen"

    facility_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_event_at: Mapped[datetime] = mapped_column(UTCDateTime())  # history starts here (learning)
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime())  # silence is measured from here
    events: Mapped[int] = mapped_column(BigInteger, default=0)


class MemberHour(Base):
    """Events of one member in one clock hour (UTC start of the hour). Hours without events have no row;
    rows older than the history window are deleted."""

    __tablename__ = "member_hour"

    facility_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    hour_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    # 0 (Monday 00:00-01:00) .. 167 in the members' time zone, kept so the usual traffic per hour of the
    # week is one GROUP BY in the database
    hour_of_week: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer, default=0)


# Forgetting hours older than the history window, for every member at once.
Index("member_hour_start", MemberHour.hour_start)
