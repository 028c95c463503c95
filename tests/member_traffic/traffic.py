"""Builders of a member's traffic history: events at a steady pace in its working hours, on its clocks."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from consumers.member_traffic.consumer import MemberTrafficConsumer
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.events import Event
from tests.factories import patient_event

CHINA = ZoneInfo("Asia/Shanghai")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment on the members' clocks, as UTC."""
    return datetime.combine(day, time(hour, minute), CHINA).astimezone(UTC)


def event_at(facility: str, at: datetime) -> Event:
    return dataclasses.replace(patient_event(facility, uuid.uuid4().hex[:8], resident_id=None),
                               event_id=str(uuid.uuid4()), recorded_at=at)


def working_hours(facility: str, first: date, days: int, start_hour: int, end_hour: int, every_min: int,
                  weekdays_only: bool = True) -> Iterator[Event]:
    """One event every `every_min` minutes from start_hour to end_hour (local) on each working day."""
    for n in range(days):
        day = first + timedelta(days=n)
        if weekdays_only and day.weekday() >= 5:
            continue
        moment, end = local(day, start_hour), local(day, end_hour)
        while moment < end:
            yield event_at(facility, moment)
            moment += timedelta(minutes=every_min)


def until(facility: str, day: date, start_hour: int, last: datetime, every_min: int) -> list[Event]:
    """The member's events of one day from start_hour (local) up to and including `last`."""
    moment, events = local(day, start_hour), []
    while moment <= last:
        events.append(event_at(facility, moment))
        moment += timedelta(minutes=every_min)
    return events


def apply_events(db: Database, consumer: MemberTrafficConsumer, events: list[Event] | Iterator[Event],
                 batch: int = 500) -> None:
    """Applies events as the consumer framework does (batches in one transaction each), without the broker."""
    pending = list(events)
    for i in range(0, len(pending), batch):
        with db.transaction() as session:
            consumer.apply_batch(session, [Delivery("t", 0, i + j, None, None, (), 0, e)
                                           for j, e in enumerate(pending[i:i + batch])])
