"""Route and form mistakes, unrecognised drugs, and the engine's fail-safe: review never raises."""

from __future__ import annotations

from typing import Any

import pytest

from consumers.pharmacy.review import engine
from tests.pharmacy_review.factories import NOW, RULES, kinds, med, only, patient, review


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
    result = review(med("J01MA12", "左氧氟沙星片", dose=(500, "mg")), patient(age=12, weight=40))
    assert result.outcome == "warn" and result.rules_version == RULES.version
    assert review(med("C08CA01", "氨氯地平片", dose=(5, "mg"))).outcome == "pass"
