"""Small builders for prescriptions, patients and labs, with defaults that trip no rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from consumers.pharmacy.review import (
    Allergy,
    Dose,
    Finding,
    LabValue,
    Medicine,
    PatientContext,
    Review,
    default_rules,
)

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
RULES = default_rules()


def med(atc: str | None, name: str = "药品", *, code: str | None = "D9999", dose: tuple[float, str] | None = (1, "mg"),
        per_day: float | None = 1, route: str | None = "口服", form: str | None = "片", strength_mg: float | None = None,
        facility: str = "F-TOWN", ref: str = "MedicationRequest/rx-new") -> Medicine:
    return Medicine(name, atc, code, route, form, strength_mg, Dose(*dose) if dose else None, per_day, 7,
                    facility, ref)


def other(atc: str, name: str, facility: str = "F-COUNTY", ref: str = "MedicationRequest/rx-other") -> Medicine:
    """An active medicine prescribed at another member."""
    return med(atc, name, facility=facility, ref=ref)


def lab(value: float, unit: str, days_ago: float = 3, facility: str = "F-LAB",
        ref: str = "Observation/obs-1") -> LabValue:
    return LabValue(value, unit, NOW - timedelta(days=days_ago), facility, ref)


def allergy(substance: str, atc: str | None, facility: str = "F-VILLAGE", ref: str = "AllergyIntolerance/al-1",
            criticality: str | None = "high") -> Allergy:
    return Allergy(substance, atc, criticality, facility, ref)


def patient(age: float | None = 45, sex: str | None = "male", weight: float | None = 70,
            pregnant: bool | None = False, egfr: LabValue | None = None, creatinine: LabValue | None = None,
            allergies: tuple[Allergy, ...] = (), active: tuple[Medicine, ...] = ()) -> PatientContext:
    return PatientContext(age, sex, weight, pregnant, egfr, creatinine, allergies, active)


def review(medicine: Medicine, who: PatientContext | None = None) -> Review:
    return RULES.review(medicine, who or patient(), NOW)


def kinds(result: Review) -> set[str]:
    return {f.kind for f in result.findings}


def only(result: Review, kind: str) -> Finding:
    found = [f for f in result.findings if f.kind == kind]
    assert len(found) == 1, result.findings
    return found[0]
