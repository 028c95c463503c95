"""Allergies recorded by any member: the same drug, the same ATC class (an allergy recorded as a class, or
both in a listed class whose members cross-react, such as the penicillins J01C), and listed cross-reactions
(penicillin - cephalosporin). One finding per allergy: the closest match wins.

Classes are listed rather than taken at an ATC level because a level groups drugs that do not cross-react:
B01A holds aspirin and warfarin, B01AC aspirin and clopidogrel (the usual choice for aspirin allergy)."""

from __future__ import annotations

from dataclasses import dataclass

from consumers.pharmacy.review.checks.base import Context, atc_in, finding
from consumers.pharmacy.review.model import Allergy, Finding, Medicine
from consumers.pharmacy.review.rules_file import Entry, KindReader, Rule

MATCHES = ("same_drug", "same_class", "cross")


@dataclass(frozen=True)
class AllergyRule:
    rule: Rule
    match: str
    classes: tuple[str, ...]  # same_class: classes whose members cross-react
    allergen: tuple[str, ...]  # cross: the allergy's class(es) ...
    drug: tuple[str, ...]  # ... and the drugs that cross-react


def parse(entry: Entry, rule: Rule) -> AllergyRule:
    match = entry.choice("match", MATCHES)
    classes = entry.atc("classes") if match == "same_class" else ()
    allergen, drug = (entry.atc("allergen"), entry.atc("drug")) if match == "cross" else ((), ())
    return AllergyRule(rule, match, classes, allergen, drug)


READER = KindReader({"match", "classes", "allergen", "drug"}, parse)


def _name_match(allergy: Allergy, medicine: Medicine) -> bool:
    substance = allergy.substance.strip()
    return len(substance) >= 2 and substance in medicine.name


def _matches(rule: AllergyRule, allergy: Allergy, medicine: Medicine) -> bool:
    atc, given = medicine.atc, allergy.atc
    if rule.match == "same_drug":
        return (bool(given) and len(given or "") == 7 and given == atc) or (not given and _name_match(allergy, medicine))
    if not given or not atc:
        return False
    if rule.match == "same_class":
        recorded_class = len(given) < 7 and atc.startswith(given)
        return recorded_class or any(given.startswith(c) and atc.startswith(c) for c in rule.classes)
    return any(given.startswith(p) or p.startswith(given) for p in rule.allergen) and atc_in(atc, rule.drug)


def check(rules: list[AllergyRule], ctx: Context) -> list[Finding]:
    out = []
    order = sorted(rules, key=lambda r: MATCHES.index(r.match))
    for allergy in ctx.patient.allergies:
        rule = next((r for r in order if _matches(r, allergy, ctx.medicine)), None)
        if rule is None:
            continue
        where = allergy.facility_id or "?"
        critical_zh = "（高危）" if allergy.criticality == "high" else ""
        critical_en = " (high criticality)" if allergy.criticality == "high" else ""
        out.append(finding(rule.rule, f"患者对 {allergy.substance}{critical_zh} 过敏（{where} 记录）",
                           f"the patient is allergic to {allergy.substance}{critical_en} (recorded at {where})",
                           implicated=(allergy.reference,)))
    return out
