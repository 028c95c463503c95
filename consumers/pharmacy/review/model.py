"""What the review engine reads and answers: the prescription under review, the patient's county-wide
context (labs, allergies, active medicines from every member) and the findings. Frozen, plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

OUTCOMES = ("pass", "warn", "hold")
SEVERITIES = ("high", "moderate", "low")  # FHIR DetectedIssue.severity
ACTIONS = ("warn", "hold")


@dataclass(frozen=True)
class Dose:
    """One administration."""

    value: float
    unit: str  # 'mg', 'g', 'μg'/'ug', 'IU', 'ml', or a count unit of the catalogue ('片','粒',...)


@dataclass(frozen=True)
class Medicine:
    """A prescribed or active medicine, from any member."""

    name: str  # display name (Chinese)
    atc: str | None
    code: str | None  # community drug code; None when not recognised
    route: str | None  # catalogue words: 口服, 静脉滴注, 静脉注射, 肌内注射, 皮下注射, 吸入, 外用, ...
    form: str | None  # catalogue dosage form: 片, 胶囊, 注射液, ...
    strength_mg: float | None  # mg per count unit when known
    dose: Dose | None
    per_day: float | None  # administrations per day
    days: float | None
    facility_id: str = ""
    reference: str = ""  # 'MedicationRequest/<id>' for findings to point at


@dataclass(frozen=True)
class LabValue:
    value: float
    unit: str  # eGFR 'mL/min/1.73m2', creatinine 'umol/L'
    observed: datetime
    facility_id: str
    reference: str = ""  # 'Observation/<id>'


@dataclass(frozen=True)
class Allergy:
    substance: str  # name as recorded
    atc: str | None  # when recognised (an ATC class prefix such as 'J01C' is allowed)
    criticality: str | None  # low | high | unable-to-assess
    facility_id: str = ""
    reference: str = ""


@dataclass(frozen=True)
class PatientContext:
    age_years: float | None
    sex: str | None  # male | female | other | unknown
    weight_kg: float | None
    pregnant: bool | None
    egfr: LabValue | None  # latest from any member
    creatinine: LabValue | None
    allergies: tuple[Allergy, ...] = ()
    active: tuple[Medicine, ...] = ()  # active medicines from every member (not the one under review)


@dataclass(frozen=True)
class Finding:
    rule_id: str  # e.g. 'interaction.warfarin-aspirin', 'dose.J01CA04'
    kind: str  # dose | frequency | age | pregnancy | renal | allergy | duplicate | interaction
    #            | route | form | unrecognised | failsafe
    severity: str  # high | moderate | low
    action: str  # warn | hold
    message_zh: str
    message_en: str
    source: str  # the rule's source
    implicated: tuple[str, ...] = ()  # references: the other MedicationRequest, the Observation, the Allergy


@dataclass(frozen=True)
class Review:
    outcome: str  # pass | warn | hold (hold if any finding holds, warn if any warns)
    findings: tuple[Finding, ...]
    rules_version: str


def outcome_of(findings: tuple[Finding, ...]) -> str:
    actions = {f.action for f in findings}
    return "hold" if "hold" in actions else "warn" if "warn" in actions else "pass"


def other_medicine(medicine: Medicine) -> tuple[str, str]:
    """How a finding names another member's medicine (zh, en): its name and where it was prescribed."""
    where = medicine.facility_id or "?"
    return f"{medicine.name}（{where}）", f"{medicine.name} (prescribed at {where})"
