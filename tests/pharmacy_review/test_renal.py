"""Renal dosing from the latest eGFR in the shared record, or one computed from creatinine (CKD-EPI 2021)."""

from __future__ import annotations

import pytest

from consumers.pharmacy.review.egfr import ckd_epi_2021
from tests.pharmacy_review.factories import kinds, lab, med, only, patient, review

METFORMIN = med("A10BA02", "二甲双胍片", dose=(500, "mg"), per_day=2)


def test_metformin_below_30_holds_and_points_at_the_lab() -> None:
    result = review(METFORMIN, patient(egfr=lab(25, "mL/min/1.73m2", facility="F-COUNTY-LAB", ref="Observation/e1")))
    finding = only(result, "renal")
    assert result.outcome == "hold" and finding.rule_id == "renal.metformin-below-30"
    assert finding.implicated == ("Observation/e1",)
    assert "eGFR 25" in finding.message_en and "F-COUNTY-LAB" in finding.message_en


def test_metformin_30_to_45_warns() -> None:
    finding = only(review(METFORMIN, patient(egfr=lab(40, "mL/min/1.73m2"))), "renal")
    assert finding.rule_id == "renal.metformin-30-45" and finding.action == "warn"


@pytest.mark.parametrize("value", [45, 60, 95])
def test_metformin_with_good_kidneys_has_no_renal_finding(value: float) -> None:
    assert review(METFORMIN, patient(egfr=lab(value, "mL/min/1.73m2"))).outcome == "pass"


def test_no_kidney_lab_anywhere_is_no_finding() -> None:
    assert review(METFORMIN, patient()).outcome == "pass"


def test_ckd_epi_2021_matches_published_examples() -> None:
    # 142 x min(Scr/k,1)^a x max(Scr/k,1)^-1.200 x 0.9938^age [x 1.012 female], worked by hand
    assert ckd_epi_2021(1.0, 60, female=True) == pytest.approx(64.5, abs=0.1)  # k 0.7, a -0.241
    assert ckd_epi_2021(1.0, 50, female=False) == pytest.approx(91.7, abs=0.1)  # k 0.9, a -0.302
    assert ckd_epi_2021(0.6, 40, female=True) == pytest.approx(116.3, abs=0.1)  # below k: the a exponent


def test_egfr_is_computed_from_creatinine_and_the_finding_says_so() -> None:
    who = patient(age=78, sex="female", creatinine=lab(200, "umol/L", ref="Observation/cr1"))  # eGFR ~ 20
    finding = only(review(METFORMIN, who), "renal")
    assert finding.rule_id == "renal.metformin-below-30" and finding.implicated == ("Observation/cr1",)
    assert "CKD-EPI 2021" in finding.message_en and "age and sex" in finding.message_en
    assert "CKD-EPI 2021" in finding.message_zh


def test_creatinine_without_sex_fails_safe() -> None:
    result = review(METFORMIN, patient(sex="unknown", creatinine=lab(200, "umol/L", ref="Observation/cr1")))
    finding = only(result, "failsafe")
    assert finding.action == "hold" and "age and sex" in finding.message_en
    assert finding.implicated == ("Observation/cr1",)


def test_unknown_egfr_unit_fails_safe() -> None:
    assert "unit" in only(review(METFORMIN, patient(egfr=lab(25, "mg/dL"))), "failsafe").message_en


def test_an_old_lab_is_used_and_called_old() -> None:
    finding = only(review(METFORMIN, patient(egfr=lab(25, "mL/min/1.73m2", days_ago=200))), "renal")
    assert "200 days old" in finding.message_en and "200 天前" in finding.message_zh
    recent = only(review(METFORMIN, patient(egfr=lab(25, "mL/min/1.73m2", days_ago=10))), "renal")
    assert "days old" not in recent.message_en


def test_nsaid_class_rule_and_digoxin() -> None:
    low = patient(egfr=lab(20, "mL/min/1.73m2"))
    assert only(review(med("M01AE01", "布洛芬缓释胶囊", dose=(300, "mg"), per_day=2), low), "renal").action == "hold"
    assert "renal" in kinds(review(med("C01AA05", "地高辛片", dose=(0.125, "mg")), low))
    assert "renal" not in kinds(review(med("C08CA01", "氨氯地平片", dose=(5, "mg")), low))
