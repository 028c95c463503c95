"""The indicators of a demo month match a hand count of the same events, sent through the real broker into the
indicator, referral and shared-record consumers (as `hub run` runs them)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from consumers.indicators import insurance
from consumers.indicators.models import IndicatorPrescription, IndicatorResult, IndicatorVisit
from consumers.indicators.queries import compute
from consumers.record_store.models import PatientLink
from consumers.referrals.models import Referral
from hub.app import parts as registered
from hub.core import kafka_io
from hub.core.config import HubSettings
from hub.core.consuming import ConsumerRunner
from hub.core.db import Database
from hub.core.parts import PartContext
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import spec_for
from tests.indicators.factories import SETTLEMENTS, october
from tests.waiting import wait_for

pytestmark = pytest.mark.broker
MONTH = "2026-10"


def publish(settings: HubSettings, events: list) -> None:
    codec = EventCodec(FileSchemaRegistry(), settings.topic_prefix)
    producer = kafka_io.producer(settings)
    try:
        for event in events:
            producer.send(spec_for(event.event_type).topic(settings), key=event.patient_key.encode(),
                          value=codec.encode(event)).get(10)
    finally:
        producer.close()


def _count(db: Database, model: type) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def run_month(settings: HubSettings, db: Database) -> None:
    kafka_io.ensure_topics(settings)
    codec = EventCodec(FileSchemaRegistry(), settings.topic_prefix)
    context = PartContext(settings, db, registered.services())
    stop = threading.Event()
    threads = []
    for name in ("record_store", "referrals", "indicators"):
        consumer = registered.consumer_class(name)(settings)
        consumer.bind(context)
        threads.append(threading.Thread(target=ConsumerRunner(consumer, settings, db, codec).run, args=(stop,),
                                        daemon=True))
    for thread in threads:
        thread.start()
    try:
        publish(settings, october())
        # 15 visits (one entered in error), 3 results, 5 prescription lines, 4 referrals, 5 registrations
        wanted = (15, 3, 5, 4, 5)
        seen: list[tuple[int, ...]] = []

        def applied() -> bool:
            seen.append(tuple(_count(db, m) for m in (IndicatorVisit, IndicatorResult, IndicatorPrescription,
                                                      Referral, PatientLink)))
            return seen[-1] == wanted

        try:
            wait_for(applied, timeout_s=60)
        except AssertionError:
            raise AssertionError(f"applied {seen[-1]}, wanted {wanted}") from None
    finally:
        stop.set()
        for thread in threads:
            thread.join(20)


def figures(db: Database, member: str | None = None) -> dict:
    with db.reading() as session:
        return compute(session, registered.services(), MONTH, member)


def value_of(found: dict, key: str) -> tuple:
    f = found[key].figure
    return f.value, f.numerator, f.denominator


def counted(found: dict, key: str) -> set[str]:
    return {r.id for r in found[key].records if r.numerator}


def test_a_demo_month_matches_the_hand_count(broker_settings: HubSettings, db: Database) -> None:
    run_month(broker_settings, db)
    found = figures(db)
    # Visits in October: th01 a0-a4, b0-b2 (8); vc01 a5, c2, c3 (3); cty01 a6 (1); a7 was entered in error.
    assert value_of(found, "primary_visits") == (91.7, 11, 12)
    assert {r.id for r in found["primary_visits"].records if not r.numerator} == {"cty01-enc-a6"}
    # No insurance data yet: the figure says so and has no value.
    missing = found["in_county_visits"].figure
    assert missing.value is None and missing.denominator is None and "no medical insurance" in (missing.missing_en or "")
    with db.transaction() as session:
        assert insurance.import_file(session, SETTLEMENTS.encode(), MONTH, "yb-2026-10.csv", "test") == 3
    found = figures(db)
    assert value_of(found, "in_county_visits") == (80.0, 12, 15)
    assert {r.id for r in found["in_county_visits"].records if not r.numerator} == {
        "YB2026100001", "YB2026100002", "YB2026100003"}
    # Referrals: sr-1 and sr-2 up, sr-1d down (it returns sr-1: the one loop closed); sr-3 was revoked.
    assert value_of(found, "referrals_up") == (2, 2, None)
    assert counted(found, "referrals_up") == {"sr-1", "sr-2"}
    assert value_of(found, "referrals_down") == (1, 1, None)
    assert value_of(found, "referral_ratio") == (2.0, 2, 1)
    assert value_of(found, "referral_loops") == (33.3, 1, 3)
    assert counted(found, "referral_loops") == {"sr-1"}
    # Hypertension: A on 5 days (th01 2, 9, 16, 23 twice; vc01 25) is managed to the standard; B (2 days) is not.
    assert value_of(found, "hypertension_managed") == (50.0, 1, 2)
    # Type 2 diabetes: C on 4 days (Aug 1, Sep 1, Oct 1, Oct 20); B once.
    assert value_of(found, "diabetes_managed") == (50.0, 1, 2)
    # Recognition: A's county glucose (Oct 3, valid 7 days) and HbA1c (90 days) meet A's later visits elsewhere:
    # Oct 9 at th01 glucose (tested again: repeated) and HbA1c; Oct 16, 23, 23 at th01 and Oct 25 at vc01 HbA1c.
    assert value_of(found, "results_recognised") == (83.3, 5, 6)
    repeated = [r for r in found["results_recognised"].records if not r.numerator]
    assert [(r.facility, r.detail.split(" · ")[-1]) for r in repeated] == [("th01", "repeated: th01-obs-g2")]
    # 集采: amlodipine and metformin among four lines with a catalogue drug; the local-only line is left out.
    assert value_of(found, "vbp_share") == (50.0, 2, 4)
    assert counted(found, "vbp_share") == {"th01-rx-1", "vc01-rx-3"}
    assert value_of(found, "remote_reads") == (0, 0, None)
    assert found["read_turnaround"].figure.value is None

    township = figures(db, "th01")
    assert township["primary_visits"].figure.value is None  # a county-wide figure
    assert value_of(township, "hypertension_managed") == (50.0, 1, 2)  # A's 4 days at th01 alone
    assert value_of(township, "diabetes_managed") == (0.0, 0, 1)
    assert value_of(township, "referrals_up") == (2, 2, None)  # sent sr-1, received sr-2
    assert value_of(township, "results_recognised") == (80.0, 4, 5)
    assert value_of(township, "vbp_share") == (50.0, 1, 2)
