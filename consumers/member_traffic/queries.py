"""Reading member traffic: every member judged at a moment (the `member_activity` service), and forgetting
hours older than the history window."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from consumers.member_traffic.models import MemberHour, MemberSeen
from consumers.member_traffic.silence import SilencePolicy, hour_start, judge, learned_until
from hub.core.services import MemberState


def judge_members(session: Session, policy: SilencePolicy, now: datetime) -> list[MemberState]:
    """Every member the hub has heard from, judged at `now`, in facility order. Three queries in all: the
    members, their events per hour of the week over the window, and the hour of each one's last event
    (taken off again: only the hours before it teach, see silence.learned_until)."""
    current = hour_start(now)
    members = list(session.scalars(select(MemberSeen).order_by(MemberSeen.facility_id)))
    counts: dict[str, dict[int, int]] = defaultdict(dict)
    rows = session.execute(
        select(MemberHour.facility_id, MemberHour.hour_of_week, func.sum(MemberHour.events))
        .where(MemberHour.hour_start >= current - policy.window, MemberHour.hour_start < current)
        .group_by(MemberHour.facility_id, MemberHour.hour_of_week)
    )
    for facility_id, slot, events in rows:
        counts[facility_id][int(slot)] = int(events or 0)
    last_hours = [and_(MemberHour.facility_id == m.facility_id, MemberHour.hour_start == learned_until(m.last_event_at, now))
                  for m in members if current - policy.window <= learned_until(m.last_event_at, now) < current]
    if last_hours:
        for facility_id, slot, events in session.execute(
            select(MemberHour.facility_id, MemberHour.hour_of_week, MemberHour.events).where(or_(*last_hours))
        ):
            counts[facility_id][int(slot)] -= int(events)
    return [judge(m.facility_id, m.first_event_at, m.last_event_at, counts.get(m.facility_id, {}), now, policy)
            for m in members]


def forget_old_hours(session: Session, policy: SilencePolicy, now: datetime) -> int:
    """Deletes the hours no judgement reads any more; the number deleted."""
    result = session.execute(delete(MemberHour).where(MemberHour.hour_start < hour_start(now) - policy.window))
    return int(getattr(result, "rowcount", 0) or 0)


class MemberTraffic:
    """The `member_activity` service (hub.core.services.MemberActivity) over this part's tables."""

    def members(self, session: Session, settings: Any, now: datetime) -> list[MemberState]:
        return judge_members(session, SilencePolicy.from_settings(settings), now)
