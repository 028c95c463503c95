"""The recognition rules file: the shipped one, a custom one, and one clear line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.record_store.recognition import DEFAULT_RULES, RecognitionRulesError, load_rules
from hub.core.config import HubSettings
from hub.core.terminology import community_terminology

GOOD = """
facilities: [cty01, th01]
unlisted: {days: 3, recognised: true}
tests:
  - {code: "http://loinc.org|2345-7", name: glucose, days: 7}
  - {code: "http://dicom.nema.org/resources/ontology/DCM|CT", days: 0}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_rules_cover_the_demo_tests_with_their_windows() -> None:
    rules = load_rules()
    assert rules.source == DEFAULT_RULES
    days = {f"{system}|{code}": rule.days for (system, code), rule in rules.tests.items()}
    assert days["http://loinc.org|2345-7"] == 7  # glucose
    assert days["http://loinc.org|58410-2"] == 7  # CBC
    assert days["http://loinc.org|24362-6"] == 30  # renal
    assert days["http://loinc.org|57698-3"] == 90  # lipids
    assert days["http://loinc.org|11524-6"] == 30  # ECG
    assert days["http://dicom.nema.org/resources/ontology/DCM|CT"] == 180
    assert rules.facilities == {"cty01", "th01", "th02", "th03", "th04", "th05"}
    assert (rules.unlisted_days, rules.recognise_unlisted, rules.max_days) == (7, False, 180)


def test_every_community_lab_test_and_panel_has_a_rule() -> None:
    terms = community_terminology()
    codes = {code for (_, code) in load_rules().tests}
    assert {t.loinc for t in terms.lab_tests} | {p.loinc for p in terms.lab_panels} <= codes


def test_a_custom_file(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, GOOD))
    assert rules.facilities == {"cty01", "th01"}
    assert (rules.unlisted_days, rules.recognise_unlisted, rules.max_days) == (3, True, 7)
    ct = rules.rule_for([("urn:x", "1"), ("http://dicom.nema.org/resources/ontology/DCM", "CT")])
    assert ct is not None and (ct.name, ct.days) == ("CT", 0)  # the name defaults to the code


def test_the_setting_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("HUB_RECOGNITION_RULES", str(path))
    assert HubSettings().recognition_rules == path
    monkeypatch.setenv("HUB_RECOGNITION_RULES", " ")
    assert HubSettings().recognition_rules is None  # blank: the shipped file


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "facilities: [cty01]\ntests: []\nwindows: {}\n",
            "file: unknown key 'windows'; allowed: facilities, tests, unlisted",
        ),
        ("facilities: [cty01]\n", "file: tests is missing"),
        ("- cty01\n", "file: must be a mapping"),
        ("", "file: must be a mapping"),
        ("facilities: [cty01\ntests: []\n", "line 2: not valid YAML"),
        ("facilities: cty01\ntests: []\n", "facilities: must be a list"),
        ("facilities: [cty01, 'th 01']\ntests: []\n", "facilities[1]: 'th 01' is not a facility id"),
        ("facilities: []\ntests: {a: 1}\n", "tests: must be a list"),
        ("facilities: []\ntests: [glucose]\n", "tests[0]: must be a mapping"),
        (
            "facilities: []\ntests:\n  - {code: 'http://loinc.org|2345-7', dayz: 7}\n",
            "tests[0] (http://loinc.org|2345-7): unknown key 'dayz'; allowed: code, days, name",
        ),
        (
            "facilities: []\ntests:\n  - {code: 'http://loinc.org|2345-7', days: -1}\n",
            "tests[0] (http://loinc.org|2345-7): days must be a whole number from 0 to 36500, not -1",
        ),
        ("facilities: []\ntests:\n  - {code: 'http://loinc.org|2345-7', days: 7.5}\n", "not 7.5"),
        ("facilities: []\ntests:\n  - {code: 'http://loinc.org|2345-7', days: true}\n", "not True"),
        (
            "facilities: []\ntests:\n  - {code: 'http://loinc.org|2345-7'}\n",
            "tests[0] (http://loinc.org|2345-7): days is missing",
        ),
        (
            "facilities: []\ntests:\n  - {code: '2345-7', days: 7}\n",
            "tests[0] (2345-7): code must be 'system|code' (e.g. http://loinc.org|2345-7), not '2345-7'",
        ),
        ("facilities: []\ntests:\n  - {code: 'http://loinc.org|', days: 7}\n", "code must be 'system|code'"),
        (
            "facilities: []\ntests:\n  - {code: 'http://loinc.org|23 45', days: 7}\n",
            "code must be 'system|code'",
        ),
        ("facilities: []\ntests:\n  - {days: 7}\n", "tests[0]: code must be 'system|code'"),
        (
            "facilities: []\ntests:\n  - {code: 'a|1', days: 7}\n  - {code: 'a|1', days: 9}\n",
            "tests[1] (a|1): the code is listed twice",
        ),
        ("facilities: []\nunlisted: 7\ntests: []\n", "unlisted: must be a mapping"),
        (
            "facilities: []\nunlisted: {days: 7, recognized: true}\ntests: []\n",
            "unlisted: unknown key 'recognized'",
        ),
        (
            "facilities: []\nunlisted: {recognised: 'yes'}\ntests: []\n",
            "unlisted: recognised must be true or false",
        ),
        ("facilities: []\nunlisted: {days: -3}\ntests: []\n", "unlisted: days must be a whole number"),
    ],
)
def test_a_bad_file_is_one_line_naming_file_and_entry(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RecognitionRulesError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert message.startswith(f"recognition rules {path}: ") and expected in message
    assert "\n" not in message


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(
        RecognitionRulesError, match=r"cannot read recognition rules .*nope.yaml: No such file"
    ):
        load_rules(tmp_path / "nope.yaml")
