"""Vendor mappings take drugs, lab tests, panels and diagnoses from the community terminology: every
local code resolves to a community term, no mapping carries its own copy, and a wrong file stops at load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.his_db.mapping import BUILTIN_DIR, MappingFileError, load_mapping, map_row, term_tables
from hub.core import terminology
from hub.core.fhir import validate_resource
from hub.core.terminology import COMMUNITY_DRUG, ICD10, LOINC, NHSA_DRUG, community_terminology

BUILTIN = sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))
TERM_SYSTEMS = {LOINC, ICD10, NHSA_DRUG, COMMUNITY_DRUG}
ROW_B = {"CFMXID": 1, "CFH": "RX1", "JZID": 1, "BRID": "0000000001", "YPDM": "YP00111", "YPMC": "二甲双胍片",
         "YL": "0.5g", "PC": "tid", "TS": 7, "SL": 21, "DW": "片", "YF": "口服", "TZ": None,
         "KFSJ": "2026-11-23 08:00:00", "XGSJ": "2026-11-23 08:00:00.000001"}


def test_there_are_built_in_mappings() -> None:
    assert BUILTIN == ["vendor_a", "vendor_b"]


@pytest.mark.parametrize("vendor", BUILTIN)
def test_every_local_code_resolves_to_a_community_term(vendor: str) -> None:
    mapping = load_mapping(vendor)
    tables = term_tables(mapping)
    assert tables == {"diagnosis": "diagnoses", "drug": "drugs", "panel": "lab_panels", "lab": "lab_tests"}
    terms = community_terminology()
    for table, section in tables.items():
        entries = mapping.code_tables[table]
        assert entries, f"{vendor}: code table {table} is empty"
        for local, community in entries.items():
            assert isinstance(community, str), f"{vendor}: {table}[{local!r}] is a coding, not a community code"
            assert community in terms.section(section), f"{vendor}: {table}[{local!r}] = {community!r}"


@pytest.mark.parametrize("vendor", BUILTIN)
def test_no_mapping_carries_its_own_copy_of_a_community_code_system(vendor: str) -> None:
    mapping = load_mapping(vendor)
    copies = [(table, local) for table, entries in mapping.code_tables.items() for local, value in entries.items()
              if isinstance(value, dict) and value.get("system") in TERM_SYSTEMS]
    assert copies == []


def test_a_row_gets_the_term_s_coding() -> None:
    mapping = load_mapping("vendor_b")
    spec = next(s for s in mapping.tables if s.name == "prescriptions")
    mapped = map_row(spec, ROW_B, [], "th01", mapping)
    drug = community_terminology().drug("D0011")
    assert mapped.resource["medicationCodeableConcept"]["coding"] == [drug.coding()]
    assert drug.coding() == {"system": COMMUNITY_DRUG, "code": "D0011", "display": "二甲双胍片"}
    assert mapped.flags == [] and "contained" not in mapped.resource  # an adult: no weight written
    (dosage,) = mapped.resource["dosageInstruction"]
    assert dosage["doseAndRate"] == [{"doseQuantity": {"value": 0.5, "unit": "g", "system": "http://unitsofmeasure.org",
                                                       "code": "g"}}]
    assert dosage["timing"]["repeat"] == {"frequency": 3, "period": 1, "periodUnit": "d"}
    assert dosage["route"]["coding"][0]["code"] == "26643006" and dosage["route"]["text"] == "口服"


@pytest.mark.parametrize("vendor", BUILTIN)
def test_an_unmapped_local_drug_code_keeps_its_prescription_with_the_local_coding(vendor: str) -> None:
    """Not an error that loses the prescription: kept, flagged, waiting in the pharmacy's mapping queue."""
    mapping = load_mapping(vendor)
    spec = next(s for s in mapping.tables if s.name == "prescriptions")
    if vendor == "vendor_b":
        row = {**ROW_B, "YPDM": "YP77777", "YPMC": "院内制剂·止咳合剂", "YL": "10ml", "DW": "瓶", "TZ": "16.5"}
    else:
        row = {"rx_line_id": 1, "rx_no": "RX1", "visit_id": 1, "pat_id": "A1", "drug_code": "WA-7777",
               "drug_name": "院内制剂·止咳合剂", "dose": "10ml", "freq": "tid", "days": 3, "qty": 1, "unit": "瓶",
               "route": "口服", "weight_kg": "16.5", "prescribed_at": "2026-11-23 08:00:00",
               "updated_at": "2026-11-23T08:00:00.000001"}
    mapped = map_row(spec, row, [], "th01", mapping)
    code = "YP77777" if vendor == "vendor_b" else "WA-7777"
    assert mapped.resource["medicationCodeableConcept"] == {
        "coding": [{"system": "urn:hub:code:local-drug:th01", "code": code, "display": "院内制剂·止咳合剂"}],
        "text": "院内制剂·止咳合剂"}
    assert mapped.flags == ["unmapped-local-drug-code"]
    assert any(code in note for note in mapped.notes)
    (weight,) = mapped.resource["contained"]  # a child's prescription carries the weight
    assert weight["valueQuantity"]["value"] == 16.5 and weight["code"]["coding"][0]["code"] == "29463-7"
    assert mapped.resource["supportingInformation"] == [{"reference": "#weight"}]
    validate_resource(mapped.resource)


