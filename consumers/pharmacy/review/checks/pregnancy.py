"""Pregnancy: drugs contraindicated or to be used with caution in pregnancy (warfarin, ACE inhibitors and
ARBs, statins, fluoroquinolones, tetracyclines, misoprostol, methotrexate, ...)."""

from __future__ import annotations

from dataclasses import dataclass

from consumers.pharmacy.review.checks.base import Context, atc_in, finding
from consumers.pharmacy.review.model import Finding
from consumers.pharmacy.review.rules_file import Entry, KindReader, Rule


@dataclass(frozen=True)
class PregnancyRule:
    rule: Rule
    atc: tuple[str, ...]


def parse(entry: Entry, rule: Rule) -> PregnancyRule:
    return PregnancyRule(rule, entry.atc("atc"))


READER = KindReader({"atc"}, parse)


def check(rules: list[PregnancyRule], ctx: Context) -> list[Finding]:
    if ctx.patient.pregnant is not True:
        return []
    return [finding(r.rule, "患者妊娠", "the patient is pregnant") for r in rules if atc_in(ctx.medicine.atc, r.atc)]
