"""Dose and frequency ranges per drug (by ATC code, optionally route): adults, children by mg/kg with an
absolute cap or by age band, the elderly where labels give limits, and administrations per day.

A dose above a maximum takes the rule's action; a dose below a minimum only warns (too little is a
question for the prescriber, not a danger to stop for). What cannot be compared (no dose, no frequency,
unknown unit, child without weight, unknown age) is a fail-safe finding that holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consumers.pharmacy.review.checks.base import Context, atc_in, finding, number
from consumers.pharmacy.review.model import Finding
from consumers.pharmacy.review.rules_file import Entry, KindReader, Rule
from consumers.pharmacy.review.units import RULE_UNITS, Amount, amount

LIMITS = ("single_max", "daily_max", "single_min", "daily_min")
CHILD_LIMITS = (*LIMITS, "per_kg_single_max", "per_kg_daily_max")
LIMIT_WORDS = {  # limit -> (zh, en)
    "single_max": ("单次剂量上限", "single-dose maximum"), "daily_max": ("日剂量上限", "daily maximum"),
    "single_min": ("单次剂量下限", "single-dose minimum"), "daily_min": ("日剂量下限", "daily minimum"),
    "per_kg_single_max": ("按体重单次上限", "per-kg single maximum"),
    "per_kg_daily_max": ("按体重日上限", "per-kg daily maximum"),
}
GROUP_WORDS = {"adult": ("成人", "adult"), "child": ("儿童", "child"), "elderly": ("老年人", "elderly")}


@dataclass(frozen=True)
class DoseRule:
    rule: Rule
    atc: tuple[str, ...]
    routes: tuple[str, ...]  # empty: any route
    unit: str
    adult: Mapping[str, float]
    child: Mapping[str, float]
    child_bands: tuple[tuple[float, Mapping[str, float]], ...]  # (below_age, limits), youngest first
    elderly: Mapping[str, float]
    per_day: tuple[float, float] | None

    def applies(self, atc: str | None, route: str | None) -> bool:
        return atc_in(atc, self.atc) and (not self.routes or route in self.routes)

    def has_child_limits(self) -> bool:
        return bool(self.child or self.child_bands)


def _limits(entry: Entry, name: str, raw: Mapping[str, Any] | None, allowed: tuple[str, ...]) -> dict[str, float]:
    if raw is None:
        return {}
    extra = sorted(set(raw) - set(allowed))
    if extra:
        raise entry.fail(f"{name}: unknown limit {extra[0]!r}; limits: {', '.join(allowed)}")
    limits = {k: entry.number(k, v, where=f"{name}.{k}") for k, v in raw.items()}
    for low, high in (("single_min", "single_max"), ("daily_min", "daily_max")):
        if low in limits and high in limits and not limits[low] <= limits[high]:  # type: ignore[operator]
            raise entry.fail(f"{name}: {low} ({limits[low]:g}) is above {high} ({limits[high]:g})")
    return {k: v for k, v in limits.items() if v is not None}


def parse(entry: Entry, rule: Rule) -> DoseRule:
    unit = entry.choice("unit", RULE_UNITS, default="mg")
    adult = _limits(entry, "adult", entry.mapping("adult", set(LIMITS), required=True), LIMITS)
    child = _limits(entry, "child", entry.mapping("child", set(CHILD_LIMITS)), CHILD_LIMITS)
    elderly = _limits(entry, "elderly", entry.mapping("elderly", set(LIMITS)), LIMITS)
    bands_raw = entry.data.get("child_bands") or []
    if not isinstance(bands_raw, list):
        raise entry.fail("child_bands must be a list of {below_age, single_max, daily_max, ...}")
    bands = []
    for index, band in enumerate(bands_raw):
        if not isinstance(band, Mapping) or band.get("below_age") is None:
            raise entry.fail(f"child_bands[{index}] must be a mapping with below_age and limits")
        limits = _limits(entry, f"child_bands[{index}]", {k: v for k, v in band.items() if k != "below_age"},
                         CHILD_LIMITS)
        bands.append((entry.number("below_age", band["below_age"], where=f"child_bands[{index}].below_age"), limits))
    per_day = entry.data.get("per_day")
    frequency = None
    if per_day is not None:
        if not isinstance(per_day, list) or len(per_day) != 2:
            raise entry.fail("per_day must be [min, max] administrations per day")
        low = entry.number("per_day", per_day[0], where="per_day[0]")
        high = entry.number("per_day", per_day[1], where="per_day[1]")
        if low is None or high is None or low > high:
            raise entry.fail("per_day must be [min, max] with min <= max")
        frequency = (low, high)
    if not (adult or child or bands or elderly or frequency):
        raise entry.fail("gives no limit; add adult, child, child_bands, elderly or per_day")
    return DoseRule(rule, entry.atc("atc"), entry.words("route", required=False), unit, adult, child,
                    tuple(sorted(bands, key=lambda b: b[0])), elderly, frequency)  # type: ignore[arg-type]


READER = KindReader({"atc", "route", "unit", "adult", "child", "child_bands", "elderly", "per_day"}, parse)


def rule_for(rules: list[DoseRule], ctx: Context) -> DoseRule | None:
    """The rule for this drug and route; a rule written for the route wins over one for any route."""
    medicine = ctx.medicine
    candidates = [r for r in rules if r.applies(medicine.atc, medicine.route)]
    candidates.sort(key=lambda r: (not r.routes, -max(len(a) for a in r.atc)))
    return candidates[0] if candidates else None


def check(rules: list[DoseRule], ctx: Context) -> list[Finding]:
    rule = rule_for(rules, ctx)
    if rule is None:
        return []
    medicine, out = ctx.medicine, []
    if medicine.dose is None:
        return [_failsafe(rule, "处方没有剂量，无法核对剂量", "the prescription has no dose, so it cannot be checked")]
    dose = amount(medicine.dose, medicine.strength_mg)
    if isinstance(dose, str):
        return [_failsafe(rule, f"剂量无法换算（{dose}）", f"the dose cannot be compared: {dose}")]
    if dose.unit != rule.unit:
        return [_failsafe(rule, f"剂量单位 {dose.unit} 与规则单位 {rule.unit} 不同，无法比较",
                          f"the dose is in {dose.unit} and the rule in {rule.unit}; they are not compared")]
    per_day = medicine.per_day
    if per_day is not None and not per_day > 0:
        return [_failsafe(rule, f"每日次数 {per_day!r} 无效", f"{per_day!r} administrations per day is not valid")]
    group = ctx.age_group()
    if group is None and rule.has_child_limits():
        out.append(_failsafe(rule, "患者年龄不明，无法核对儿童剂量，已按成人剂量核对",
                             "the patient's age is not known, so child limits cannot be checked (adult limits were)"))
    out += _check_limits(rule, ctx, dose, group or "adult")
    if rule.per_day is not None:
        low, high = rule.per_day
        if per_day is None:
            out.append(_failsafe(rule, "处方没有给药频次，无法核对", "the prescription has no frequency to check"))
        elif not low <= per_day <= high:
            out.append(finding(rule.rule, f"每日 {number(per_day)} 次，超出 {number(low)}–{number(high)} 次/日",
                               f"{number(per_day)} administrations a day is outside {number(low)}–{number(high)} "
                               "a day", kind="frequency", action=rule.rule.action if per_day > high else "warn"))
    return out


def _check_limits(rule: DoseRule, ctx: Context, dose: Amount, group: str) -> list[Finding]:
    per_day = ctx.medicine.per_day
    checks: list[tuple[str, Mapping[str, float]]] = []  # (whose limits, the limits)
    if group == "child" and rule.has_child_limits():
        age = ctx.patient.age_years or 0
        band = next((limits for below, limits in rule.child_bands if age < below), None)
        checks.append(("child", band if band is not None else rule.child))
        # an adult maximum is never right for a child, whatever the weight says
        checks.append(("adult", {k: v for k, v in rule.adult.items() if k.endswith("_max")}))
    elif group == "elderly" and rule.elderly:
        checks.append(("elderly", {**rule.adult, **rule.elderly}))
    else:
        checks.append(("adult", rule.adult))
    out, problems_zh, problems_en, worst, no_weight = [], [], [], "warn", False
    for name, limits in checks:
        for limit, bound in limits.items():
            daily = limit.startswith("daily") or limit == "per_kg_daily_max"
            per_kg = ""
            if limit.startswith("per_kg"):
                weight = ctx.patient.weight_kg
                if weight is None or not weight > 0:
                    no_weight = True
                    continue
                per_kg = f" ({number(bound)} {rule.unit}/kg x {number(weight)} kg)"
                bound = bound * weight
            if daily and per_day is None:
                continue  # said once, by the frequency check or below
            value = dose.value * per_day if daily and per_day is not None else dose.value
            too_high = limit.endswith("_max") and value > bound * 1.0001
            too_low = limit.endswith("_min") and value < bound * 0.9999
            if too_high or too_low:
                zh, en = LIMIT_WORDS[limit]
                gzh, gen = GROUP_WORDS[name]
                what_zh = "日剂量" if daily else "单次剂量"
                what_en = "daily dose" if daily else "single dose"
                problems_zh.append(f"{what_zh} {number(round(value, 3))} {rule.unit} "
                                   f"{'超过' if too_high else '低于'}{gzh}{zh} {number(round(bound, 3))} {rule.unit}"
                                   f"{per_kg.replace(' x ', ' × ')}")
                problems_en.append(f"{what_en} {number(round(value, 3))} {rule.unit} is "
                                   f"{'above' if too_high else 'below'} the {gen} {en} of "
                                   f"{number(round(bound, 3))} {rule.unit}{per_kg}")
                if too_high:
                    worst = rule.rule.action
    if no_weight:
        out.append(_failsafe(rule, "儿童按体重给药但体重不明，无法核对按体重的剂量",
                             "the child's dose is by weight and the weight is not known"))
    if problems_zh:
        out.append(finding(rule.rule, "；".join(problems_zh), "; ".join(problems_en), kind="dose", action=worst))
    if per_day is None and rule.per_day is None and any(k.startswith("daily") or k == "per_kg_daily_max"
                                                        for _, limits in checks for k in limits):
        out.append(_failsafe(rule, "处方没有给药频次，无法核对日剂量", "the prescription has no frequency, so the "
                             "daily dose cannot be checked"))
    return out


def _failsafe(rule: DoseRule, zh: str, en: str) -> Finding:
    return finding(rule.rule, zh, en, kind="failsafe", action="hold")
