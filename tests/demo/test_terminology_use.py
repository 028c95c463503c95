"""The demo county draws its drugs, lab tests, panels and diagnoses from the community terminology,
and writes each vendor's local codes as that vendor's mapping file reads them back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from connectors.his_db.mapping import load_mapping, term_tables
from hub.core.terminology import SECTIONS, Term, community_terminology
from hub.tools.demo import catalogues
from hub.tools.demo.county import build_county
from hub.tools.demo.generator import CountySimulator

# Where each vendor's HIS keeps the coded facts: (table, code column, name column, mapping code table).
CODED_COLUMNS = {
    "vendor_a": (("op_visit", "diag_code", "diag_name", "diagnosis"), ("rx_detail", "drug_code", "drug_name", "drug"),
                 ("lab_report", "panel_code", None, "panel"), ("lab_item", "item_code", "item_name", "lab")),
    "vendor_b": (("JZJL", "ZDDM", "ZDMC", "diagnosis"), ("CFMX", "YPDM", "YPMC", "drug"),
                 ("JYBG", "XMDM", None, "panel"), ("JYMX", "ZBDM", "ZBMC", "lab")),
}
LOCAL_ONLY: tuple[Term, ...] = (*catalogues.LOCAL_ONLY_DRUGS, catalogues.LOCAL_ONLY_LAB)


def test_the_demo_s_lists_are_the_terminology_s() -> None:
    terms = community_terminology()
    assert terms.drugs == catalogues.DRUGS and terms.lab_tests == catalogues.LAB_TESTS
    assert terms.lab_panels == catalogues.PANELS and terms.diagnoses == catalogues.DIAGNOSES
    names = {t.name for section in SECTIONS for t in terms.section(section).values()}
    for item in LOCAL_ONLY:  # the deliberate exceptions: no community term at all
        assert not item.code and item.name not in names


@pytest.mark.parametrize("vendor", ["vendor_a", "vendor_b"])
def test_every_term_has_a_local_code_that_maps_back_to_it(vendor: str) -> None:
    mapping = load_mapping(vendor)
    codes = catalogues.vendor_codes(vendor)
    for table, section in term_tables(mapping).items():
        for term in getattr(community_terminology(), section):
            local = codes.local(section, term)
            assert mapping.code_tables[table][local] == term.code
    local_only = {codes.local("drugs", d) for d in catalogues.LOCAL_ONLY_DRUGS}
    local_only.add(codes.local("lab_tests", catalogues.LOCAL_ONLY_LAB))
    assert not local_only & {str(k) for t in term_tables(mapping) for k in mapping.code_tables[t]}


def test_what_the_simulator_writes_is_in_the_terminology(tmp_path: Path) -> None:
    terms = community_terminology()
    county = build_county(tmp_path)
    simulator = CountySimulator(county, seed=17)
    simulator.seed_population(patients_per_facility=5)
    simulator.step(1500)
    simulator.close()
    seen: dict[str, set[str]] = {}
    for vendor, facility_id in (("vendor_a", "cty01"), ("vendor_b", "th01")):
        mapping = load_mapping(vendor)
        sections = term_tables(mapping)
        local_only = {catalogues.vendor_codes(vendor).local("drugs", d) for d in catalogues.LOCAL_ONLY_DRUGS}
        local_only.add(catalogues.vendor_codes(vendor).local("lab_tests", catalogues.LOCAL_ONLY_LAB))
        with create_engine(county.facility(facility_id).database_url).connect() as conn:
            for table, code_column, name_column, code_table in CODED_COLUMNS[vendor]:
                names = f", {name_column}" if name_column else ""
                for row in conn.execute(text(f"SELECT DISTINCT {code_column}{names} FROM {table}")):
                    if row[0] in local_only:
                        continue
                    community = mapping.code_tables[code_table].get(row[0])
                    assert community is not None, f"{vendor} {table}.{code_column} = {row[0]!r} maps to nothing"
                    term = terms.section(sections[code_table])[community]
                    assert name_column is None or row[1] == term.name
                    seen.setdefault(sections[code_table], set()).add(community)
    assert set(seen) == {"diagnoses", "drugs", "lab_panels", "lab_tests"}
    assert seen["lab_panels"] == {p.code for p in terms.lab_panels}
