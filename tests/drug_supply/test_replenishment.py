"""Replenishment of village clinics: to the target days, township first then county, first-expiring batches
first, suppliers keep their reserve, deliveries on the way count."""

from __future__ import annotations

from datetime import date

from consumers.drug_supply.hierarchy import suppliers, villages
from consumers.drug_supply.ledger import Batch
from consumers.drug_supply.replenishment import Holding, Line, suggest

PARENTS = {"vc01": "th01", "vc02": "th01", "th01": "cty01"}
TODAY = date(2026, 11, 23)


def holding(on_hand: float, use: float, *batches: tuple[str, str, float]) -> Holding:
    return Holding(on_hand, use, tuple(Batch(lot, date.fromisoformat(exp), q) for lot, exp, q in batches), "二甲双胍片")


def test_the_hierarchy_names_villages_and_their_suppliers_nearest_first() -> None:
    assert villages(PARENTS) == ["vc01", "vc02"]
    assert suppliers(PARENTS, "vc01") == ["th01", "cty01"]
    assert suppliers(PARENTS, "th01") == ["cty01"]


def test_a_village_is_brought_to_target_from_the_first_expiring_batches_of_its_township_then_the_county() -> None:
    holdings = {
        ("vc01", "D0011"): holding(20, 10),  # 2 days left: needs 30 * 10 - 20 = 280
        ("th01", "D0011"): holding(300, 10, ("T-EARLY", "2027-02-01", 100), ("T-LATE", "2027-09-01", 200)),
        ("cty01", "D0011"): holding(5000, 10, ("C-LATE", "2028-01-01", 4000), ("C-EARLY", "2027-05-01", 1000)),
    }
    [s] = suggest(holdings, PARENTS, {}, target_days=30, reserve_days=14, today=TODAY)
    assert (s.village, s.need, s.days_of_supply) == ("vc01", 280, 2.0)
    # th01 keeps 14 days (140) of its 300: 160 to give, T-EARLY first; the county gives the rest, C-EARLY first.
    assert s.lines == (Line("th01", "T-EARLY", date(2027, 2, 1), 100), Line("th01", "T-LATE", date(2027, 9, 1), 60),
                       Line("cty01", "C-EARLY", date(2027, 5, 1), 120))
    assert s.short == 0


def test_deliveries_on_the_way_expired_batches_and_two_villages_sharing_one_township() -> None:
    holdings = {
        ("vc01", "D0011"): holding(0, 10),
        ("vc02", "D0011"): holding(100, 10),
        ("th01", "D0011"): holding(200, 0, ("EXPIRED", "2026-11-01", 100), ("OK", "2027-06-01", 100)),
    }
    found = suggest(holdings, {"vc01": "th01", "vc02": "th01", "th01": "cty01"}, {("vc01", "D0011"): 250},
                    target_days=30, reserve_days=14, today=TODAY)
    assert [(s.village, s.need) for s in found] == [("vc01", 50), ("vc02", 200)]  # vc01: 0 days, first
    assert found[0].lines == (Line("th01", "OK", date(2027, 6, 1), 50),)  # never the expired batch
    assert found[1].lines == (Line("th01", "OK", date(2027, 6, 1), 50),)  # what vc01 left
    assert found[1].short == 150