def test_a_dose_that_is_not_one_amount_keeps_its_text_and_no_quantity() -> None:
    mapping = load_mapping("vendor_b")
    spec = next(s for s in mapping.tables if s.name == "prescriptions")
    mapped = map_row(spec, {**ROW_B, "YL": "0.5g/100ml", "YF": "鼻饲"}, [], "th01", mapping)
    (dosage,) = mapped.resource["dosageInstruction"]
    assert "doseAndRate" not in dosage and dosage["text"].startswith("0.5g/100ml")
    assert dosage["route"] == {"text": "鼻饲"}  # a route the code table does not know keeps its text
    assert any("not one number and a unit" in note for note in mapped.notes)


def _copy(tmp_path: Path, vendor: str, edit: Callable[[dict[str, Any]], object]) -> Path:
    data = yaml.safe_load((BUILTIN_DIR / f"{vendor}.yaml").read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / f"{vendor}_edited.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_local_code_pointing_at_no_term_stops_the_mapping_at_load(tmp_path: Path) -> None:
    path = _copy(tmp_path, "vendor_a", lambda d: d["code_tables"]["lab"].update({"LA-ZN": "ZN"}))
    with pytest.raises(MappingFileError, match=r"code table 'lab' maps 'LA-ZN' to 'ZN', which is not in lab_tests"):
        load_mapping(str(path))


def test_a_term_transform_naming_no_section_stops_the_mapping_at_load(tmp_path: Path) -> None:
    def edit(data: dict[str, Any]) -> None:
        prescriptions = next(t for t in data["tables"] if t["name"] == "prescriptions")
        prescriptions["resource"]["medicationCodeableConcept"]["coding"] = ["$drug_code|code:drug|term:medicines"]

    with pytest.raises(MappingFileError, match="term:medicines names no section of the community terminology"):
        load_mapping(str(_copy(tmp_path, "vendor_a", edit)))


def test_a_table_entry_may_still_be_a_whole_coding(tmp_path: Path) -> None:
    """A hospital-made drug with no community term: the member's IT team adds its own coding."""
    own = {"system": "urn:hub:facility:cty01:drug", "code": "WA-9001", "display": "院内制剂·止咳合剂"}
    mapping = load_mapping(str(_copy(tmp_path, "vendor_a", lambda d: d["code_tables"]["drug"].update({"WA-9001": own}))))
    spec = next(s for s in mapping.tables if s.name == "prescriptions")
    row = {"rx_line_id": 1, "rx_no": "RX1", "visit_id": 1, "pat_id": "A1", "drug_code": "WA-9001",
           "drug_name": "院内制剂·止咳合剂", "dose": "10ml", "freq": "tid", "days": 3, "qty": 1, "unit": "瓶",
           "route": "口服", "weight_kg": None, "prescribed_at": "2026-11-23 08:00:00",
           "updated_at": "2026-11-23T08:00:00.000001"}
    assert map_row(spec, row, [], "cty01", mapping).resource["medicationCodeableConcept"]["coding"] == [own]


def test_a_broken_terminology_is_a_mapping_file_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connector reports it as a configuration error at start, naming the terminology file."""
    broken = tmp_path / "terminology.yaml"
    broken.write_text("drugs: []\n", encoding="utf-8")
    monkeypatch.setattr(terminology, "DEFAULT_FILE", broken)
    terminology.community_terminology.cache_clear()
    try:
        with pytest.raises(MappingFileError, match=f"terminology {broken}: lab_tests: missing"):
            load_mapping("vendor_a")
    finally:
        terminology.community_terminology.cache_clear()
