"""Route and form mistakes, unrecognised drugs, and the engine's fail-safe: review never raises."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.pharmacy.review import Dose, Medicine, engine
from tests.pharmacy_review.factories import NOW, RULES, allergy, kinds, lab, med, only, other, patient, review


def test_tablet_by_injection_holds() -> None:
    result = review(med("C08CA01", "苯磺酸氨氯地平片", dose=(5, "mg"), route="静脉注射", form="片"))
    finding = only(result, "form")
    assert finding.rule_id == "route.oral-form-injected" and result.outcome == "hold"
    assert "静脉注射" in finding.message_zh


def test_injection_by_mouth_holds() -> None:
    result = review(med("J01DD04", "注射用头孢曲松钠", dose=(1, "g"), route="口服", form="注射用无菌粉末"))
    assert only(result, "form").rule_id == "route.injection-by-mouth"


def test_vincristine_intrathecal_holds() -> None:
    result = review(med("L01CA02", "硫酸长春新碱注射液", dose=(1, "mg"), route="鞘内注射", form="注射液"))
    finding = only(result, "route")
    assert finding.rule_id == "route.vinca-intrathecal" and finding.severity == "high"


def test_right_route_for_the_form_passes() -> None:
    assert "form" not in kinds(review(med("C08CA01", "苯磺酸氨氯地平片", dose=(5, "mg"), route="口服", form="缓释片")))
    assert "route" not in kinds(review(med("L01CA02", "硫酸长春新碱注射液", dose=(1, "mg"), route="静脉注射",
                                           form="注射液")))


def test_unrecognised_drug_holds_with_the_reason() -> None:
    result = review(med(None, "某某胶囊", code=None, ref="MedicationRequest/x"))
    finding = only(result, "unrecognised")
    assert result.outcome == "hold" and finding.action == "hold" and finding.implicated == ("MedicationRequest/x",)
    assert "not recognised" in finding.message_en and "某某胶囊" in finding.message_zh


def test_a_drug_known_by_atc_only_is_reviewed() -> None:
    assert review(med("C08CA01", "氨氯地平片", code=None, dose=(5, "mg"))).outcome == "pass"


def test_a_catalogue_drug_without_atc_passes_without_rules() -> None:
    assert review(med(None, "板蓝根颗粒", code="D0031", dose=(10, "g"), form="颗粒")).outcome == "pass"


def test_a_check_that_breaks_holds_instead_of_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(rules: list[Any], context: Any) -> list:
        raise RuntimeError("boom")

    reader, _ = engine.CHECKS["interaction"]
    monkeypatch.setitem(engine.CHECKS, "interaction", (reader, broken))
    result = RULES.review(med("C08CA01", "氨氯地平片", dose=(5, "mg")), patient(), NOW)
    finding = only(result, "failsafe")
    assert result.outcome == "hold" and finding.rule_id == "review.failsafe.interaction"
    assert "boom" in finding.message_en


def test_outcome_is_the_strongest_action_and_carries_the_version() -> None:
    aspirin = med("B01AC06", "阿司匹林肠溶片", dose=(100, "mg"), facility="F-COUNTY", ref="MedicationRequest/rx-a")
    result = review(med("M01AE01", "布洛芬片", dose=(200, "mg"), per_day=3), patient(active=(aspirin,)))
    assert result.outcome == "warn" and result.rules_version == RULES.version  # a moderate interaction
    assert review(med("J01MA12", "左氧氟沙星片", dose=(500, "mg")), patient(age=12, weight=40)).outcome == "hold"
    assert review(med("C08CA01", "氨氯地平片", dose=(5, "mg"))).outcome == "pass"


ATCS = [None, "", "J01CA04", "B01AA03", "A10BA02", "M01A", "ZZZ", "C01AA05", "L04AX03", "R05CB06"]
UNITS = ["mg", "g", "μg", "IU", "ml", "片", "粒", "", "xyz"]


@settings(max_examples=300, deadline=None)
@given(atc=st.sampled_from(ATCS), other_atc=st.sampled_from(ATCS),
       value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10**6)),
       unit=st.sampled_from(UNITS), per_day=st.one_of(st.none(), st.floats(-2, 50)),
       strength=st.one_of(st.none(), st.floats(-1, 1000)), age=st.one_of(st.none(), st.floats(-1, 120)),
       weight=st.one_of(st.none(), st.floats(-1, 200)), sex=st.sampled_from([None, "male", "female", "other"]),
       egfr=st.one_of(st.none(), st.floats(allow_nan=True)), creatinine=st.one_of(st.none(), st.floats(-5, 2000)),
       route=st.sampled_from([None, "口服", "静脉注射", "鞘内注射"]), form=st.sampled_from([None, "片", "注射液"]))
def test_review_never_raises(atc: str | None, other_atc: str | None, value: float, unit: str, per_day: float | None,
                             strength: float | None, age: float | None, weight: float | None, sex: str | None,
                             egfr: float | None, creatinine: float | None, route: str | None,
                             form: str | None) -> None:
    medicine = Medicine("药", atc, None if atc is None else "D1", route, form, strength, Dose(value, unit), per_day,
                        3)
    who = patient(age=age, weight=weight, sex=sex,
                  egfr=None if egfr is None else lab(egfr, "mL/min/1.73m2"),
                  creatinine=None if creatinine is None else lab(creatinine, "umol/L"),
                  allergies=(allergy("x", other_atc),), active=(other(other_atc or "J01CA04", "x"),))
    result = RULES.review(medicine, who, NOW)
    assert result.outcome in ("pass", "warn", "hold")
    assert not any(f.rule_id.startswith("review.failsafe.") for f in result.findings), result.findings
