"""The community terminology file: the shipped one, and one clear line for each mistake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.core.terminology import (
    ATC,
    ATC_CODE,
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
    assert len(terms.drugs) >= 200
    assert (len(terms.lab_tests), len(terms.lab_panels), len(terms.diagnoses)) == (13, 4, 26)
    assert terms.drug("D0001").coding() == {"system": COMMUNITY_DRUG, "code": "D0001", "display": "阿莫西林胶囊"}
    assert terms.drug("D0001").codings() == [terms.drug("D0001").coding(),
                                             {"system": ATC, "code": "J01CA04", "display": "阿莫西林"}]
    assert terms.drug("D0001").atc == "J01CA04" and terms.drug("D0023").strength is None  # 复方甘草片: a compound
    assert terms.lab_test("HGB").coding() == {"system": LOINC, "code": "718-7", "display": "血红蛋白"}
    assert (terms.lab_test("HGB").low, terms.lab_test("HGB").high) == (115, 175)
    assert [t.code for t in terms.lab_panel("RENAL").tests] == ["CREA", "EGFR", "BUN", "ALT"]
    assert terms.diagnosis("E11.9").coding() == {"system": ICD10, "code": "E11.9", "display": "2型糖尿病"}
    assert not any(d.nhsa for d in terms.drugs)  # no national code is shipped that nobody has checked
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
        (("atc: J01CA04", "atc: J01CA4"), "drugs[0] (D0001): atc 'J01CA4' is not a WHO ATC code"),
        (("atc: J01CA04", "atc: J01CA04, essential: 'yes'"), "essential must be true or false, not 'yes'"),
        (("atc: J01CA04", "atc: J01CA04, chronic: [asthma]"), "chronic must be a list of hypertension, diabetes"),
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


# The code, with its meaning, of every drug the catalogue had before it grew: codes are never reused.
FIRST_32 = ["阿莫西林胶囊", "头孢克肟分散片", "左氧氟沙星片", "阿奇霉素片", "硝苯地平缓释片", "苯磺酸氨氯地平片", "厄贝沙坦片", "缬沙坦胶囊", "美托洛尔缓释片",
            "氢氯噻嗪片", "二甲双胍片", "格列美脲片", "阿卡波糖片", "胰岛素注射液", "阿司匹林肠溶片", "阿托伐他汀钙片", "瑞舒伐他汀钙片", "氯吡格雷片",
            "奥美拉唑肠溶胶囊", "铝碳酸镁咀嚼片", "布洛芬缓释胶囊", "对乙酰氨基酚片", "复方甘草片", "氨溴索片", "沙丁胺醇气雾剂", "氯雷他定片", "0.9%氯化钠注射液",
            "5%葡萄糖注射液", "维生素B1片", "碳酸钙D3片", "板蓝根颗粒", "藿香正气水"]


def test_the_first_codes_keep_their_products() -> None:
    terms = community_terminology()
    assert [terms.drug(f"D{n:04d}").name for n in range(1, 33)] == FIRST_32


def test_every_drug_of_the_catalogue_is_well_formed() -> None:
    drugs = community_terminology().drugs
    codes = [d.code for d in drugs]
    assert len(set(codes)) == len(codes) and all(re.fullmatch(r"D\d{4}", c) for c in codes)
    assert len({d.name for d in drugs}) == len(drugs)
    for drug in drugs:
        assert drug.atc is None or ATC_CODE.match(drug.atc), drug
        assert drug.generic and drug.source, drug
        assert drug.atc is None or "WHO ATC/DDD Index" in drug.source, drug
        assert not drug.essential or "国家基本药物目录(2018年版)" in drug.source, drug
        assert drug.vbp is None or f"国家组织药品集中采购{drug.vbp}中选结果" in drug.source, drug
    with_substance = [d for d in drugs if d.atc and len(d.atc) == 7]
    assert len(with_substance) > 0.8 * len(drugs)


def test_the_catalogue_covers_what_county_and_township_formularies_need() -> None:
    drugs = community_terminology().drugs
    generics = {d.generic for d in drugs}
    assert {"华法林", "利伐沙班", "达比加群酯", "肝素", "阿司匹林", "氯吡格雷", "二甲双胍", "甘精胰岛素"} <= generics
    for atc_class, at_least in (("J01", 30), ("C", 40), ("A10", 20), ("R", 15), ("A02", 8), ("M01", 6), ("B01", 10),
                                ("N05", 10), ("N06", 6), ("H03", 3), ("H02", 4), ("B05", 10), ("A11", 4)):
        assert sum(1 for d in drugs if (d.atc or "").startswith(atc_class)) >= at_least, atc_class
    assert sum(1 for d in drugs if d.atc is None) >= 20  # traditional Chinese medicines and compounds
    assert any(d.route == "静脉滴注" for d in drugs) and any(d.form in ("混悬液", "干混悬剂") for d in drugs)


def test_the_flags_are_used_on_a_plausible_share() -> None:
    drugs = community_terminology().drugs
    essential = sum(d.essential for d in drugs)
    assert 0.4 * len(drugs) < essential < 0.9 * len(drugs)  # the 2018 list has 685 products; not every one here
    assert 20 <= sum(d.vbp is not None for d in drugs) < 0.3 * len(drugs)
    assert {d.vbp for d in drugs} - {None} <= {f"第{n}批" for n in "一二三四五六七八九十"}
    hypertension = [d for d in drugs if "hypertension" in d.chronic]
    diabetes = [d for d in drugs if "diabetes" in d.chronic]
    assert len(hypertension) >= 20 and len(diabetes) >= 15
    assert all(d.atc and d.atc.startswith("A10") for d in diabetes)
    assert all(d.atc is None or d.atc[0] == "C" for d in hypertension)


@pytest.mark.parametrize("drug", community_terminology().drugs, ids=lambda d: d.code)
def test_every_drug_is_found_by_its_codes(drug: Drug) -> None:
    terms = community_terminology()
    assert terms.find_drug([{"system": COMMUNITY_DRUG, "code": drug.code}]) == drug
    assert terms.find_drug(drug.codings()[1:] or drug.codings(), text=drug.name) == drug
    if drug.atc:
        assert terms.find_drug([{"system": ATC, "code": drug.atc, "display": drug.name}]) == drug
        by_generic = terms.find_drug([{"system": ATC, "code": drug.atc}], text=drug.generic)
        assert by_generic is not None and (by_generic.generic, by_generic.atc) == (drug.generic, drug.atc)
