"""Members judged from their own traffic in the database (SQLite and PostgreSQL), with a clock the test
moves: a township that stops sending is reported silent within its threshold and cleared when it resumes;
a village clinic quiet when it is usually quiet is not reported; the metrics, `hub status` and the broker
path agree."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from consumers.member_traffic.consumer import MemberTrafficConsumer
from consumers.member_traffic.models import MemberHour, MemberSeen
from consumers.member_traffic.silence import SilencePolicy
from consumers.member_traffic.watch import Watch
from hub.app.status import collect_status, format_status
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.services import MemberState
from tests.api.conftest import Community, auth
from tests.critical_values.factories import Clock
from tests.factories import unique_facility
from tests.hub.test_consuming import publish, runner_for, running
from tests.member_traffic.traffic import apply_events, event_at, local, until, working_hours
from tests.waiting import wait_for

FIRST_MONDAY = date(2026, 11, 2)
MONDAY = date(2026, 11, 16)  # two weeks of history before it


def gauge(name: str, facility: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"facility": facility})


def member(members: list[MemberState], facility: str) -> MemberState:
    return next(m for m in members if m.facility_id == facility)


@pytest.fixture
def consumer(settings: HubSettings) -> MemberTrafficConsumer:
    return MemberTrafficConsumer(settings)


def test_a_township_that_stops_is_silent_within_its_threshold_and_cleared_when_it_resumes(
        settings: HubSettings, db: Database, consumer: MemberTrafficConsumer) -> None:
    township = unique_facility()
    apply_events(db, consumer, working_hours(township, FIRST_MONDAY, 14, 8, 18, every_min=5))
    last = local(MONDAY, 9, 40)
    apply_events(db, consumer, until(township, MONDAY, 8, last, every_min=5))  # then nothing
    clock = Clock(last + timedelta(minutes=10))
    watch = Watch(db, SilencePolicy.from_settings(settings), clock)

    judged = member(watch.run_once(), township)
    assert judged.state == "ok" and judged.usual_per_hour == 12 and judged.history_days == 14.1
    threshold = judged.threshold_s
    assert threshold is not None and 20 * 60 < threshold < 30 * 60  # 5 events at about 12 an hour
    assert gauge("hub_facility_silence_threshold_seconds", township) == threshold
    assert gauge("hub_facility_last_event_timestamp_seconds", township) == last.timestamp()
    assert gauge("hub_facility_silent", township) == 0

    clock.now = last + timedelta(seconds=threshold - 1)
    assert member(watch.run_once(), township).state == "ok"
    clock.now = last + timedelta(seconds=threshold + 1)
    judged = member(watch.run_once(), township)
    assert judged.silent and judged.expected_since_last >= 5
    assert gauge("hub_facility_silent", township) == 1

    clock.now = local(MONDAY, 12)  # still nothing two hours later: still silent, same threshold
    assert member(watch.run_once(), township).threshold_s == threshold

    apply_events(db, consumer, [event_at(township, local(MONDAY, 12))])
    judged = member(watch.run_once(), township)
    assert judged.state == "ok" and judged.quiet_for_s == 0
    assert gauge("hub_facility_silent", township) == 0
    assert gauge("hub_facility_last_event_timestamp_seconds", township) == local(MONDAY, 12).timestamp()


def test_a_village_clinic_quiet_when_it_is_usually_quiet_is_not_reported(
        settings: HubSettings, db: Database, consumer: MemberTrafficConsumer) -> None:
    village = unique_facility()
    apply_events(db, consumer, working_hours(village, FIRST_MONDAY, 14, 8, 12, every_min=30))
    last = local(MONDAY, 11, 30)
    apply_events(db, consumer, until(village, MONDAY, 8, last, every_min=30))
    clock = Clock(local(MONDAY + timedelta(days=1), 3))  # Tuesday 03:00
    watch = Watch(db, SilencePolicy.from_settings(settings), clock)

    night = member(watch.run_once(), village)
    assert night.state == "ok" and night.usual_per_hour == 0 and night.expected_since_last == 1
    assert gauge("hub_facility_silent", village) == 0
    clock.now = local(MONDAY + timedelta(days=1), 9)  # its morning: 1 + 2 events expected, fewer than 5
    assert member(watch.run_once(), village).state == "ok"
    clock.now = local(MONDAY + timedelta(days=1), 11)  # 5 expected by 10:00: now it is news
    assert member(watch.run_once(), village).silent
    assert gauge("hub_facility_silent", village) == 1


def test_a_new_member_is_learned_not_judged_and_has_no_threshold_series(
        settings: HubSettings, db: Database, consumer: MemberTrafficConsumer) -> None:
    newcomer = unique_facility()
    apply_events(db, consumer, working_hours(newcomer, MONDAY, 3, 8, 18, every_min=10))
    watch = Watch(db, SilencePolicy.from_settings(settings), Clock(local(MONDAY + timedelta(days=5), 10)))
    judged = member(watch.run_once(), newcomer)
    assert judged.state == "learning" and judged.threshold_s is None
    assert gauge("hub_facility_silence_threshold_seconds", newcomer) is None
    assert gauge("hub_facility_silent", newcomer) == 0


def test_hours_older_than_the_window_are_forgotten_and_counts_add_up(
        settings: HubSettings, db: Database, consumer: MemberTrafficConsumer) -> None:
    facility = unique_facility()
    apply_events(db, consumer, working_hours(facility, FIRST_MONDAY, 1, 8, 10, every_min=15))  # 8 events
    apply_events(db, consumer, [event_at(facility, local(MONDAY, 8, 5)), event_at(facility, local(MONDAY, 8, 50))])
    with db.sessions() as session:
        seen = session.get(MemberSeen, facility)
        assert seen is not None and seen.events == 10
        assert seen.first_event_at == local(FIRST_MONDAY, 8) and seen.last_event_at == local(MONDAY, 8, 50)
        hours = {h.hour_start: (h.hour_of_week, h.events) for h in session.scalars(
            select(MemberHour).where(MemberHour.facility_id == facility))}
    assert hours[local(MONDAY, 8)] == (8, 2) and hours[local(FIRST_MONDAY, 9)] == (9, 4)
    Watch(db, SilencePolicy.from_settings(settings.model_copy(update={"member_history_weeks": 1})),
          Clock(local(MONDAY, 9))).run_once()
    with db.sessions() as session:
        left = list(session.scalars(select(MemberHour.hour_start).where(MemberHour.facility_id == facility)))
    assert left == [local(MONDAY, 8)]


def test_hub_status_names_the_silent_members(settings: HubSettings, db: Database,
                                             consumer: MemberTrafficConsumer) -> None:
    township = unique_facility()
    apply_events(db, consumer, working_hours(township, FIRST_MONDAY, 14, 8, 18, every_min=5))
    report = collect_status(settings, db, None)  # judged now: two weeks after its last event
    text = format_status(report)
    assert member(report.members, township).silent
    assert f"silent members: {township}" in text
    assert any(line.startswith(township) and line.endswith(" !") for line in text.splitlines())


@pytest.mark.broker
def test_member_events_through_the_broker_are_counted_once(broker_settings: HubSettings, db: Database) -> None:
    facility = "th01"  # the facility the test connector serves; the database is this test's own
    events = list(working_hours(facility, MONDAY, 1, 8, 9, every_min=10))  # 6 events
    publish(broker_settings, events)
    publish(broker_settings, events[:3])  # a replay: the same events again
    with running(runner_for(MemberTrafficConsumer(broker_settings), broker_settings, db)):
        def counted() -> int:
            with db.sessions() as session:
                seen = session.get(MemberSeen, facility)
                return seen.events if seen else 0

        wait_for(lambda: counted() == 6, timeout_s=30)
    with db.sessions() as session:
        assert session.scalar(select(MemberHour.events).where(MemberHour.facility_id == facility)) == 6


def test_the_api_lists_the_members_to_admins_only(community: Community) -> None:
    consumer = MemberTrafficConsumer(community.client.app.state.settings)
    apply_events(community.db, consumer, working_hours("th07", FIRST_MONDAY, 14, 8, 18, every_min=30))
    listed = community.client.get("/api/members", headers=auth(community.tokens["admin"]))
    assert listed.status_code == 200
    (th07,) = [m for m in listed.json() if m["facility_id"] == "th07"]
    assert th07["state"] == "silent" and th07["threshold_s"] >= 900 and th07["history_days"] == 11.4
    status = community.client.get("/api/status", headers=auth(community.tokens["admin"])).json()
    assert [m["facility_id"] for m in status["members"]] == ["th07"]
    assert community.client.get("/api/members").status_code == 401
    assert community.client.get("/api/members", headers=auth(community.tokens["clinician"])).status_code == 403
