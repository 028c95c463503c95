"""The silence rule on its own (no database): usual traffic per hour of the week, the threshold it gives,
quiet hours, learning and sparse members."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from consumers.member_traffic.silence import (
    SilencePolicy,
    expected_events,
    hour_of_week,
    hours_observed,
    judge,
    quiet_allowed,
    usual_rates,
)
from tests.member_traffic.traffic import CHINA, local

POLICY = SilencePolicy(zone=CHINA, history_weeks=4, learning_s=7 * 86400, silent_after_events=5, floor_s=900)
MONDAY = date(2026, 11, 16)


def weekday_hours(start: int, end: int, per_hour: int, weeks: int) -> dict[int, int]:
    """Counts per hour of the week of a member sending `per_hour` events in [start, end) on weekdays."""
    return {day * 24 + hour: per_hour * weeks for day in range(5) for hour in range(start, end)}


def test_hours_of_the_week_are_on_the_members_clocks() -> None:
    assert hour_of_week(local(MONDAY, 0), CHINA) == 0  # Monday 00:00 in Beijing is Sunday 16:00 UTC
    assert hour_of_week(local(MONDAY, 10, 30), CHINA) == 10
    assert hour_of_week(local(MONDAY + timedelta(days=6), 23, 59), CHINA) == 167


def test_each_hour_of_the_week_is_observed_as_often_as_it_occurred() -> None:
    start = local(MONDAY, 0)
    assert hours_observed(start, start + timedelta(weeks=2), CHINA) == [2] * 168
    seen = hours_observed(start, start + timedelta(weeks=1, hours=3), CHINA)
    assert seen[:3] == [2, 2, 2] and seen[3:] == [1] * 165
    rates = usual_rates({0: 6, 5: 1}, seen)
    assert rates[0] == 3.0 and rates[5] == 1.0 and rates[100] == 0.0


def test_expected_events_count_partial_hours_in_proportion() -> None:
    rates = [0.0] * 168
    rates[10] = 12.0
    assert expected_events(rates, local(MONDAY, 9, 30), local(MONDAY, 10, 15), CHINA) == pytest.approx(3.0)


def test_a_busy_township_is_silent_after_five_of_its_usual_events() -> None:
    counts = weekday_hours(8, 18, 60, weeks=2)
    counts[8] += 60
    counts[9] += 60  # and this Monday morning
    last = local(MONDAY, 10)
    allowed = quiet_allowed(usual_rates(counts, [2] * 168), last, POLICY)
    assert allowed == pytest.approx(300)  # 5 events at 60 an hour
    member = judge("th01", local(MONDAY, 0) - timedelta(weeks=2), last, counts, last + timedelta(minutes=16), POLICY)
    assert member.threshold_s == 900  # the floor: never less than 15 minutes
    assert member.state == "silent" and member.usual_per_hour == 60 and member.expected_since_last == 16


def test_a_village_clinic_at_night_is_not_silent_and_is_in_the_late_morning() -> None:
    counts = weekday_hours(8, 12, 2, weeks=2)
    for hour in range(8, 11):  # and this Monday morning, before the hour of its last event
        counts[hour] += 2
    first = local(MONDAY, 8) - timedelta(weeks=2)
    last = local(MONDAY, 11, 50)
    night = judge("vc01", first, last, counts, local(MONDAY + timedelta(days=1), 3), POLICY)
    assert night.state == "ok" and night.usual_per_hour == 0
    assert night.expected_since_last == pytest.approx(2 / 6, abs=0.01)
    # 1/3 of an event before noon, then 2 an hour from 08:00: 5 events reached at 10:20 on Tuesday
    assert night.threshold_s == pytest.approx((local(MONDAY + timedelta(days=1), 10, 20) - last).total_seconds())
    assert judge("vc01", first, last, counts, local(MONDAY + timedelta(days=1), 10, 15), POLICY).state == "ok"
    assert judge("vc01", first, last, counts, local(MONDAY + timedelta(days=1), 10, 25), POLICY).state == "silent"


def test_a_member_is_learned_before_it_is_judged() -> None:
    counts = weekday_hours(8, 18, 60, weeks=1)
    last = local(MONDAY, 10)
    member = judge("th09", last - timedelta(days=5), last, counts, last + timedelta(days=1), POLICY)
    assert member.state == "learning" and member.threshold_s is None and not member.silent


def test_a_member_too_sparse_to_expect_anything_is_not_judged() -> None:
    counts = {10: 1}  # one event in four weeks
    last = local(MONDAY, 10)
    member = judge("vc09", last - timedelta(weeks=4), last, counts, last + timedelta(days=20), POLICY)
    assert member.state == "sparse" and member.threshold_s is None
