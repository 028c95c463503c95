"""Age limits: drugs not for children under an age (fluoroquinolones, tetracyclines, aspirin, codeine)
and cautions for the elderly (Beers-like: long-acting sulfonylureas, benzodiazepines, anticholinergics)."""

from __future__ import annotations

from dataclasses import dataclass

from consumers.pharmacy.review.checks.base import Context, atc_in, finding, number
from consumers.pharmacy.review.model import Finding
from consumers.pharmacy.review.rules_file import Entry, KindReader, Rule


@dataclass(frozen=True)
class AgeRule:
    rule: Rule
    atc: tuple[str, ...]
    below_age: float | None  # trips for patients younger than this
    at_least_age: float | None  # trips for patients this old or older


def parse(entry: Entry, rule: Rule) -> AgeRule:
    below, at_least = entry.number("below_age"), entry.number("at_least_age")
    if (below is None) == (at_least is None):
        raise entry.fail("give exactly one of below_age (children) or at_least_age (the elderly)")
    return AgeRule(rule, entry.atc("atc"), below, at_least)


READER = KindReader({"atc", "below_age", "at_least_age"}, parse)


def check(rules: list[AgeRule], ctx: Context) -> list[Finding]:
    age = ctx.patient.age_years
    if age is None:
        return []  # the dose check says when an unknown age matters
    out = []
    for rule in rules:
        if not atc_in(ctx.medicine.atc, rule.atc):
            continue
        if rule.below_age is not None and age < rule.below_age:
            out.append(finding(rule.rule, f"患者 {number(round(age, 1))} 岁，未满 {number(rule.below_age)} 岁",
                               f"the patient is {number(round(age, 1))}, under {number(rule.below_age)}"))
        elif rule.at_least_age is not None and age >= rule.at_least_age:
            out.append(finding(rule.rule, f"患者 {number(round(age, 1))} 岁（≥{number(rule.at_least_age)} 岁）",
                               f"the patient is {number(round(age, 1))} (>= {number(rule.at_least_age)})"))
    return out
