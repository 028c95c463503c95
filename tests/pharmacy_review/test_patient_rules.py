"""Age (paediatric and elderly) and pregnancy rules."""

from __future__ import annotations

from tests.pharmacy_review.factories import kinds, med, only, patient, review

LEVOFLOXACIN = med("J01MA12", "左氧氟沙星片", dose=(500, "mg"), per_day=1)


def test_fluoroquinolone_for_a_child_holds() -> None:
    result = review(LEVOFLOXACIN, patient(age=12, weight=40))
    finding = only(result, "age")
    assert finding.rule_id == "age.fluoroquinolone-child" and finding.action == "hold" and result.outcome == "hold"
    assert "under 18" in finding.message_en


def test_fluoroquinolone_for_an_adult_has_no_age_finding() -> None:
    assert "age" not in kinds(review(LEVOFLOXACIN, patient(age=30)))


def test_tetracycline_under_eight_holds() -> None:
    doxycycline = med("J01AA02", "多西环素片", dose=(50, "mg"), per_day=2)
    assert only(review(doxycycline, patient(age=6, weight=20)), "age").action == "hold"
    assert "age" not in kinds(review(doxycycline, patient(age=9, weight=30)))


def test_aspirin_for_a_child_holds() -> None:
    assert only(review(med("N02BA01", "阿司匹林片", dose=(300, "mg"), per_day=3), patient(age=10, weight=30)),
                "age").rule_id == "age.aspirin-child"


def test_elderly_caution_for_long_acting_sulfonylurea_and_benzodiazepine() -> None:
    glimepiride = med("A10BB12", "格列美脲片", dose=(2, "mg"), per_day=1)
    diazepam = med("N05BA01", "地西泮片", dose=(2.5, "mg"), per_day=1)
    assert only(review(glimepiride, patient(age=72)), "age").rule_id == "age.elderly-long-sulfonylurea"
    assert only(review(diazepam, patient(age=65)), "age").rule_id == "age.elderly-benzodiazepine"
    assert "age" not in kinds(review(glimepiride, patient(age=64)))
    assert "age" not in kinds(review(diazepam, patient(age=40)))


def test_pregnancy_contraindication_holds() -> None:
    warfarin = med("B01AA03", "华法林钠片", dose=(3, "mg"), per_day=1)
    result = review(warfarin, patient(age=30, sex="female", pregnant=True))
    finding = only(result, "pregnancy")
    assert finding.action == "hold" and finding.severity == "high" and "pregnant" in finding.message_en


def test_pregnancy_rule_by_class_prefix() -> None:
    enalapril = med("C09AA02", "依那普利片", dose=(10, "mg"), per_day=1)
    assert only(review(enalapril, patient(age=30, sex="female", pregnant=True)), "pregnancy").rule_id == \
        "pregnancy.acei-arb"


def test_not_pregnant_or_unknown_has_no_pregnancy_finding() -> None:
    warfarin = med("B01AA03", "华法林钠片", dose=(3, "mg"), per_day=1)
    assert review(warfarin, patient(age=30, sex="female", pregnant=False)).outcome == "pass"
    assert review(warfarin, patient(age=30, sex="female", pregnant=None)).outcome == "pass"
    assert review(med("J01CA04", "阿莫西林胶囊", dose=(500, "mg"), per_day=3),
                  patient(age=30, sex="female", pregnant=True)).outcome == "pass"
