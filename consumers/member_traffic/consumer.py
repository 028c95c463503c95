"""The member-traffic consumer: counts every member event per facility and clock hour, and keeps each
facility's first and newest event. Reads every topic a member's connector writes (not the hub's own
reports and notices). Idempotent: the consumer base drops a redelivered event by its id."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from consumers.member_traffic.models import MemberHour, MemberSeen
from consumers.member_traffic.silence import hour_of_week, hour_start
from hub.core.config import HubSettings
from hub.core.consumer import Consumer, Delivery
from hub.core.topics import CATALOGUE

MEMBER_EVENT_TYPES = tuple(spec.event_type for spec in CATALOGUE if not spec.from_hub)


class MemberTrafficConsumer(Consumer):
    name = "member_traffic"
    event_types = MEMBER_EVENT_TYPES

    def __init__(self, settings: HubSettings | None = None) -> None:
        super().__init__(settings)
        self.zone = ZoneInfo(self.settings.member_timezone)

    def apply(self, session: Session, delivery: Delivery) -> None:
        self.apply_batch(session, [delivery])

    def apply_batch(self, session: Session, deliveries: list[Delivery]) -> None:
        """One upsert per member and hour touched, not one per event: a batch of a busy township is a
        handful of statements. Times are the hub's acceptance times (`recorded_at`), so a replay or a
        consumer catching up teaches the same hours as live traffic."""
        hours: Counter[tuple[str, datetime]] = Counter()
        spans: dict[str, tuple[datetime, datetime]] = {}
        for delivery in deliveries:
            event = delivery.event
            if event is None:
                continue
            facility, at = event.source.facility_id, event.recorded_at
            hours[facility, hour_start(at)] += 1
            first, last = spans.get(facility, (at, at))
            spans[facility] = (min(first, at), max(last, at))
        if not hours:
            return
        insert = _insert_for(session)
        for (facility, start), n in sorted(hours.items()):
            statement = insert(MemberHour).values(
                facility_id=facility, hour_start=start, hour_of_week=hour_of_week(start, self.zone), events=n
            )
            session.execute(statement.on_conflict_do_update(
                index_elements=["facility_id", "hour_start"], set_={"events": MemberHour.events + statement.excluded.events}
            ))
        per_facility = Counter({facility: 0 for facility in spans})
        for (facility, _), n in hours.items():
            per_facility[facility] += n
        for facility, (first, last) in sorted(spans.items()):
            statement = insert(MemberSeen).values(
                facility_id=facility, first_event_at=first, last_event_at=last, events=per_facility[facility]
            )
            new = statement.excluded
            session.execute(statement.on_conflict_do_update(index_elements=["facility_id"], set_={
                "first_event_at": case((new.first_event_at < MemberSeen.first_event_at, new.first_event_at),
                                       else_=MemberSeen.first_event_at),
                "last_event_at": case((new.last_event_at > MemberSeen.last_event_at, new.last_event_at),
                                      else_=MemberSeen.last_event_at),
                "events": MemberSeen.events + new.events,
            }))


def _insert_for(session: Session) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO UPDATE (both SQLite and PostgreSQL spell it alike)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
