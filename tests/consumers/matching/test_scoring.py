"""Scores, blocking keys, decisions and the rules file."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.record_store.matching.blocking import blocking_keys
from consumers.record_store.matching.decision import Candidate, decide
from consumers.record_store.matching.features import Features, features
from consumers.record_store.matching.rules import RulesError, load_rules
from consumers.record_store.matching.scoring import birth_outcome, one_keystroke, score
from hub.core.identifiers import RESIDENT_ID, resident_id_check_digit

RULES = load_rules()
VALID_OTHER = "11010119900307093" + resident_id_check_digit("11010119900307093")


def patient(name: str = "张伟", birth: str | None = "1990-03-07", sex: str | None = "male",
            phone: str | None = "13812345678", address: str | None = "青山县青山镇枫树岭12号",
            resident_id: str | None = None) -> Features:
    resource: dict = {"resourceType": "Patient", "name": [{"text": name}]}
    if birth:
        resource["birthDate"] = birth
    if sex:
        resource["gender"] = sex
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    if address:
        resource["address"] = [{"text": address}]
    if resident_id:
        resource["identifier"] = [{"system": RESIDENT_ID, "value": resident_id}]
    return features(resource)


def test_features_read_structured_and_free_text_fields() -> None:
    f = features({
        "resourceType": "Patient", "name": [{"family": "王", "given": ["秀英"]}], "gender": "female",
        "birthDate": "1992-06-10", "telecom": [{"system": "phone", "value": "+86 138-1234-5678"}],
        "address": [{"line": ["李家村8号"], "city": "青山县", "text": "浙江省青山县白溪乡李家村8号"}],
        "identifier": [{"system": RESIDENT_ID, "value": "330122199206105328"}],
    })
    assert (f.han, f.birth, f.phones, f.township, f.village) == ("王秀英", "19920610", ("13812345678",), "白溪乡", "李家村")
    assert f.resident_id == "330122199206105328" and Features.from_json(f.to_json()) == f
    typo = features({"resourceType": "Patient", "identifier": [{"system": RESIDENT_ID, "value": "330122199206105329"}]})
    assert typo.resident_id == "" and typo.resident_id_typo == "330122199206105329"


def test_the_same_person_typed_differently_links() -> None:
    a = patient()
    assert score(a, patient(), RULES).total >= RULES.thresholds.link
    b = patient(name="章伟", phone=None)  # homophone, no phone
    assert score(a, b, RULES).total >= RULES.thresholds.link


def test_pinyin_and_swapped_day_month_is_a_possible_match_with_reasons() -> None:
    result = score(patient(), patient(name="Zhang Wei", birth="1990-07-03", phone="13900000000"), RULES)
    assert RULES.thresholds.possible <= result.total < RULES.thresholds.link
    assert "name same_pinyin" in result.explain() and "birth_date swapped_day_month" in result.explain()


def test_family_members_sharing_phone_and_village_do_not_match() -> None:
    father = patient(name="张建国", birth="1962-05-01")
    son = patient(name="张伟", birth="1990-03-07")
    assert score(father, son, RULES).total < RULES.thresholds.possible


def test_twins_are_never_linked_automatically() -> None:
    a = patient(name="张伟明")
    b = patient(name="张伟亮")  # same birth date, phone, village; generation character shared
    assert score(a, b, RULES).total < RULES.thresholds.link


def test_two_valid_resident_ids_that_differ_are_never_linked_automatically() -> None:
    a = patient(resident_id="110101199003074573")
    b = patient(resident_id=VALID_OTHER)  # everything else identical: a reviewer decides
    result = score(a, b, RULES)
    assert result.total < RULES.thresholds.link and "resident_id different" in result.explain()


def test_a_mistyped_resident_id_counts_for_the_match() -> None:
    a = patient(resident_id="110101199003074573", phone=None, address=None)
    b = patient(resident_id="110101199003074583", phone=None, address=None)  # check digit fails
    assert any(p.field == "resident_id" and p.outcome == "one_typo" for p in score(a, b, RULES).parts)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("19900307", "19900307", "same"), ("19900307", "19900703", "swapped_day_month"),
     ("19900307", "19900308", "one_typo"), ("19900307", "19090307", "one_typo"), ("19900307", "19910408", "different")],
)
def test_birth_dates(a: str, b: str, expected: str) -> None:
    assert birth_outcome(a, b) == expected


def test_one_keystroke() -> None:
    assert one_keystroke("12345", "12355") and one_keystroke("12345", "12435")
    assert not one_keystroke("12345", "12543") and not one_keystroke("12345", "1234")


def test_blocking_keys_tolerate_one_wrong_field() -> None:
    base = set(blocking_keys(patient()))
    for changed in (patient(name="Zhang Wei"), patient(birth="1990-07-03"), patient(birth="1991-03-07"),
                    patient(phone="13900000000"), patient(address=None)):
        assert base & set(blocking_keys(changed)), changed


def _candidate(community: str, total: float) -> Candidate:
    from consumers.record_store.matching.scoring import Score

    return Candidate(community, f"{community}/1", Score(total, ()))


def test_decisions() -> None:
    t = RULES.thresholds
    assert decide([_candidate("a", t.link + 1)], RULES).outcome == "link"
    assert decide([_candidate("a", t.link - 0.5)], RULES).outcome == "possible"
    assert decide([_candidate("a", t.possible - 0.5)], RULES).outcome == "none"
    ambiguous = decide([_candidate("a", t.link + 1), _candidate("b", t.link)], RULES)
    assert ambiguous.outcome == "possible" and [c.community_id for c in ambiguous.candidates] == ["a", "b"]
    assert decide([_candidate("a", t.link + 1)], RULES, excluded=frozenset({"a"})).outcome == "none"


def test_rules_version_follows_content(tmp_path: Path) -> None:
    text = Path("consumers/record_store/matching/rules.yaml").read_text(encoding="utf-8")
    changed = tmp_path / "rules.yaml"
    changed.write_text(text.replace("link: 15.0", "link: 16.0"), encoding="utf-8")
    assert load_rules(changed).version != RULES.version


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("link: 15.0", "link: 5.0"), "must not exceed thresholds.link"),
        (lambda t: t.replace("same_pinyin: 5.5", "same_pinyin: lots"), "weights.name.same_pinyin"),
        (lambda t: t + "\nextra: 1\n", "extra"),
        (lambda t: t.replace("thresholds:", "thresholds: ["), "not valid YAML"),
    ],
)
def test_bad_rules_files_are_named(tmp_path: Path, edit, message: str) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(edit(Path("consumers/record_store/matching/rules.yaml").read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(bad)
    assert str(bad) in str(caught.value) and message in str(caught.value)
