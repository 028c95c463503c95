"""The interaction check sifts the rules by the prescribed drug once; it must find exactly what a scan of
every rule against every active medicine finds, in the same order."""

from __future__ import annotations

from consumers.pharmacy.review.checks import interaction
from consumers.pharmacy.review.checks.base import Context
from consumers.pharmacy.review.model import Finding
from hub.core.terminology import community_terminology
from tests.pharmacy_review.factories import NOW, RULES, med, other, patient


def _every_rule(rules: list[interaction.InteractionRule], ctx: Context) -> list[str]:
    return [rule.rule.id for o in ctx.patient.active if not (o.reference and o.reference == ctx.medicine.reference)
            for rule in rules if rule.between(ctx.medicine.atc, o.atc)]


def test_sifted_check_finds_what_every_rule_finds_for_every_catalogue_drug() -> None:
    rules = RULES._by_kind["interaction"]
    atcs = sorted({d.atc for d in community_terminology().drugs if d.atc})
    # Each prescribed drug against a person taking every catalogue drug once (each its own reference).
    active = tuple(other(atc, atc, ref=f"MedicationRequest/rx-{n}") for n, atc in enumerate(atcs))
    tripped = 0
    for atc in [*atcs, None]:
        ctx = Context(med(atc), patient(active=active), NOW, RULES.settings)
        found: list[Finding] = interaction.check(rules, ctx)
        assert [f.rule_id for f in found] == _every_rule(rules, ctx)
        tripped += len(found)
    assert tripped > 50  # the catalogue does meet the interaction table


def test_concerning_keeps_only_rules_naming_the_drug_in_order() -> None:
    rules = RULES._by_kind["interaction"]
    kept = interaction.concerning(rules, "B01AA03")  # warfarin
    assert kept and all(interaction.atc_in("B01AA03", r.a + r.b) for r in kept)
    assert [r.rule.id for r in kept] == [r.rule.id for r in rules if r in kept]
    assert interaction.concerning(rules, None) == []
