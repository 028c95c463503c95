"""Pure translation of FHIR into what the review engine reads: a MedicationRequest or MedicationDispense
into a Medicine (drug, dose, frequency, days), an AllergyIntolerance into an Allergy, an Observation
into an eGFR or creatinine value. No database: the caller says which catalogue drug the codings name."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from consumers.pharmacy.review import Allergy, Dose, LabValue, Medicine
from hub.core.terminology import ATC, LOCAL_DRUG, Drug

EGFR_LOINC = ("33914-3", "48642-3", "62238-1", "98979-8")
CREATININE_LOINC = ("2160-0", "14682-9")
_MASS = {"mg": 1.0, "g": 1000.0, "μg": 0.001, "ug": 0.001, "mcg": 0.001}
_NUMBER_UNIT = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|g|μg|ug|mcg|ml|mL|IU|片|粒|支|袋|瓶|揿|丸|贴)")
_PER_DAY = {"qd": 1.0, "bid": 2.0, "tid": 3.0, "qid": 4.0, "qn": 1.0, "q8h": 3.0, "q12h": 2.0, "q6h": 4.0,
            "每日一次": 1.0, "每日两次": 2.0, "每日2次": 2.0, "每日三次": 3.0, "每日3次": 3.0, "每日1次": 1.0}


def local_drug_codings(codings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A member's own drug codes (`urn:hub:code:local-drug:<facility>`, as both connectors write them)."""
    return [c for c in codings if isinstance(c.get("code"), str) and isinstance(c.get("system"), str)
            and c["system"].startswith(LOCAL_DRUG)]


def medication_concept(resource: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    concept = resource.get("medicationCodeableConcept") or {}
    codings = [c for c in concept.get("coding") or [] if isinstance(c, dict)]
    text = concept.get("text") or next((c.get("display") for c in codings if c.get("display")), None)
    return codings, text


CONTAINERS = ("支", "瓶", "袋")  # one ampoule, bottle or bag holds the whole strength its label gives


def strength_mg(strength: str | None, unit: str | None = None) -> float | None:
    """mg per count unit from the catalogue's strength text ('0.25g' -> 250, '47.5mg', '100μg/揿' -> 0.1;
    '10mg/2ml' for a 支 -> 10, as an ampoule's label gives its content); None for what is not one mass
    per unit ('250ml', '400IU/10ml', a compound '50mg/12.5mg')."""
    if not strength:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(mg|g|μg|ug|mcg)(?:/(\S+))?\s*", strength)
    if not match:
        return None
    per = match.group(3)
    container = per is not None and re.fullmatch(r"\d+(?:\.\d+)?\s*ml", per, re.IGNORECASE) and unit in CONTAINERS
    if per is not None and per not in ("揿", "片", "粒") and not container:
        return None
    return float(match.group(1)) * _MASS[match.group(2)]


def _dose(dosage: dict[str, Any]) -> Dose | None:
    for rate in dosage.get("doseAndRate") or []:
        quantity = rate.get("doseQuantity") or {}
        if isinstance(quantity.get("value"), int | float) and (quantity.get("unit") or quantity.get("code")):
            return Dose(float(quantity["value"]), str(quantity.get("unit") or quantity.get("code")))
    match = _NUMBER_UNIT.search(str(dosage.get("text") or ""))
    return Dose(float(match.group(1)), match.group(2)) if match else None


def _per_day(dosage: dict[str, Any]) -> float | None:
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    frequency, period, unit = repeat.get("frequency"), repeat.get("period"), repeat.get("periodUnit")
    if isinstance(frequency, int | float) and isinstance(period, int | float) and period > 0:
        per = {"d": 1.0, "h": 24.0, "wk": 1 / 7}.get(str(unit))
        if per is not None:
            return float(frequency) / float(period) * per
    code = str(((dosage.get("timing") or {}).get("code") or {}).get("text") or "").lower()
    text = str(dosage.get("text") or "").lower()
    for word, value in _PER_DAY.items():
        if word == code or re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text):
            return value
    return None


def _days(resource: dict[str, Any]) -> float | None:
    supply = (resource.get("dispenseRequest") or {}).get("expectedSupplyDuration") or resource.get("daysSupply") or {}
    value = supply.get("value")
    return float(value) if isinstance(value, int | float) else None


