"""Field rules: comparators, levels and weights, links_alone, blocking keys and the rules file."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.record_store.matching import comparators
from consumers.record_store.matching.decision import Candidate, decide
from consumers.record_store.matching.field_rules import FieldRules
from consumers.record_store.matching.rules import RulesError, load_rules

LATIN = Path("consumers/record_store/matching/examples/latin.yaml")
INSURANCE = "http://example.org/insurance"


def rules() -> FieldRules:
    loaded = load_rules(LATIN)
    assert isinstance(loaded, FieldRules)
    return loaded


def patient(given: str = "Robert", family: str = "Smith", birth: str | None = "1970-03-07", sex: str | None = "male",
            phone: str | None = "(555) 123-4567", line: str = "12 Main Street", insurance: str | None = None) -> dict:
    resource: dict = {"resourceType": "Patient", "name": [{"family": family, "given": [given]}],
                      "address": [{"line": [line], "city": "Springfield", "postalCode": "12345"}]}
    if birth:
        resource["birthDate"] = birth
    if sex:
        resource["gender"] = sex
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    if insurance:
        resource["identifier"] = [{"system": INSURANCE, "value": insurance}]
    return resource


def level(comparator: str, when: str, a: object, b: object) -> bool:
    holds = comparators.condition(comparator, when)
    xs, ys = comparators.prepare(comparator, [a]), comparators.prepare(comparator, [b])
    return any(holds(x, y) for x in xs for y in ys)


@pytest.mark.parametrize(
    ("comparator", "when", "a", "b", "expected"),
    [
        ("exact", "same", "Smith", "Smith", True),
        ("exact", "same", "Smith", "SMITH", False),
        ("text", "same", "O’Brien-Smith ", "o brien smith", True),
        ("text", "same", "José", "JOSE", True),
        ("text", "jaro_winkler >= 0.9", "Jonathon", "Jonathan", True),
        ("text", "jaro_winkler >= 0.9", "Jonathan", "Maria", False),
        ("text", "levenshtein <= 1", "Smith", "Smyth", True),
        ("text", "levenshtein <= 1", "Smith", "Smythe", False),
        ("text", "damerau <= 1", "Micheal", "Michael", True),
        ("text", "metaphone", "Phillips", "Filips", True),
        ("text", "nysiis", "MacDonald", "McDonald", True),
        ("text", "soundex", "Robert", "Rupert", True),
        ("text", "nickname", "Bob", "Robert", True),
        ("text", "nickname", "Bill", "Robert", False),
        ("text", "initial", "R", "Robert", True),
        ("pinyin", "pinyin", "张伟", "Zhang Wei", True),
        ("pinyin", "same_characters", "张伟", "章伟", False),
        ("date", "same", "1970-03-07", "1970-03-07", True),
        ("date", "swapped_day_month", "1970-03-07", "1970-07-03", True),
        ("date", "one_digit", "1970-03-07", "1970-03-08", True),
        ("date", "one_digit", "1970-03-07", "1971-04-07", False),
        ("date", "within_days 30", "1970-03-07", "1970-03-30", True),
        ("number", "within 2", 70, "71.5", True),
        ("number", "within 10%", 100, 115, False),
        ("address", "same_street", {"line": ["12 Main St."]}, {"line": ["12 MAIN STREET"]}, True),
        ("address", "same_street", {"line": ["12 Main St"]}, {"line": ["14 Main St"]}, False),
        ("address", "same_street_name", {"line": ["12 Main St"]}, {"line": ["14 Main Street"]}, True),
        ("address", "same_postcode", {"postalCode": "AB1 2CD"}, {"postalCode": "ab12cd"}, True),
        ("address", "same_village", "青山县青山镇枫树岭12号", {"text": "青山县青山镇枫树岭3号"}, True),
        ("address", "same_township", "青山县青山镇枫树岭12号", "青山县青山镇李家村3号", True),
        ("address", "token_overlap >= 0.5", "12 Main Street Springfield", "12 Main St", True),
        ("identifier", "same", "A 123-456", "a123456", True),
        ("identifier", "one_digit", "A123456", "A123465", True),
    ],
)
def test_comparators(comparator: str, when: str, a: object, b: object, expected: bool) -> None:
    assert level(comparator, when, a, b) is expected


def test_a_condition_the_comparator_does_not_know_lists_what_it_knows() -> None:
    with pytest.raises(comparators.ConditionError) as caught:
        comparators.condition("date", "metaphone")
    assert "swapped_day_month" in str(caught.value)


def test_records_identical_on_every_field_link() -> None:
    r = rules()
    a = r.extract(patient())
    assert r.compare(a, r.extract(patient())).total >= r.thresholds.link
    # The same record without phone, sex or insurance still links: name, birth date and address.
    bare = r.extract(patient(sex=None, phone=None))
    assert r.compare(a, bare).total >= r.thresholds.link


def test_typos_nicknames_and_swapped_dates_score_with_reasons() -> None:
    r = rules()
    result = r.compare(r.extract(patient()), r.extract(patient(given="Bob", birth="1970-07-03", line="12 Main St")))
    assert "given nickname" in result.explain() and "birth_date swapped_day_month" in result.explain()
    assert "address same_street" in result.explain() and result.total >= r.thresholds.possible


def test_twins_in_one_household_are_never_linked_automatically() -> None:
    r = rules()
    result = r.compare(r.extract(patient(given="Robert")), r.extract(patient(given="William")))
    assert result.total < r.thresholds.link and "given else" in result.explain()


def test_an_identifier_that_links_alone_makes_a_certain_link() -> None:
    r = rules()
    a = r.extract(patient(insurance="A123456789"))
    b = r.extract(patient(given="Rob", family="Smithers", birth="1980-01-01", insurance="A 123456789"))
    score = r.compare(a, b)
    assert score.certain and "insurance=A123456789" in r.keys(b)
    decision = decide([Candidate("c1", "x/1", score)], r)
    assert decision.outcome == "link" and decision.community_id == "c1"
    # Two communities both certain: a person decides.
    assert decide([Candidate("c1", "x/1", score), Candidate("c2", "x/2", score)], r).outcome == "possible"
    different = r.compare(a, r.extract(patient(insurance="B987654321")))
    assert not different.certain and "insurance else" in different.explain()


def test_features_round_trip_and_belong_to_their_rules(tmp_path: Path) -> None:
    r = rules()
    f = r.extract(patient(insurance="A1"))
    assert r.load_features(r.dump_features(f)) == f
    assert r.load_features('["zhang wei","张伟","male","19900307",[],"","","",""]') is None
    assert load_rules().load_features(r.dump_features(f)) is None
    changed = tmp_path / "rules.yaml"
    changed.write_text(LATIN.read_text(encoding="utf-8").replace("path: gender", "path: name.given"), encoding="utf-8")
    assert load_rules(changed).load_features(r.dump_features(f)) is None  # another extraction: extract again


def test_blocking_keys_tolerate_one_wrong_field() -> None:
    r = rules()
    base = set(r.keys(r.extract(patient())))
    for changed in (patient(family="Smyth"), patient(birth="1971-03-07"), patient(given="Bob"), patient(phone=None)):
        assert base & set(r.keys(r.extract(changed))), changed


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("comparator: date", "comparator: calendar"), "comparator must be one of"),
        (lambda t: t.replace("when: swapped_day_month", "when: swapped"), "cannot test 'swapped'"),
        (lambda t: t.replace("path: birthDate", "path: birthDate..x"), "cannot read"),
        (lambda t: t.replace("{when: same, weight: 0.5}", "{when: same}"), "either weight, or both m and u"),
        (lambda t: t.replace("[phone]", "[telephone]"), "names no comparison"),
        (lambda t: t.replace("family | metaphone, birth_date | year", "family | caverphone"), "transform"),
    ],
)
def test_bad_field_rules_are_named(tmp_path: Path, edit, message: str) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(edit(LATIN.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(bad)
    assert str(bad) in str(caught.value) and message in str(caught.value)


def test_m_and_u_give_the_weight(tmp_path: Path) -> None:
    text = LATIN.read_text(encoding="utf-8").replace("{when: same, weight: 0.5}", "{when: same, m: 0.8, u: 0.1}")
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    r = load_rules(path)
    assert isinstance(r, FieldRules)
    sex = next(c for c in r.comparisons if c.name == "sex")
    assert sex.levels[0].log_weight == pytest.approx(3.0)
