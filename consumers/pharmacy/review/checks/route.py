"""Route and form mistakes: a tablet given by injection, an injection form by mouth, drugs that must never
go by a route (vincristine intrathecally, potassium chloride as an IV push)."""

from __future__ import annotations

from dataclasses import dataclass

from consumers.pharmacy.review.checks.base import Context, atc_in, finding
from consumers.pharmacy.review.model import Finding
from consumers.pharmacy.review.rules_file import Entry, KindReader, Rule


@dataclass(frozen=True)
class RouteRule:
    rule: Rule
    finding_kind: str  # route | form
    atc: tuple[str, ...]  # empty: any drug
    forms: tuple[str, ...]  # empty: any form; a form matches when it contains one of these words
    routes: tuple[str, ...]  # the routes that are wrong

    def trips(self, atc: str | None, form: str | None, route: str | None) -> bool:
        if route is None or route not in self.routes:
            return False
        if self.atc and not atc_in(atc, self.atc):
            return False
        return not self.forms or (form is not None and any(word in form for word in self.forms))


def parse(entry: Entry, rule: Rule) -> RouteRule:
    atc, forms = entry.atc("atc", required=False), entry.words("forms", required=False)
    if not atc and not forms:
        raise entry.fail("give atc, forms or both: the drugs or dosage forms the wrong routes are for")
    return RouteRule(rule, entry.choice("finding", ("route", "form"), default="route"), atc, forms,
                     entry.words("routes"))


READER = KindReader({"finding", "atc", "forms", "routes"}, parse)


def check(rules: list[RouteRule], ctx: Context) -> list[Finding]:
    medicine = ctx.medicine
    return [finding(r.rule, f"{medicine.form or '?'} 经 {medicine.route} 给药",
                    f"{medicine.form or '?'} given by {medicine.route}", kind=r.finding_kind)
            for r in rules if r.trips(medicine.atc, medicine.form, medicine.route)]
