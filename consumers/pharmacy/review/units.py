"""Dose units: a prescribed dose turned into the unit a rule's limits are written in, or a reason why not.

Masses convert among g, mg and μg; IU and ml are compared only with rules written in the same unit; a
count unit of the catalogue (片, 粒, 支, ...) is a number of units times the strength in mg per unit.
A unit is never guessed at: what cannot be converted comes back as a reason for a fail-safe finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from consumers.pharmacy.review.model import Dose

MASS_TO_MG = {"mg": 1.0, "g": 1000.0, "kg": 1_000_000.0, "ug": 0.001, "mcg": 0.001}
SAME_UNIT = {"iu": "IU", "u": "IU", "单位": "IU", "ml": "ml"}
COUNT_UNITS = ("片", "粒", "支", "袋", "瓶", "丸", "包", "贴", "揿", "喷", "枚", "caps", "tab")
RULE_UNITS = ("mg", "IU", "ml")


@dataclass(frozen=True)
class Amount:
    value: float
    unit: str  # one of RULE_UNITS


def unit_key(unit: str) -> str:
    return unit.strip().replace(" ", "").replace("μ", "u").replace("µ", "u").lower()


def amount(dose: Dose, strength_mg: float | None) -> Amount | str:
    """The dose as an Amount in mg, IU or ml; a sentence saying why when it cannot be converted."""
    if isinstance(dose.value, bool) or not isinstance(dose.value, int | float) or not math.isfinite(dose.value):
        return f"dose value {dose.value!r} is not a number"
    if dose.value <= 0:
        return f"dose value {dose.value:g} is not positive"
    unit = dose.unit if isinstance(dose.unit, str) else ""
    key = unit_key(unit)
    if key in MASS_TO_MG:
        return Amount(dose.value * MASS_TO_MG[key], "mg")
    if key in SAME_UNIT:
        return Amount(float(dose.value), SAME_UNIT[key])
    if key in COUNT_UNITS or unit.strip() in COUNT_UNITS:
        if strength_mg is None or not strength_mg > 0:
            return f"dose in {unit} but the strength in mg per {unit} is not known"
        return Amount(dose.value * strength_mg, "mg")
    return f"unknown dose unit {dose.unit!r}"
