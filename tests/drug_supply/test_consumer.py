"""The supply consumer: stock from events in any order, days of supply, warnings raised once and cleared once,
the county shortage across two members and its notice, unknown local codes kept."""

from __future__ import annotations

import json
import random
from datetime import date

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from consumers.drug_supply.models import StockEntry, StockLevel, StockWarning
from consumers.drug_supply.records import StockRecordError
from consumers.drug_supply.watch import recheck
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.db.models import ResultOutboxRow
from tests.drug_supply.factories import METFORMIN, apply, at, bound_consumer, stock_event


def history() -> list:
    """A month of one drug at th01: two snapshots, a receipt, daily dispenses, one dispense before the first count."""
    events = [
        stock_event("th01", "early", "dispense", 10, at(25)),
        stock_event("th01", "count1-A", "snapshot", 500, at(20), lot="A", expiry=date(2027, 6, 30)),
        stock_event("th01", "count1-B", "snapshot", 200, at(20), lot="B", expiry=date(2027, 1, 31)),
        stock_event("th01", "rcv1", "receipt", 300, at(10), lot="C", expiry=date(2027, 3, 31)),
        # The count five days ago: B is gone, C partly used. What happened before it is in it.
        stock_event("th01", "count2-A", "snapshot", 300, at(5), lot="A", expiry=date(2027, 6, 30)),
        stock_event("th01", "count2-C", "snapshot", 290, at(5), lot="C", expiry=date(2027, 3, 31)),
    ]
    events += [stock_event("th01", f"d{i}", "dispense", 10, at(i + 0.5)) for i in range(20)]
    return events


def level(db: Database, facility: str = "th01", drug: str = "D0006") -> StockLevel:
    with db.reading() as session:
        row = session.get(StockLevel, (facility, drug))
        assert row is not None
        session.expunge(row)
        return row


def test_stock_on_hand_and_days_of_supply_from_snapshots_and_movements(settings: HubSettings, db: Database) -> None:
    apply(bound_consumer(settings, db), db, *history())
    row = level(db)
    # After the last count (A 300, C 290) five dispenses of 10 left, taken from C (expires first).
    assert row.on_hand == 540
    assert json.loads(row.batches) == [{"lot": "C", "expiry": "2027-03-31", "quantity": 240.0},
                                       {"lot": "A", "expiry": "2027-06-30", "quantity": 300.0}]
    # Dispenses only: 21 of 10 in the last 30 days, over the 25 days since the first record.
    assert row.daily_use == pytest.approx(210 / 25)
    assert row.days_of_supply == pytest.approx(540 / (210 / 25))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_events_in_any_order_with_duplicates_give_the_same_stock(settings: HubSettings, db: Database,
                                                                 seed: int) -> None:
    events = history()
    shuffled = events + random.Random(seed).sample(events, 8)  # some sent twice
    random.Random(seed).shuffle(shuffled)
    consumer = bound_consumer(settings, db)
    for start in range(0, len(shuffled), 5):  # several batches, as the broker delivers them
        apply(consumer, db, *shuffled[start:start + 5])
    row = level(db)
    assert row.on_hand == 540 and row.daily_use == pytest.approx(210 / 25)
    with db.reading() as session:
        assert len(session.scalars(select(StockEntry)).all()) == len(events)  # duplicates skipped by movement id


def test_a_movement_older_than_the_latest_snapshot_is_not_counted_twice(settings: HubSettings, db: Database) -> None:
    consumer = bound_consumer(settings, db)
    apply(consumer, db, stock_event("th01", "c1", "snapshot", 100, at(2), lot="A"))
    apply(consumer, db, stock_event("th01", "late-rcv", "receipt", 50, at(3), lot="A"))  # already in the count
    assert level(db).on_hand == 100
    apply(consumer, db, stock_event("th01", "new-rcv", "receipt", 50, at(1), lot="A"))
    assert level(db).on_hand == 150
    apply(consumer, db, stock_event("th01", "late-count", "snapshot", 80, at(0.5), lot="A"))  # a later count resets
    assert level(db).on_hand == 80


def warnings(db: Database, kind: str | None = None) -> list[StockWarning]:
    with db.reading() as session:
        query = select(StockWarning).order_by(StockWarning.id)
        if kind:
            query = query.where(StockWarning.kind == kind)
        rows = session.scalars(query).all()
        session.expunge_all()
        return list(rows)


def running_out(facility: str, drug: str = METFORMIN) -> list:
    """200 counted 20 days ago, 10 a day dispensed since: none left."""
    return [stock_event(facility, f"{facility}-c", "snapshot", 200, at(20), drug=drug, lot="L1",
                        expiry=date(2028, 1, 1))] + [
        stock_event(facility, f"{facility}-d{i}", "dispense", 10, at(i + 0.5), drug=drug) for i in range(20)]


