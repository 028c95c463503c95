"""Dose and frequency ranges: adults, children by mg/kg and by age band, the elderly, unit conversion."""

from __future__ import annotations

import pytest

from tests.pharmacy_review.factories import kinds, med, only, patient, review


def test_adult_dose_within_range_passes() -> None:
    result = review(med("J01CA04", "阿莫西林胶囊", dose=(0.5, "g"), per_day=3))
    assert result.outcome == "pass" and result.findings == ()


def test_adult_single_dose_over_the_maximum_holds() -> None:
    result = review(med("J01CA04", "阿莫西林胶囊", dose=(1500, "mg"), per_day=3))
    finding = only(result, "dose")
    assert result.outcome == "hold" and finding.action == "hold" and finding.rule_id == "dose.J01CA04"
    assert "1500 mg" in finding.message_en and "single-dose maximum of 1000 mg" in finding.message_en
    assert "超过成人单次剂量上限" in finding.message_zh and "阿莫西林" in finding.message_zh
    assert finding.source


def test_daily_dose_is_dose_times_per_day() -> None:
    result = review(med("C09AA01", "卡托普利片", dose=(50, "mg"), per_day=4))  # 200 mg > 150 a day, 4 > 3 a day
    assert {"dose", "frequency"} <= kinds(result)
    assert "daily dose 200 mg" in only(result, "dose").message_en


def test_count_units_are_multiplied_by_strength() -> None:
    ok = review(med("A10BA02", "二甲双胍片", dose=(2, "片"), per_day=2, strength_mg=500))  # 2 g a day
    over = review(med("A10BA02", "二甲双胍片", dose=(2, "片"), per_day=3, strength_mg=500))  # 3 g a day
    assert ok.outcome == "pass"
    assert over.outcome == "hold" and "daily dose 3000 mg" in only(over, "dose").message_en


@pytest.mark.parametrize(("dose", "tripped"), [((250, "μg"), False), ((0.25, "mg"), False), ((250, "ug"), False),
                                               ((1, "mg"), True), ((0.001, "g"), True)])
def test_mass_units_convert(dose: tuple[float, str], tripped: bool) -> None:
    result = review(med("C01AA05", "地高辛片", dose=dose, per_day=1))
    assert ("dose" in kinds(result)) is tripped


def test_adult_dose_for_a_child_is_held_by_weight() -> None:
    child = patient(age=3, weight=14)
    result = review(med("J01CA04", "阿莫西林胶囊", dose=(500, "mg"), per_day=3), child)  # 107 mg/kg a day
    finding = only(result, "dose")
    assert result.outcome == "hold" and "child per-kg daily maximum of 1260 mg (90 mg/kg x 14 kg)" in finding.message_en


def test_child_dose_by_weight_within_range_passes() -> None:
    result = review(med("J01CA04", "阿莫西林胶囊", dose=(250, "mg"), per_day=3), patient(age=3, weight=14))
    assert result.outcome == "pass"


def test_child_dose_by_weight_without_weight_fails_safe() -> None:
    result = review(med("J01CA04", "阿莫西林胶囊", dose=(250, "mg"), per_day=3), patient(age=3, weight=None))
    finding = only(result, "failsafe")
    assert finding.action == "hold" and "weight is not known" in finding.message_en


def test_child_age_band() -> None:
    infant = patient(age=1, weight=9)
    over = review(med("R05CB06", "氨溴索口服溶液", dose=(15, "mg"), per_day=3), infant)  # 45 mg > 15 mg a day
    ok = review(med("R05CB06", "氨溴索口服溶液", dose=(7.5, "mg"), per_day=2), infant)
    assert only(over, "dose").action == "warn" and over.outcome == "warn"
    assert ok.outcome == "pass"


def test_the_adult_maximum_caps_a_child() -> None:
    teen = patient(age=16, weight=120)  # 15 mg/kg would allow 1.8 g a dose; the cap is 1 g
    result = review(med("N02BE01", "对乙酰氨基酚片", dose=(1500, "mg"), per_day=2), teen)
    assert "dose" in kinds(result)


def test_elderly_limits_replace_adult_ones() -> None:
    zolpidem = med("N05CF02", "酒石酸唑吡坦片", dose=(10, "mg"), per_day=1)
    assert "dose" not in kinds(review(zolpidem, patient(age=50)))
    finding = only(review(zolpidem, patient(age=80)), "dose")
    assert "elderly single-dose maximum of 5 mg" in finding.message_en


