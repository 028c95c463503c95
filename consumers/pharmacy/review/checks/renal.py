"""Renal dosing by eGFR bands (metformin, DOACs, levofloxacin, gabapentin, NSAIDs, digoxin, ...), from the
patient's latest eGFR in the shared record, or one computed from creatinine (CKD-EPI 2021). A lab value
older than settings.lab_max_age_days is still used, and the finding says it is old."""

from __future__ import annotations

from dataclasses import dataclass

from consumers.pharmacy.review.checks.base import Context, atc_in, finding, number
from consumers.pharmacy.review.egfr import Kidney, kidney
from consumers.pharmacy.review.model import Finding
from consumers.pharmacy.review.rules_file import Entry, KindReader, Rule


@dataclass(frozen=True)
class RenalRule:
    rule: Rule
    atc: tuple[str, ...]
    egfr_below: float  # trips when eGFR < egfr_below
    egfr_at_least: float  # ... and eGFR >= egfr_at_least


def parse(entry: Entry, rule: Rule) -> RenalRule:
    below = entry.number("egfr_below")
    if below is None:
        raise entry.fail("egfr_below is required (the band is egfr_at_least <= eGFR < egfr_below)")
    at_least = entry.number("egfr_at_least") or 0.0
    if not at_least < below:
        raise entry.fail(f"egfr_at_least ({at_least:g}) must be below egfr_below ({below:g})")
    return RenalRule(rule, entry.atc("atc"), below, at_least)


READER = KindReader({"atc", "egfr_below", "egfr_at_least"}, parse)


def check(rules: list[RenalRule], ctx: Context) -> list[Finding]:
    matching = [r for r in rules if atc_in(ctx.medicine.atc, r.atc)]
    if not matching:
        return []
    found = kidney(ctx.patient)
    if found is None:
        return []  # no kidney function on record anywhere in the county: nothing to compare
    if isinstance(found, str):
        rule = matching[0].rule
        return [finding(rule, f"无法核对肾功能剂量（{found}）", f"the renal dose cannot be checked: {found}",
                        kind="failsafe", action="hold",
                        implicated=(ctx.patient.creatinine.reference if ctx.patient.creatinine else "",
                                    ctx.patient.egfr.reference if ctx.patient.egfr else ""))]
    zh, en = _describe(found, ctx)
    return [finding(r.rule, zh, en, implicated=(found.lab.reference,)) for r in matching
            if r.egfr_at_least <= found.egfr < r.egfr_below]


def _describe(found: Kidney, ctx: Context) -> tuple[str, str]:
    lab = found.lab
    when = lab.observed.date().isoformat()
    if found.computed:
        zh = (f"eGFR {number(found.egfr)} mL/min/1.73m²，由肌酐 {number(lab.value)} {lab.unit}（{lab.facility_id}，"
              f"{when}）按 CKD-EPI 2021 公式结合年龄、性别计算")
        en = (f"eGFR {number(found.egfr)} mL/min/1.73m2, computed (CKD-EPI 2021, from age and sex) from creatinine "
              f"{number(lab.value)} {lab.unit} ({lab.facility_id}, {when})")
    else:
        zh = f"eGFR {number(found.egfr)} mL/min/1.73m²（{lab.facility_id}，{when}）"
        en = f"eGFR {number(found.egfr)} mL/min/1.73m2 ({lab.facility_id}, {when})"
    age_days = (ctx.now - lab.observed).total_seconds() / 86400
    if age_days > ctx.settings.lab_max_age_days:
        zh += f"；该检验已是 {int(age_days)} 天前的结果（超过 {number(ctx.settings.lab_max_age_days)} 天），建议复查"
        en += (f"; this result is {int(age_days)} days old (more than {number(ctx.settings.lab_max_age_days)}), "
               "consider a new test")
    return zh, en