def test_stock_out_then_low_then_enough_each_raised_once_and_cleared_once(settings: HubSettings, db: Database) -> None:
    consumer = bound_consumer(settings, db)
    apply(consumer, db, *running_out("th01"))
    apply(consumer, db, *running_out("th01"))  # sent again: nothing new
    [out] = warnings(db)
    assert (out.kind, out.status, out.facility_id, out.drug_key) == ("stockout", "open", "th01", METFORMIN)
    apply(consumer, db, stock_event("th01", "r1", "receipt", 50, at(0.2), drug=METFORMIN, lot="L2"))  # 5 days of 10/day
    out, low = warnings(db)
    assert out.status == "cleared" and out.cleared_at is not None and out.open_key is None
    assert (low.kind, low.status) == ("low", "open")
    assert json.loads(low.detail)["days_of_supply"] == 5.0
    apply(consumer, db, stock_event("th01", "r2", "receipt", 500, at(0.1), drug=METFORMIN, lot="L3"))
    assert [(w.kind, w.status) for w in warnings(db)] == [("stockout", "cleared"), ("low", "cleared")]
    apply(consumer, db, stock_event("th01", "r2", "receipt", 500, at(0.1), drug=METFORMIN, lot="L3"))
    assert len(warnings(db)) == 2


def test_a_county_shortage_across_two_members_is_raised_once_and_cleared_once_with_notices(
        settings: HubSettings, db: Database) -> None:
    consumer = bound_consumer(settings, db)
    apply(consumer, db, *running_out("th01"))
    assert warnings(db, "shortage") == []  # one member is not a county shortage (threshold 2)
    apply(consumer, db, *running_out("vc03"))
    apply(consumer, db, *running_out("vc03"))
    [shortage] = warnings(db, "shortage")
    assert (shortage.status, shortage.facility_id) == ("open", "county")
    assert json.loads(shortage.detail)["members"] == ["th01", "vc03"]
    apply(consumer, db, stock_event("th01", "big", "receipt", 1000, at(0.1), drug=METFORMIN, lot="L9"))
    [shortage] = warnings(db, "shortage")
    assert shortage.status == "cleared"
    apply(consumer, db, stock_event("th01", "big", "receipt", 1000, at(0.1), drug=METFORMIN, lot="L9"))
    assert len(warnings(db, "shortage")) == 1
    with db.reading() as session:
        rows = session.scalars(select(ResultOutboxRow).order_by(ResultOutboxRow.seq)).all()
        assert [r.topic for r in rows] == ["hub.notice.v1", "hub.notice.v1"]
        assert all(r.key == f"hub-pharmacy/shortage-{shortage.id}".encode() for r in rows)


def test_near_expiry_batches_are_warned_by_lot_and_cleared_when_gone(settings: HubSettings, db: Database) -> None:
    consumer = bound_consumer(settings, db)
    apply(consumer, db, stock_event("th02", "c1", "snapshot", 30, at(1), lot="OLD", expiry=date(2027, 1, 10)),
          stock_event("th02", "c2", "snapshot", 300, at(1), lot="NEW", expiry=date(2028, 1, 10)))
    [near] = warnings(db)
    assert (near.kind, near.lot, near.status) == ("near_expiry", "OLD", "open")
    assert json.loads(near.detail)["days_left"] == (date(2027, 1, 10) - date(2026, 11, 23)).days
    apply(consumer, db, stock_event("th02", "x1", "expiry", 30, at(0.5), lot="OLD"))
    [near] = warnings(db)
    assert near.status == "cleared"


def test_an_unknown_local_code_is_kept_and_shown(settings: HubSettings, db: Database) -> None:
    apply(bound_consumer(settings, db), db, stock_event("vc05", "c1", "snapshot", 12, at(1), local="YP-778"))
    row = level(db, "vc05", "local:YP-778")
    assert row.community_code is None and row.local_code == "YP-778" and row.on_hand == 12


def test_a_broken_stock_record_is_a_permanent_error_naming_the_problem(settings: HubSettings, db: Database) -> None:
    event = stock_event("th01", "bad", "receipt", 5, at(1))
    for ext in event.resource["extension"]:
        if ext["url"].endswith("quantity"):
            ext["valueQuantity"]["value"] = -5
    with pytest.raises(StockRecordError, match="a receipt quantity must not be negative"):
        apply(bound_consumer(settings, db), db, event)


def test_the_re_check_raises_near_expiry_as_time_passes_and_sets_the_gauges(settings: HubSettings,
                                                                            db: Database) -> None:
    apply(bound_consumer(settings, db), db,
          stock_event("th03", "c1", "snapshot", 40, at(1), lot="L", expiry=date(2027, 2, 24)), *running_out("vc09"))
    assert [w.kind for w in warnings(db)] == ["stockout"]  # 93 days to expiry: not near yet
    desk = bound_consumer(settings, db).desk
    assert recheck(db, desk, at(-5)) == 2  # five days on, no event came
    assert [(w.kind, w.lot) for w in warnings(db) if w.status == "open"] == [("stockout", ""), ("near_expiry", "L")]
    assert REGISTRY.get_sample_value("hub_supply_warnings_open", {"kind": "near_expiry"}) == 1
    assert REGISTRY.get_sample_value("hub_supply_county_shortages_open") == 0
