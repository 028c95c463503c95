"""The demo's prescription lines: paediatric products by weight, usual adult regimens, and the lines the
central pharmacy's review must stop (adult dose for a child, warfarin + an NSAID across members,
metformin with an eGFR below 30 from the county laboratory)."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import pytest

from hub.tools.demo import prescribing
from hub.tools.demo.county import build_county
from hub.tools.demo.generator import CST, LOW_EGFR, WARFARIN, CountySimulator
from hub.tools.demo.people import person


def test_a_child_gets_a_paediatric_product_dosed_by_weight() -> None:
    rng = random.Random(3)
    for weight in (10.0, 24.0):
        for _ in range(30):
            line = prescribing.child_line(rng, weight)
            per_kg, freq, days = prescribing.PAEDIATRIC[line.drug.name]
            assert line.weight_kg == weight and (line.freq, line.days) == (freq, days) and line.qty >= 1
            if per_kg is not None:
                mg = float(line.dose.removesuffix("mg"))
                assert 0 <= per_kg * weight - mg < 5, line  # rounded down, never above the label's mg/kg
            else:  # one unit per dose, written in mg when the unit has a plain strength
                mg = prescribing.strength_mg(line.drug)
                assert line.dose == (f"{mg:g}mg" if mg is not None else f"1{line.drug.unit}"), line


def test_the_lines_the_review_should_stop() -> None:
    rng = random.Random(5)
    adult = prescribing.adult_dose_for_child(rng, 14.0)
    assert adult.drug.name in {name for name, _, _ in prescribing.ADULT_FOR_CHILD} and adult.weight_kg == 14.0
    assert prescribing.strength_mg(adult.drug) is not None and adult.dose.endswith("mg")
    assert prescribing.warfarin().drug.generic == "华法林"
    assert prescribing.interacting_with_warfarin(rng).drug.atc[:3] in ("B01", "M01")
    metformin = prescribing.metformin()
    assert (metformin.drug.atc, metformin.dose, metformin.freq) == ("A10BA02", "500mg", "tid")


def test_an_adult_line_has_a_dose_a_unit_and_a_route() -> None:
    rng = random.Random(9)
    for _ in range(300):
        line = prescribing.adult_line(rng)
        assert line.drug.name not in prescribing.PAEDIATRIC and line.route and line.qty >= 1 and line.weight_kg is None
        assert line.freq in prescribing.PER_DAY and line.dose


@pytest.fixture
def simulator(tmp_path: Path):
    simulator = CountySimulator(build_county(tmp_path), seed=17)
    simulator.rng = random.Random(17)  # the simulator mixes the clock into its own; fixed here
    simulator.seed_population(patients_per_facility=4)
    yield simulator
    simulator.close()


def _age(simulator: CountySimulator, index: int, now: datetime) -> float:
    return prescribing.age_years(person(simulator.seed, index).birth_date, now.date())


def test_the_simulator_s_review_scenarios(simulator: CountySimulator) -> None:
    now = datetime.now(CST)
    county, township = simulator.members["cty01"], simulator.members["th01"]
    people = sorted({i for registered in simulator.registered.values() for _, i in registered})
    old = next(i for i in people if _age(simulator, i, now) >= 60)
    child = next(i for i in people if _age(simulator, i, now) < prescribing.CHILD_AGE)

    # Warfarin at the county hospital, then an NSAID or aspirin at a township for the same person.
    for _ in range(300):
        if any(line.drug.generic == "华法林" for line in simulator._prescription(county, old, now)):
            break
    assert old in simulator.scenario[WARFARIN]
    interacting = {name for name, _, _ in prescribing.INTERACTING}
    assert any(line.drug.name in interacting for _ in range(20) for line in simulator._prescription(township, old, now))

    # A renal panel at the county laboratory with an eGFR below 30, then metformin.
    pid = "A0000001"  # the row's local number; the scenario follows the person (index)
    for _ in range(100):
        simulator._lab(county, 1, pid, old, now)
        if old in simulator.scenario[LOW_EGFR]:
            break
    assert old in simulator.scenario[LOW_EGFR]
    reports = [simulator._lab(county, 1, pid, old, now) for _ in range(20)]  # failing kidneys stay failing
    egfr = [v for r in reports for table, v in r.inserts if table == "lab_item" and v["item_code"] == "LA-EGFR"]
    assert egfr and all(float(v["value"]) < 30 and v["flag"] == "L" for v in egfr)
    assert any(line.drug.generic == "二甲双胍" for _ in range(20) for line in simulator._prescription(township, old, now))

    # Children: paediatric products with a weight, and now and then an adult product.
    lines = [line for _ in range(200) for line in simulator._prescription(township, child, now)]
    assert all(line.weight_kg for line in lines if line.drug.code)
    assert any(line.drug.name in prescribing.PAEDIATRIC for line in lines)
    assert any(line.drug.name in {name for name, _, _ in prescribing.ADULT_FOR_CHILD} for line in lines)


def test_the_scenarios_survive_a_restart(tmp_path: Path) -> None:
    county = build_county(tmp_path)
    first = CountySimulator(county, seed=17)
    first._remember(WARFARIN, 3)
    first._state.commit()
    first.close()
    again = CountySimulator(county, seed=17)
    assert again.scenario[WARFARIN] == {3}
    again.close()
