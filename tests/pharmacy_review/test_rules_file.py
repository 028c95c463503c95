"""Loading the rules: a whole edited text checked, the first mistake named with its place; versions; the
listing for the page; and the shipped data's coverage."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.pharmacy.review import ReviewRulesError, RuleSet, default_rules
from consumers.pharmacy.review.engine import RULES_DIR
from hub.core.errors import PermanentError
from hub.core.terminology import community_terminology

GOOD = """\
version: "t1"
settings: {lab_max_age_days: 30}
rules:
  - id: interaction.warfarin-aspirin
    kind: interaction
    a: B01AA03
    b: [B01AC06]
    severity: high
    action: hold
    text: {zh: 出血, en: bleeding}
    source: 华法林钠片说明书
"""


def edited(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


def error(text: str) -> str:
    with pytest.raises(ReviewRulesError) as caught:
        RuleSet.from_text(text, "db:rules#7")
    assert isinstance(caught.value, PermanentError) and isinstance(caught.value, ValueError)
    return str(caught.value)


def test_a_good_text_loads() -> None:
    rules = RuleSet.from_text(GOOD, "db:rules#7")
    assert rules.version.startswith("t1+") and rules.settings.lab_max_age_days == 30
    assert [r["id"] for r in rules.rules()] == ["interaction.warfarin-aspirin"]


def test_bad_yaml_names_the_line() -> None:
    message = error(edited("    a: B01AA03\n", "    a: [B01AA03\n"))
    assert message.startswith("review rules db:rules#7:") and "not valid YAML" in message


def test_unknown_kind() -> None:
    message = error(edited("kind: interaction", "kind: interactions"))
    assert "db:rules#7:4" in message and "interaction.warfarin-aspirin" in message
    assert "unknown kind 'interactions'" in message and "dose" in message


def test_missing_source() -> None:
    message = error(edited("    source: 华法林钠片说明书\n", ""))
    assert "rule interaction.warfarin-aspirin" in message and "source is missing" in message


def test_duplicate_id_names_both_places() -> None:
    rule = GOOD.split("rules:\n", 1)[1]
    message = error(GOOD + rule)
    assert "id is used twice" in message and "db:rules#7:12" in message and "db:rules#7:4" in message


@pytest.mark.parametrize(("old", "new", "problem"), [
    ('version: "t1"\n', "", "no version"),
    ("severity: high", "severity: grave", "severity must be one of high, moderate, low"),
    ("action: hold", "action: stop", "action must be one of warn, hold"),
    ("text: {zh: 出血, en: bleeding}", "text: {zh: 出血}", "text must give zh and en"),
    ("    b: [B01AC06]\n", "    b: [B01AC06]\n    c: 1\n", "unknown field 'c'"),
    ("a: B01AA03", "a: warfarin", "not an ATC code"),
    ("settings: {lab_max_age_days: 30}", "settings: {lab_max_age_days: -1}", "positive number"),
    ("id: interaction.warfarin-aspirin", "id: Warfarin Aspirin", "id must be"),
])
def test_each_problem_is_named(old: str, new: str, problem: str) -> None:
    assert problem in error(edited(old, new))


@pytest.mark.parametrize(("rule", "problem"), [
    ("{id: dose.x, kind: dose, atc: C08CA01, adult: {single_max: -1}}", "adult.single_max must be a number >= 0"),
    ("{id: dose.x, kind: dose, atc: C08CA01, adult: {single_min: 10, single_max: 5}}", "single_min (10) is above"),
    ("{id: dose.x, kind: dose, atc: C08CA01, adult: {}, per_day: [3, 1]}", "per_day must be [min, max]"),
    ("{id: dose.x, kind: dose, atc: C08CA01, unit: tsp, adult: {single_max: 1}}", "unit must be one of mg, IU, ml"),
    ("{id: renal.x, kind: renal, atc: A10BA02}", "egfr_below is required"),
    ("{id: age.x, kind: age, atc: J01MA, below_age: 18, at_least_age: 65}", "exactly one of below_age"),
    ("{id: allergy.x, kind: allergy, match: cross, allergen: J01C}", "drug must be"),
    ("{id: allergy.x, kind: allergy, match: same_class}", "classes must be"),
    ("{id: duplicate.x, kind: duplicate}", "exactly one of level"),
    ("{id: route.x, kind: route, routes: [口服]}", "give atc, forms or both"),
])
def test_kind_fields_are_checked(rule: str, problem: str) -> None:
    common = "severity: low, action: warn, text: {zh: 甲, en: a}, source: s"
    text = f'version: "1"\nrules:\n  - {rule[:-1]}, {common}}}\n'
    assert problem in error(text)


def test_a_folder_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "00-version.yaml").write_text('version: "f1"\n', encoding="utf-8")
    (tmp_path / "10-rules.yaml").write_text(GOOD.replace('version: "t1"\n', "").replace("kind: interaction",
                                                                                          "kind: nope"),
                                            encoding="utf-8")
    with pytest.raises(ReviewRulesError, match=r"10-rules\.yaml:3: rule interaction\.warfarin-aspirin: unknown kind"):
        RuleSet.load(tmp_path)


def test_a_missing_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(ReviewRulesError, match="cannot be read"):
        RuleSet.load(tmp_path / "nope.yaml")


def test_version_changes_when_content_changes_and_only_then() -> None:
    one = RuleSet.from_text(GOOD, "a").version
    assert RuleSet.from_text(GOOD, "b").version == one  # the origin is not content
    assert RuleSet.from_text(GOOD.replace("bleeding", "bleeding risk"), "a").version != one
    assert RuleSet.from_text(GOOD.replace('"t1"', '"t2"'), "a").version.startswith("t2+")


def test_shipped_text_round_trips_through_from_text() -> None:
    shipped = default_rules()
    again = RuleSet.from_text(shipped.text, "db:rules#1")
    assert again.version == shipped.version and len(again.rules()) == len(shipped.rules())


def test_rules_listing_for_the_page() -> None:
    listing = default_rules().rules()
    first = next(r for r in listing if r["id"] == "interaction.warfarin-aspirin")
    assert first["kind"] == "interaction" and first["text"]["zh"] and first["text"]["en"]
    assert first["severity"] == "high" and first["action"] == "hold" and first["source"]
    assert first["where"].startswith(str(RULES_DIR / "70-interactions.yaml") + ":")
    assert first["a"] == "B01AA03"


# Coverage of the shipped data ------------------------------------------------------------------------

def _codes(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def test_at_least_100_interaction_pairs() -> None:
    assert sum(1 for r in default_rules().rules() if r["kind"] == "interaction") >= 100


def test_dose_ranges_for_at_least_80_drugs() -> None:
    drugs = {code for r in default_rules().rules() if r["kind"] == "dose" for code in _codes(r["atc"])}
    assert len(drugs) >= 80


def test_every_rule_has_a_source_and_both_texts() -> None:
    for rule in default_rules().rules():
        assert rule["source"].strip() and rule["text"]["zh"].strip() and rule["text"]["en"].strip(), rule["id"]


def test_every_kind_is_shipped() -> None:
    assert {r["kind"] for r in default_rules().rules()} == {"dose", "age", "pregnancy", "renal", "allergy",
                                                            "duplicate", "interaction", "route"}


# The county formulary's everyday drugs (the list); the catalogue grows, these must stay covered.
EVERYDAY = {"J01CA04", "J01DD08", "J01MA12", "J01FA10", "C08CA05", "C08CA01", "C09CA04", "C09CA03", "C07AB02",
            "C03AA03", "A10BA02", "A10BB12", "A10BF01", "B01AC06", "C10AA05", "C10AA07", "B01AC04", "A02BC01",
            "M01AE01", "N02BE01", "R05CB06", "R06AX13", "B01AA03", "C01AA05", "C03CA01", "C03DA01", "C09AA02",
            "C09AA01"}


def test_everyday_drugs_have_dose_ranges() -> None:
    covered = {code for r in default_rules().rules() if r["kind"] == "dose" for code in _codes(r["atc"])}
    assert EVERYDAY - covered == set()
    shipped = {d.atc for d in community_terminology().drugs if d.atc in EVERYDAY}
    assert shipped, "the community catalogue names none of the everyday drugs"