def medicine(resource: dict[str, Any], drug: Drug | None, facility_id: str) -> Medicine:
    """What the engine reviews or compares with: the catalogue drug's facts, the dose as written."""
    codings, text = medication_concept(resource)
    dosage = (resource.get("dosageInstruction") or [{}])[0]
    route_text = ((dosage.get("route") or {}).get("text")
                  or next((c.get("display") for c in (dosage.get("route") or {}).get("coding") or []), None))
    atc = drug.atc if drug else next((c.get("code") for c in codings if c.get("system") == ATC), None)
    return Medicine(
        name=drug.name if drug else (text or "?"), atc=atc, code=drug.code if drug else None,
        route=route_text or (drug.route if drug else None), form=drug.form if drug else None,
        strength_mg=strength_mg(drug.strength, drug.unit) if drug else None, dose=_dose(dosage), per_day=_per_day(dosage),
        days=_days(resource), facility_id=facility_id, reference=f"{resource.get('resourceType')}/{resource.get('id')}",
    )


WEIGHT_LOINC = "29463-7"


def written_weight(resource: dict[str, Any]) -> float | None:
    """The body weight (kg) written on a prescription: a contained Observation (LOINC 29463-7) that
    `supportingInformation` points at, as the connectors put a child's weight there."""
    pointed = {str(ref.get("reference") or "").lstrip("#") for ref in resource.get("supportingInformation") or []}
    for contained in resource.get("contained") or []:
        codes = {c.get("code") for c in (contained.get("code") or {}).get("coding") or []}
        if contained.get("id") in pointed and WEIGHT_LOINC in codes:
            quantity = contained.get("valueQuantity") or {}
            value, unit = quantity.get("value"), str(quantity.get("unit") or quantity.get("code") or "kg")
            if isinstance(value, int | float) and value > 0:
                return float(value) / 1000 if unit == "g" else float(value)
    return None


def dose_text(resource: dict[str, Any]) -> str | None:
    dosage = (resource.get("dosageInstruction") or [{}])[0]
    text = dosage.get("text")
    if text:
        return str(text)[:200]
    quantity = resource.get("quantity") or {}
    return f"{quantity.get('value', '')} {quantity.get('unit', '')}".strip()[:200] or None


def allergy(resource: dict[str, Any], atc: str | None, facility_id: str) -> Allergy:
    return Allergy(substance=substance(resource), atc=atc, criticality=resource.get("criticality"),
                   facility_id=facility_id, reference=f"AllergyIntolerance/{resource.get('id')}")


def substance(resource: dict[str, Any]) -> str:
    code = resource.get("code") or {}
    return str(code.get("text") or next((c.get("display") or c.get("code") for c in code.get("coding") or []), "?"))


def allergy_atc(resource: dict[str, Any], drug: Drug | None) -> str | None:
    """The ATC code (or class prefix) an allergy names: coded in ATC, or the catalogue drug it names."""
    for coding in (resource.get("code") or {}).get("coding") or []:
        if coding.get("system") == ATC and coding.get("code"):
            return str(coding["code"])[:16]
    return drug.atc if drug else None


def clinical_status(resource: dict[str, Any]) -> str:
    codings = (resource.get("clinicalStatus") or {}).get("coding") or []
    return str(next((c.get("code") for c in codings if c.get("code")), "active"))


def renal_value(observation: dict[str, Any]) -> tuple[str, float, str, datetime | None] | None:
    """(egfr | creatinine, value, unit, when) of an eGFR or creatinine Observation, else None."""
    codes = {c.get("code") for c in (observation.get("code") or {}).get("coding") or []}
    analyte = "egfr" if codes & set(EGFR_LOINC) else "creatinine" if codes & set(CREATININE_LOINC) else None
    quantity = observation.get("valueQuantity") or {}
    if analyte is None or not isinstance(quantity.get("value"), int | float):
        return None
    if observation.get("status") in ("entered-in-error", "cancelled"):
        return None
    unit = str(quantity.get("unit") or quantity.get("code") or "")
    value = float(quantity["value"])
    if analyte == "creatinine" and unit.lower() in ("mg/dl",):  # the engine reads μmol/L
        value, unit = value * 88.42, "umol/L"
    when = observation.get("effectiveDateTime") or observation.get("issued")
    return analyte, value, unit, datetime.fromisoformat(when) if isinstance(when, str) else None


def lab_value(analyte_value: float, unit: str, observed: datetime, facility_id: str, observation_id: str) -> LabValue:
    return LabValue(analyte_value, unit, observed, facility_id, f"Observation/{observation_id}")
