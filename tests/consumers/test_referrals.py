"""The referral consumer on a real database: whole loops, steps seen early, repeats, the migration."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from consumers.referrals.consumer import ReferralConsumer
from consumers.referrals.models import PendingReferralStep, Referral, ReferralStateChange
from hub.app.parts import consumer_class
from hub.core.config import HubSettings
from hub.core.db import Database
from tests.consumers.referral_factories import arrival_event, deliveries, referral_event, task_event
from tests.factories import encounter_event


def apply(db: Database, *events, consumer: ReferralConsumer | None = None) -> None:
    with db.transaction() as session:
        (consumer or ReferralConsumer(levels={})).apply_batch(session, deliveries(list(events)))


def referral(db: Database, sr_id: str) -> Referral:
    with db.sessions() as session:
        row = session.get(Referral, sr_id)
        assert row is not None
        return row


def history(db: Database, sr_id: str) -> list[str]:
    with db.sessions() as session:
        query = select(ReferralStateChange.state).where(ReferralStateChange.referral_id == sr_id)
        return list(session.scalars(query.order_by(ReferralStateChange.id)))


def test_registered_and_reads_referrals_and_encounters() -> None:
    assert consumer_class("referrals") is ReferralConsumer
    assert ReferralConsumer.event_types == ("referral", "encounter")


def test_a_whole_loop_up_and_back_down(db: Database) -> None:
    apply(db, referral_event("sr-up"))
    row = referral(db, "sr-up")
    assert (row.state, row.direction, row.requester_facility, row.target_facility) == (
        "requested",
        "up",
        "th01",
        "cty01",
    )
    assert (row.patient_key, row.patient_id) == ("th01/1", "th01-pat-1")
    assert row.requested_at == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    apply(db, task_event("sr-up", "accepted"))
    assert referral(db, "sr-up").state == "accepted"
    apply(db, arrival_event("sr-up", encounter_id="cty01-enc-77"))
    row = referral(db, "sr-up")
    assert (row.state, row.arrival_encounter_id) == ("arrived", "cty01-enc-77")
    # The county hospital sends the patient back to the township centre.
    apply(
        db,
        referral_event(
            "sr-down",
            facility="cty01",
            target="th01",
            based_on="sr-up",
            authored="2026-11-25T09:00:00+08:00",
            local_id="A77",
        ),
    )
    row = referral(db, "sr-up")
    assert (row.state, row.returned_at) == ("returned", datetime(2026, 11, 25, 1, 0, tzinfo=UTC))
    assert row.closed_reason == "returned by ServiceRequest/sr-down"
    down = referral(db, "sr-down")
    assert (down.direction, down.state, down.based_on) == ("down", "requested", "sr-up")
    assert history(db, "sr-up") == ["requested", "accepted", "arrived", "returned"]


def test_steps_seen_before_the_referral_wait_for_it(db: Database) -> None:
    apply(db, arrival_event("sr-late"), task_event("sr-late", "accepted"))
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PendingReferralStep)) == 2
        assert session.get(Referral, "sr-late") is None
    apply(db, referral_event("sr-late"))
    row = referral(db, "sr-late")
    assert row.state == "arrived" and row.accepted_at is not None and row.arrived_at is not None
    assert history(db, "sr-late") == ["requested", "accepted", "arrived"]  # in clinical order
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PendingReferralStep)) == 0


def test_the_answer_can_arrive_before_the_referral_it_answers(db: Database) -> None:
    apply(db, referral_event("sr-down", facility="cty01", target="th01", based_on="sr-up", local_id="A77"))
    apply(db, referral_event("sr-up"))
    assert referral(db, "sr-up").state == "returned"


def test_all_in_one_batch_in_any_order(db: Database) -> None:
    apply(
        db,
        arrival_event("sr-b"),
        referral_event("sr-b"),
        task_event("sr-b", "in-progress"),
        referral_event("sr-b2", facility="cty01", target="th01", based_on="sr-b", local_id="A77"),
    )
    assert history(db, "sr-b") == ["requested", "arrived", "returned"]
    assert referral(db, "sr-b").accepted_at is not None


def test_rejected_and_cancelled(db: Database) -> None:
    apply(db, referral_event("sr-r"), task_event("sr-r", "rejected"))
    assert (referral(db, "sr-r").state, referral(db, "sr-r").closed_reason) == ("rejected", "task rejected")
    apply(db, referral_event("sr-c"), referral_event("sr-c", status="revoked", version=1))
    assert referral(db, "sr-c").state == "cancelled"
    apply(db, arrival_event("sr-c"))  # closed loops stay closed
    assert referral(db, "sr-c").state == "cancelled"


def test_a_cancelled_answer_returns_nothing(db: Database) -> None:
    apply(db, referral_event("sr-up"))
    apply(
        db,
        referral_event(
            "sr-oops", facility="cty01", target="th01", based_on="sr-up", status="entered-in-error"
        ),
    )
    assert referral(db, "sr-up").state == "requested"


def test_completed_request_returns_the_loop(db: Database) -> None:
    apply(
        db,
        referral_event("sr-x"),
        arrival_event("sr-x"),
        referral_event("sr-x", status="completed", version=1),
    )
    assert referral(db, "sr-x").state == "returned"
    apply(db, referral_event("sr-x", status="active", version=2))  # forward only
    assert referral(db, "sr-x").state == "returned"


def test_repeated_events_change_nothing(db: Database) -> None:
    events = [referral_event("sr-d"), task_event("sr-d", "accepted"), arrival_event("sr-d")]
    apply(db, *events)
    apply(db, *events, *events)
    assert history(db, "sr-d") == ["requested", "accepted", "arrived"]
    early = [arrival_event("sr-e"), arrival_event("sr-e")]
    apply(db, *early)
    apply(db, *early)
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PendingReferralStep)) == 1


def test_ordinary_encounters_are_ignored(db: Database) -> None:
    apply(db, encounter_event("th01", "1", visit=1), arrival_event(None))
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PendingReferralStep)) == 0
        assert session.scalar(select(func.count()).select_from(Referral)) == 0


def test_direction_from_settings(db: Database, settings: HubSettings) -> None:
    consumer = ReferralConsumer(settings.model_copy(update={"facility_levels": {"qs-hosp": "county"}}))
    apply(db, referral_event("sr-s", facility="qs-hosp", target="th02"), consumer=consumer)
    assert referral(db, "sr-s").direction == "down"
