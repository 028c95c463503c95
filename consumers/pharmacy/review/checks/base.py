"""What every check shares: the prescription in its patient's context, ATC matching and finding making."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from consumers.pharmacy.review.model import Finding, Medicine, PatientContext
from consumers.pharmacy.review.rules_file import Rule, Settings


@dataclass(frozen=True)
class Context:
    medicine: Medicine
    patient: PatientContext
    now: datetime
    settings: Settings

    def age_group(self) -> str | None:
        """'child', 'adult' or 'elderly' by the settings; None when the age is not known."""
        age = self.patient.age_years
        if age is None:
            return None
        if age < self.settings.adult_age:
            return "child"
        return "elderly" if age >= self.settings.elderly_age else "adult"


def atc_in(atc: str | None, prefixes: tuple[str, ...]) -> bool:
    """Whether a drug's ATC code is one of `prefixes` or in one of their classes."""
    return bool(atc) and any(atc.startswith(p) for p in prefixes)  # type: ignore[union-attr]


def finding(rule: Rule, zh: str, en: str, kind: str | None = None, implicated: tuple[str, ...] = (),
            action: str | None = None) -> Finding:
    """A finding of `rule`: the case's specifics first, then the rule's own text."""
    return Finding(rule.id, kind or rule.kind, rule.severity, action or rule.action,
                   f"{zh}。{rule.text_zh}" if zh else rule.text_zh,
                   f"{en}. {rule.text_en}" if en else rule.text_en,
                   rule.source, tuple(r for r in implicated if r))


def number(value: float) -> str:
    return f"{value:g}"
