"""The read side of referral loops: filtered lists and monthly counts per requesting facility."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from consumers.referrals.loop import OPEN_STATES
from consumers.referrals.models import Referral

CHINA = ZoneInfo("Asia/Shanghai")  # months are the county's calendar months


@dataclass(frozen=True)
class ReferralFilter:
    state: str | None = None  # "open", or one state
    facility: str | None = None  # requesting or target facility
    direction: str | None = None


def month_start(year: int, month: int) -> datetime:
    """The first instant of a China calendar month, in UTC."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=CHINA).astimezone(UTC)


def _filtered(spec: ReferralFilter) -> Select[Any]:
    query = select(Referral)
    if spec.state == "open":
        query = query.where(Referral.state.in_(OPEN_STATES))
    elif spec.state:
        query = query.where(Referral.state == spec.state)
    if spec.facility:
        query = query.where(
            or_(Referral.requester_facility == spec.facility, Referral.target_facility == spec.facility)
        )
    if spec.direction:
        query = query.where(Referral.direction == spec.direction)
    return query


def list_referrals(
    session: Session, spec: ReferralFilter, limit: int, offset: int
) -> tuple[list[Referral], int]:
    """A page of referrals, oldest request first (the longest-waiting loop leads), and the total."""
    query = _filtered(spec)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.order_by(Referral.requested_at, Referral.id).offset(offset).limit(limit)
    ).all()
    return list(rows), total


def monthly_summary(session: Session, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Referrals requested in [start, end) counted by China month and requesting facility."""
    rows = session.execute(
        select(Referral.requester_facility, Referral.direction, Referral.state, Referral.requested_at).where(
            Referral.requested_at >= start, Referral.requested_at < end
        )
    ).all()
    # Grouped here, not in SQL: the month in China time is computed differently by every database.
    counts: dict[tuple[str, str], dict[str, Any]] = {}
    for facility, direction, state, requested_at in rows:
        month = requested_at.astimezone(CHINA).strftime("%Y-%m")
        cell = counts.setdefault(
            (month, facility),
            {"month": month, "facility": facility, "up": 0, "down": 0, "unknown": 0, "open": 0},
        )
        cell[direction if direction in ("up", "down") else "unknown"] += 1
        cell["open"] += state in OPEN_STATES
    return [counts[key] for key in sorted(counts)]
