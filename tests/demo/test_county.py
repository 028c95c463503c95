"""The simulated county: members, vendor schemas, realistic residents, restarts that continue."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from hub.core.identifiers import resident_id_valid
from hub.tools.demo.county import build_county
from hub.tools.demo.generator import CountySimulator, table_counts
from hub.tools.demo.people import person


def test_roster_has_the_shape_of_a_county(tmp_path: Path) -> None:
    county = build_county(tmp_path)
    kinds = [f.kind for f in county.facilities]
    assert kinds.count("county") == 1 and kinds.count("township") >= 5 and kinds.count("village") >= 20
    assert {f.vendor for f in county.facilities} == {"vendor_a", "vendor_b"}
    assert len(county.connector_configs) == len(county.facilities)
    assert all(p.exists() for p in county.connector_configs)


def test_residents_have_valid_ids_except_the_realistic_few() -> None:
    people = [person(7, i) for i in range(3000)]
    with_id = [p for p in people if p.resident_id]
    valid = [p for p in with_id if resident_id_valid(p.resident_id)]
    assert 0.90 < len(with_id) / len(people) < 0.99  # some missing: children, the very old
    assert 0.97 < len(valid) / len(with_id) < 1.0  # about 1% mistyped
    for p in valid[:200]:
        assert p.resident_id[6:14] == p.birth_date.strftime("%Y%m%d")
        assert int(p.resident_id[16]) % 2 == (1 if p.sex == "male" else 0)
    assert person(7, 42) == person(7, 42)  # the same person on every run


def test_simulation_writes_every_kind_of_record_and_restarts_continue(tmp_path: Path) -> None:
    county = build_county(tmp_path)
    simulator = CountySimulator(county, seed=3)
    simulator.seed_population(patients_per_facility=5)
    simulator.step(1500)
    simulator.close()
    counts = table_counts(county)
    a, b = counts["cty01"], counts["th01"]
    assert all(a[t] > 0 for t in ("pat_info", "op_visit", "rx_detail", "lab_report", "lab_item"))
    assert all(b[t] > 0 for t in ("HZXX", "JZJL", "CFMX", "JYBG", "JYMX"))
    assert sum(c.get("ecg_order", 0) + c.get("XDTSQ", 0) for c in counts.values()) > 0

    again = CountySimulator(build_county(tmp_path), seed=3)  # a restart on the same data
    assert again.seed_population() == 0
    again.step(500)  # would fail on a duplicate primary key
    again.close()
    assert sum(sum(c.values()) for c in table_counts(county).values()) > sum(sum(c.values()) for c in counts.values())


def test_one_person_is_registered_at_several_members(tmp_path: Path) -> None:
    county = build_county(tmp_path)
    simulator = CountySimulator(county, seed=5)
    simulator.seed_population(patients_per_facility=5)
    simulator.step(3000)
    assert any(len(facilities) > 1 for facilities in simulator.where.values())
    index = next(i for i, f in simulator.where.items() if len(f) > 1)
    names = set()
    for facility_id in simulator.where[index]:
        facility = county.facility(facility_id)
        pid = next(p for p, i in simulator.registered[facility_id] if i == index)
        table, key, name = ("pat_info", "pat_id", "name") if facility.vendor == "vendor_a" else ("HZXX", "BRID", "XM")
        with create_engine(facility.database_url).connect() as conn:
            names.add(conn.execute(text(f"SELECT {name} FROM {table} WHERE {key} = :k"), {"k": pid}).scalar())
    simulator.close()
    assert names == {person(5, index).name}
