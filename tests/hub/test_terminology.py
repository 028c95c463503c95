"""The community terminology file: the shipped one, and one clear line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.core.terminology import (
    ATC,
    COMMUNITY_DRUG,
    DEFAULT_FILE,
    ICD10,
    LOINC,
    NHSA_DRUG,
    SECTIONS,
    Drug,
    TerminologyFileError,
    community_terminology,
    load_terminology,
)

GOOD = """
drugs:
  - {code: D0001, name: 阿莫西林胶囊, form: 胶囊, strength: 0.25g, unit: 粒, route: 口服, atc: J01CA04, nhsa: XJ01}
lab_tests:
  - {code: GLU, name: 葡萄糖, loinc: 2345-7, unit: mmol/L, low: 3.9, high: 6.1, decimals: 2}
  - {code: HBA1C, name: 糖化血红蛋白, loinc: 4548-4, unit: "%", low: 4, high: 6}
lab_panels:
  - {code: GLU, name: 血糖, loinc: 2345-7, tests: [GLU, HBA1C]}
diagnoses:
  - {code: I10, name: 原发性高血压}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "terminology.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_terminology() -> None:
    terms = community_terminology()
    assert terms.source == DEFAULT_FILE
    assert community_terminology() is terms  # read once
    assert (len(terms.drugs), len(terms.lab_tests), len(terms.lab_panels), len(terms.diagnoses)) == (32, 12, 4, 26)
    assert terms.drug("D0001").coding() == {"system": NHSA_DRUG, "code": "XJ01B037A00101000001", "display": "阿莫西林胶囊"}
    assert terms.drug("D0001").atc == "J01CA04" and terms.drug("D0023").strength is None  # 复方甘草片: a compound
    assert terms.lab_test("HGB").coding() == {"system": LOINC, "code": "718-7", "display": "血红蛋白"}
    assert (terms.lab_test("HGB").low, terms.lab_test("HGB").high) == (115, 175)
    assert [t.code for t in terms.lab_panel("RENAL").tests] == ["CREA", "BUN", "ALT"]
    assert terms.diagnosis("E11.9").coding() == {"system": ICD10, "code": "E11.9", "display": "2型糖尿病"}
    assert all(d.nhsa for d in terms.drugs)  # every shipped drug carries its national code
    for section in SECTIONS:
        assert list(terms.section(section)) == [t.code for t in getattr(terms, section)]
    with pytest.raises(KeyError, match="'D9999' is not in drugs"):
        terms.drug("D9999")


def test_a_custom_file_and_a_drug_with_no_national_code(tmp_path: Path) -> None:
    terms = load_terminology(write(tmp_path, GOOD))
    assert terms.lab_test("HBA1C").decimals == 1  # the default precision
    assert terms.lab_panel("GLU").tests == (terms.lab_test("GLU"), terms.lab_test("HBA1C"))
    local = Drug("D0900", "止咳合剂", "合剂", "100ml", "瓶", "口服", atc=None, nhsa=None)
    assert local.coding() == {"system": COMMUNITY_DRUG, "code": "D0900", "display": "止咳合剂"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("diagnoses:\n  - {code: I10, name: 原发性高血压}\n", ""), "diagnoses: missing, or not a list"),
        (("lab_panels:", "panels: []\nlab_panels:"), "file: unknown key 'panels'"),
        (("atc: J01CA04", "atc: J01CA04, price: 3"), "drugs[0] (D0001): unknown key 'price'"),
        ((", route: 口服", ""), "drugs[0] (D0001): route is missing"),
        (("name: 阿莫西林胶囊", "name: 123"), "drugs[0] (D0001): name must be text, not 123"),
        (("code: HBA1C", "code: GLU"), "lab_tests[1] (GLU): code 'GLU' is given twice"),
        (("code: I10", "code: 'I 10'"), "diagnoses[0] (I 10): code 'I 10' must be letters, digits"),
        (("low: 3.9", "low: 7.0"), "lab_tests[0] (GLU): the reference range is upside down (low 7.0 > high 6.1)"),
        (("high: 6.1", "high: '6.1'"), "lab_tests[0] (GLU): high must be a number, not '6.1'"),
        (("decimals: 2", "decimals: 2.5"), "decimals must be a whole number from 0 to 6, not 2.5"),
        (("tests: [GLU, HBA1C]", "tests: [GLU, ZN]"), "lab_panels[0] (GLU): test 'ZN' is not in lab_tests"),
        (("tests: [GLU, HBA1C]", "tests: []"), "tests must be a non-empty list"),
        (("- {code: I10", "- [I10"), "line 10: not valid YAML"),
        (("diagnoses:\n  - {code: I10, name: 原发性高血压}\n", "diagnoses:\n  - I10\n"),
         "diagnoses[0]: must be a mapping with code, name"),
    ],
)
def test_a_bad_file_is_refused_with_one_clear_line(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(TerminologyFileError) as caught:
        load_terminology(path)
    assert str(caught.value).startswith(f"terminology {path}: ")
    assert expected in str(caught.value)


def test_an_unreadable_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(TerminologyFileError, match="cannot read terminology"):
        load_terminology(tmp_path / "missing.yaml")
    with pytest.raises(TerminologyFileError, match="file: must be a mapping"):
        load_terminology(write(tmp_path, ""))


def test_a_drug_is_found_by_community_code_national_code_or_atc_with_its_generic_name() -> None:
    terms = community_terminology()
    drug = terms.drug("D0001")
    assert terms.find_drug([{"system": COMMUNITY_DRUG, "code": "D0001"}]) == drug
    if drug.nhsa:
        assert terms.find_drug([{"system": NHSA_DRUG, "code": drug.nhsa}]) == drug
    assert terms.find_drug([{"system": ATC, "code": drug.atc, "display": drug.name}]) == drug
    assert terms.find_drug([{"system": ATC, "code": drug.atc}], text="某药") is None  # an ATC code alone is a class
    assert terms.find_drug([{"system": "urn:hub:code:local-drug:thc-01", "code": "WA-0001"}]) is None
