"""Drug-drug interactions between the prescription and the active medicines from every member. A pair is
two sides of ATC codes or class prefixes; either order trips it."""

from __future__ import annotations

from dataclasses import dataclass

from consumers.pharmacy.review.checks.base import Context, atc_in, finding
from consumers.pharmacy.review.model import Finding, other_medicine
from consumers.pharmacy.review.rules_file import Entry, KindReader, Rule


@dataclass(frozen=True)
class InteractionRule:
    rule: Rule
    a: tuple[str, ...]
    b: tuple[str, ...]

    def between(self, one: str | None, two: str | None) -> bool:
        return (atc_in(one, self.a) and atc_in(two, self.b)) or (atc_in(one, self.b) and atc_in(two, self.a))


def parse(entry: Entry, rule: Rule) -> InteractionRule:
    return InteractionRule(rule, entry.atc("a"), entry.atc("b"))


READER = KindReader({"a", "b"}, parse)


def concerning(rules: list[InteractionRule], atc: str | None) -> list[InteractionRule]:
    """The rules with the prescribed drug on one side, in their order: only these can trip."""
    return [rule for rule in rules if atc_in(atc, rule.a) or atc_in(atc, rule.b)]


def check(rules: list[InteractionRule], ctx: Context) -> list[Finding]:
    out = []
    # Sifted once per prescription rather than per active medicine: a county's interaction table is
    # long and a person takes several medicines, and this check runs on every prescription.
    relevant = concerning(rules, ctx.medicine.atc)
    for other in ctx.patient.active:
        if other.reference and other.reference == ctx.medicine.reference:
            continue
        for rule in relevant:
            if rule.between(ctx.medicine.atc, other.atc):
                zh, en = other_medicine(other)
                out.append(finding(rule.rule, f"与在用药品 {zh} 相互作用", f"interacts with the active {en}",
                                   implicated=(other.reference,)))
    return out