def test_frequency_out_of_range() -> None:
    result = review(med("C08CA01", "苯磺酸氨氯地平片", dose=(5, "mg"), per_day=3))
    finding = only(result, "frequency")
    assert finding.action == "hold" and "3 administrations a day" in finding.message_en
    assert review(med("C08CA01", "苯磺酸氨氯地平片", dose=(5, "mg"), per_day=1)).outcome == "pass"


def test_weekly_methotrexate_passes_and_daily_methotrexate_holds() -> None:
    weekly = review(med("L04AX03", "甲氨蝶呤片", dose=(10, "mg"), per_day=1 / 7))
    daily = review(med("L04AX03", "甲氨蝶呤片", dose=(10, "mg"), per_day=1))
    assert weekly.outcome == "pass"
    assert daily.outcome == "hold" and only(daily, "frequency").severity == "high"


def test_under_dose_only_warns() -> None:
    result = review(med("C10AA07", "瑞舒伐他汀钙片", dose=(0.1, "mg"), per_day=1))
    assert result.outcome == "pass"  # no minimum for rosuvastatin: nothing to say


def test_route_specific_rule_only_for_its_route() -> None:
    oral = review(med("J01DC02", "头孢呋辛酯片", dose=(1000, "mg"), per_day=2))
    iv = review(med("J01DC02", "注射用头孢呋辛钠", dose=(1500, "mg"), per_day=3, route="静脉滴注", form="注射用无菌粉末"))
    assert "dose" in kinds(oral) and "dose" not in kinds(iv)


@pytest.mark.parametrize(("dose", "per_day", "reason"), [
    (None, 3, "no dose"), ((2, "揿"), 3, "strength in mg"), ((5, "tsp"), 3, "unknown dose unit"),
    ((500, "IU"), 3, "the dose is in IU and the rule in mg"), ((float("nan"), "mg"), 3, "not a number"),
    ((-5, "mg"), 3, "not positive"), ((500, "mg"), None, "no frequency"), ((500, "mg"), 0, "not valid"),
])
def test_a_dose_that_cannot_be_compared_fails_safe(dose: tuple | None, per_day: float | None, reason: str) -> None:
    result = review(med("J01CA04", "阿莫西林胶囊", dose=dose, per_day=per_day))
    failsafe = [f for f in result.findings if f.kind == "failsafe"]
    assert result.outcome == "hold" and failsafe and all(f.action == "hold" for f in failsafe)
    assert any(reason in f.message_en for f in failsafe), failsafe


def test_unknown_age_fails_safe_where_children_differ() -> None:
    result = review(med("J01CA04", "阿莫西林胶囊", dose=(500, "mg"), per_day=3), patient(age=None))
    assert "age is not known" in only(result, "failsafe").message_en
    assert review(med("C09CA04", "厄贝沙坦片", dose=(150, "mg")), patient(age=None)).outcome == "pass"


# Everyday adult prescriptions of the county formulary at their usual doses: none may trip a rule.
USUAL = [
    ("J01CA04", (0.5, "g"), 3), ("J01DD08", (100, "mg"), 2), ("J01MA12", (500, "mg"), 1), ("J01FA10", (500, "mg"), 1),
    ("C08CA05", (20, "mg"), 2), ("C08CA01", (5, "mg"), 1), ("C09CA04", (150, "mg"), 1), ("C09CA03", (80, "mg"), 1),
    ("C07AB02", (47.5, "mg"), 1), ("C03AA03", (25, "mg"), 1), ("A10BA02", (0.5, "g"), 3), ("A10BB12", (2, "mg"), 1),
    ("A10BF01", (50, "mg"), 3), ("B01AC06", (100, "mg"), 1), ("C10AA05", (20, "mg"), 1), ("C10AA07", (10, "mg"), 1),
    ("B01AC04", (75, "mg"), 1), ("A02BC01", (20, "mg"), 1), ("M01AE01", (0.3, "g"), 2), ("N02BE01", (0.5, "g"), 3),
    ("R05CB06", (30, "mg"), 3), ("R06AX13", (10, "mg"), 1), ("B01AA03", (3, "mg"), 1), ("C01AA05", (0.125, "mg"), 1),
    ("C03CA01", (20, "mg"), 1), ("C03DA01", (20, "mg"), 2), ("C09AA02", (10, "mg"), 1), ("C09AA01", (25, "mg"), 3),
]


@pytest.mark.parametrize(("atc", "dose", "per_day"), USUAL)
def test_usual_adult_doses_pass(atc: str, dose: tuple[float, str], per_day: float) -> None:
    result = review(med(atc, atc, dose=dose, per_day=per_day), patient(age=50))
    assert result.outcome == "pass", result.findings
