"""The hub's measurements as FHIR Observations: LOINC codes, UCUM units, derived from the study."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consumers.ecg.measure import Measurements
from hub.core.identifiers import fhir_id

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
METHOD = "County Hub automatic 12-lead measurement: median beat, global intervals (neurokit2 0.2.13)"


@dataclass(frozen=True)
class Kind:
    code: str
    display: str
    zh: str
    unit: str  # UCUM
    field: str  # Measurements attribute
    method: str = METHOD


KINDS = (
    Kind("8867-4", "Heart rate", "心率", "/min", "heart_rate"),
    Kind("8625-6", "P-R Interval", "PR 间期", "ms", "pr_ms"),
    Kind("8633-0", "QRS duration", "QRS 时限", "ms", "qrs_ms"),
    Kind("8634-8", "Q-T interval", "QT 间期", "ms", "qt_ms"),
    Kind("8636-3", "Q-T interval corrected", "QTc（Bazett）", "ms", "qtc_bazett_ms",
         METHOD + "; QTc by Bazett: QT / sqrt(RR in s)"),
    Kind("8626-4", "P wave axis", "P 波电轴", "deg", "p_axis"),
    Kind("8632-2", "QRS axis", "QRS 电轴", "deg", "qrs_axis"),
    Kind("8638-1", "T wave axis", "T 波电轴", "deg", "t_axis"),
)


@dataclass(frozen=True)
class StudyFacts:
    study_id: str
    patient_ref: dict[str, Any]  # the ImagingStudy's subject
    facility_id: str
    effective: str | None  # ISO datetime the ECG was recorded


def observations(facts: StudyFacts, measured: Measurements) -> list[dict[str, Any]]:
    """One preliminary Observation per measurement the hub could make (a reader's report finalises)."""
    made = []
    for kind in KINDS:
        value = getattr(measured, kind.field)
        if value is None:
            continue
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": fhir_id(f"{facts.study_id}-ecg-{kind.code}"),
            "meta": {"source": "urn:hub:ecg"},
            "status": "preliminary",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "procedure", "display": "Procedure"}]}],
            "code": {"coding": [{"system": LOINC, "code": kind.code, "display": kind.display}], "text": kind.zh},
            "subject": facts.patient_ref,
            "derivedFrom": [{"reference": f"ImagingStudy/{facts.study_id}"}],
            "method": {"text": kind.method},
            "valueQuantity": {"value": round(float(value)), "unit": kind.unit, "system": UCUM, "code": kind.unit},
        }
        if facts.effective:
            resource["effectiveDateTime"] = facts.effective
        made.append(resource)
    return made
