"""Duplicate therapy: the prescription and an active medicine from any member in the same ATC class, either
at a configured ATC level (two ACE inhibitors, two PPIs) or in a listed wider class (any two NSAIDs)."""

from __future__ import annotations

from dataclasses import dataclass

from consumers.pharmacy.review.checks.base import Context, atc_in, finding
from consumers.pharmacy.review.model import Finding, other_medicine
from consumers.pharmacy.review.rules_file import ATC_LEVEL_LENGTH, Entry, KindReader, Rule


@dataclass(frozen=True)
class DuplicateRule:
    rule: Rule
    class_length: int  # 0 when the rule lists classes instead
    classes: tuple[str, ...]
    exempt: tuple[str, ...]  # classes where two drugs together are usual (infusion fluids, vitamins)

    def key(self, atc: str | None) -> str | None:
        if not atc or atc_in(atc, self.exempt):
            return None
        if self.classes:
            return next((c for c in self.classes if atc.startswith(c)), None)
        return atc[:self.class_length] if len(atc) >= self.class_length else None


def parse(entry: Entry, rule: Rule) -> DuplicateRule:
    level = entry.number("level")
    classes = entry.atc("classes", required=False)
    if (level is None) == (not classes):
        raise entry.fail("give exactly one of level (an ATC level, 3 or 4) or classes (ATC class prefixes)")
    if level is not None and level not in (3, 4, 5):
        raise entry.fail("level must be 3, 4 or 5")
    length = ATC_LEVEL_LENGTH[int(level)] if level is not None else 0
    return DuplicateRule(rule, length, classes, entry.atc("except", required=False))


READER = KindReader({"level", "classes", "except"}, parse)


def check(rules: list[DuplicateRule], ctx: Context) -> list[Finding]:
    out, said = [], set()
    # a listed class says more than a shared subgroup, so it speaks first and the pair is named once
    for rule in sorted(rules, key=lambda r: not r.classes):
        key = rule.key(ctx.medicine.atc)
        if key is None:
            continue
        for other in ctx.patient.active:
            if other.reference and other.reference == ctx.medicine.reference:
                continue
            if rule.key(other.atc) != key or (other.reference or id(other)) in said:
                continue
            said.add(other.reference or id(other))
            zh, en = other_medicine(other)
            out.append(finding(rule.rule, f"与在用药品 {zh} 同属 {key} 类", f"same class {key} as the active {en}",
                               implicated=(other.reference,)))
    return out
