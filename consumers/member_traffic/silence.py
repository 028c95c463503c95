"""When a member has gone silent, judged against its own usual traffic per hour of the week. Pure functions.

The rule, in one sentence: a member is silent once its usual traffic would have brought
`silent_after_events` events (5 by default) since its last one, and at least `floor_s` has passed.
Its usual traffic in an hour of the week (Monday 10:00-11:00 in the members' time zone) is the mean
number of events it sent in that hour over the history window (4 weeks). So a township HIS that sends
60 events an hour at 10:00 is silent after max(5 min, floor); a village clinic whose evenings and
nights bring nothing adds nothing to the count overnight, and is not reported before its morning.
The usual traffic is learned from the hours before the member's last event, so a silence never teaches
that silence is usual. Until `learning_s` of its traffic has been seen (first to newest event) a member
is not judged ("learning"); a member whose usual traffic would not bring that many events within the
whole history window is "sparse".

Counting assumes whole-hour offsets from UTC (true of China); a daylight-saving change moves one hour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.core.services import MemberState

HOURS_PER_WEEK = 168
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class SilencePolicy:
    zone: ZoneInfo
    history_weeks: int
    learning_s: float
    silent_after_events: float
    floor_s: float

    @classmethod
    def from_settings(cls, settings: Any) -> SilencePolicy:
        return cls(
            zone=ZoneInfo(settings.member_timezone),
            history_weeks=settings.member_history_weeks,
            learning_s=settings.member_learning_days * 86400,
            silent_after_events=settings.member_silent_after_events,
            floor_s=settings.member_silence_floor_s,
        )

    @property
    def window(self) -> timedelta:
        return timedelta(weeks=self.history_weeks)


def hour_start(moment: datetime) -> datetime:
    """The start of the clock hour `moment` falls in (UTC stays UTC)."""
    return moment.replace(minute=0, second=0, microsecond=0)


def hour_of_week(moment: datetime, zone: ZoneInfo) -> int:
    """0 for Monday 00:00-01:00 ... 167 for Sunday 23:00-24:00, on the members' clocks."""
    local = moment.astimezone(zone)
    return local.weekday() * 24 + local.hour


def history_start(first_event_at: datetime, now: datetime, policy: SilencePolicy) -> datetime:
    """The first hour that teaches the usual traffic: the member's first hour, at most the window back."""
    return max(hour_start(first_event_at), hour_start(now) - policy.window)


def hours_observed(start: datetime, end: datetime, zone: ZoneInfo) -> list[int]:
    """How many times each hour of the week occurs in the whole hours [start, end)."""
    total = max(0, int((end - start) / HOUR))
    weeks, rest = divmod(total, HOURS_PER_WEEK)
    seen = [weeks] * HOURS_PER_WEEK
    first = hour_of_week(start, zone)
    for i in range(rest):
        seen[(first + i) % HOURS_PER_WEEK] += 1
    return seen


def usual_rates(counts: Mapping[int, int], seen: list[int]) -> list[float]:
    """Usual events per hour for each hour of the week: events counted there / times that hour was observed."""
    return [counts.get(slot, 0) / seen[slot] if seen[slot] else 0.0 for slot in range(HOURS_PER_WEEK)]


def expected_events(rates: list[float], start: datetime, end: datetime, zone: ZoneInfo) -> float:
    """Events the usual traffic brings between two moments (partial hours count in proportion)."""
    total, moment, slot = 0.0, start, hour_of_week(start, zone)
    while moment < end:
        boundary = min(hour_start(moment) + HOUR, end)
        total += rates[slot] * (boundary - moment) / HOUR
        moment, slot = boundary, (slot + 1) % HOURS_PER_WEEK
    return total


def quiet_allowed(rates: list[float], last: datetime, policy: SilencePolicy) -> float | None:
    """Seconds after `last` by which the usual traffic would have brought `silent_after_events` events,
    or None when it would not within the history window."""
    needed, moment, slot = policy.silent_after_events, last, hour_of_week(last, policy.zone)
    limit = last + policy.window
    while moment < limit:
        boundary = hour_start(moment) + HOUR
        rate = rates[slot]
        brought = rate * (boundary - moment) / HOUR
        if rate > 0 and brought >= needed:
            return (moment - last).total_seconds() + needed / rate * 3600
        needed -= brought
        moment, slot = boundary, (slot + 1) % HOURS_PER_WEEK
    return None


def learned_until(last_event_at: datetime, now: datetime) -> datetime:
    """The end of the whole hours that teach the usual traffic: the hour of the member's last event (or
    the current hour, if that is earlier). Hours after its last event are the silence being judged; were
    they learned, a long silence would teach the hub that silence is usual."""
    return min(hour_start(last_event_at), hour_start(now))


def judge(facility_id: str, first_event_at: datetime, last_event_at: datetime, counts: Mapping[int, int],
          now: datetime, policy: SilencePolicy) -> MemberState:
    """One member at `now`, from its first and newest event and its events per hour of the week counted
    in the whole hours from `history_start` up to `learned_until`."""
    start = history_start(first_event_at, now, policy)
    end = learned_until(last_event_at, now)
    rates = usual_rates(counts, hours_observed(start, end, policy.zone))
    quiet_for = max(0.0, (now - last_event_at).total_seconds())
    known_s = max(0.0, (last_event_at - first_event_at).total_seconds())
    expected = expected_events(rates, last_event_at, now, policy.zone) if now > last_event_at else 0.0
    threshold: float | None = None
    if known_s < policy.learning_s:
        state = "learning"
    else:
        allowed = quiet_allowed(rates, last_event_at, policy)
        if allowed is None:
            state = "sparse"
        else:
            threshold = max(policy.floor_s, allowed)
            state = "silent" if quiet_for > threshold else "ok"
    return MemberState(
        facility_id=facility_id,
        state=state,
        last_event_at=last_event_at.timestamp(),
        quiet_for_s=round(quiet_for, 1),
        threshold_s=None if threshold is None else round(threshold, 1),
        usual_per_hour=round(rates[hour_of_week(now, policy.zone)], 2),
        expected_since_last=round(expected, 2),
        history_days=round(known_s / 86400, 1),
    )
