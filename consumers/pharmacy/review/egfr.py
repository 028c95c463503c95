"""Kidney function for renal dosing: the eGFR the rules compare, taken from the latest eGFR on record or
computed from creatinine with the CKD-EPI 2021 equation (race-free; Inker et al., NEJM 2021;385:1737).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from consumers.pharmacy.review.model import LabValue, PatientContext

EGFR_UNITS = {"ml/min/1.73m2", "ml/min/{1.73_m2}", "ml/min/1.73m^2", "ml/min/1.73_m2", "ml/min"}
CREATININE_TO_MG_DL = {"umol/l": 1 / 88.4, "µmol/l": 1 / 88.4, "μmol/l": 1 / 88.4, "mg/dl": 1.0}


@dataclass(frozen=True)
class Kidney:
    egfr: float  # mL/min/1.73m2
    lab: LabValue  # the value it comes from
    computed: bool  # True when computed from creatinine


def _key(unit: str) -> str:
    return unit.strip().replace(" ", "").lower()


def ckd_epi_2021(creatinine_mg_dl: float, age_years: float, female: bool) -> float:
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = creatinine_mg_dl / kappa
    value = 142 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938 ** age_years
    return value * 1.012 if female else value


def kidney(patient: PatientContext) -> Kidney | str | None:
    """The patient's eGFR; None when no eGFR or creatinine is on record; a reason when it cannot be used."""
    egfr = patient.egfr
    if egfr is not None:
        if _key(egfr.unit) not in EGFR_UNITS:
            return f"eGFR unit {egfr.unit!r} is not mL/min/1.73m2"
        if not math.isfinite(egfr.value) or egfr.value < 0:
            return f"eGFR value {egfr.value!r} is not usable"
        return Kidney(float(egfr.value), egfr, computed=False)
    lab = patient.creatinine
    if lab is None:
        return None
    factor = CREATININE_TO_MG_DL.get(_key(lab.unit))
    if factor is None:
        return f"creatinine unit {lab.unit!r} is neither umol/L nor mg/dL"
    if not math.isfinite(lab.value) or lab.value <= 0:
        return f"creatinine value {lab.value!r} is not usable"
    if patient.age_years is None or patient.sex not in ("male", "female"):
        return "only creatinine is on record and eGFR (CKD-EPI 2021) needs the patient's age and sex"
    if patient.age_years < 18:
        return "only creatinine is on record and CKD-EPI 2021 is for adults; a child's eGFR needs height"
    value = ckd_epi_2021(lab.value * factor, patient.age_years, patient.sex == "female")
    return Kidney(round(value, 1), lab, computed=True)
