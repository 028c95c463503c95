"""The critical-value rules: limits at their boundaries, units converted or refused, codes recognised,
and a bad rules file stopped with one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from consumers.critical_values.detect import detect
from consumers.critical_values.rules import DEFAULT_RULES, CriticalRulesError, load_rules, unit_key
from hub.core.config import HubSettings
from tests.critical_values.factories import LOINC, lab_event, observation, potassium, reader_report

RULES = load_rules()


def verdict(resource: dict) -> tuple[str, float | None, str | None] | None:
    check = RULES.check(resource)
    return None if check is None else (check.verdict, check.value, check.direction)


@pytest.mark.parametrize(("value", "expected"), [
    (2.49, ("critical", 2.49, "low")), (2.5, ("normal", 2.5, None)), (6.5, ("normal", 6.5, None)),
    (6.51, ("critical", 6.51, "high")), (4.2, ("normal", 4.2, None)),
])
def test_potassium_limits_are_strict(value: float, expected: tuple) -> None:
    assert verdict(potassium(value)) == expected


def test_units_are_converted_or_refused_never_guessed() -> None:
    glucose = (LOINC, "2345-7", "葡萄糖")
    # 500 mg/dL is 27.75 mmol/L: past the 25 mmol/L limit; 400 mg/dL (22.2) is not.
    assert verdict(observation("th01", "1", "g", glucose, 500, "mg/dL"))[:1] == ("critical",)  # type: ignore[index]
    assert verdict(observation("th01", "1", "g", glucose, 400, "mg/dL"))[:1] == ("normal",)  # type: ignore[index]
    assert verdict(observation("th01", "1", "g", glucose, 1.9, "mmol/L")) == ("critical", 1.9, "low")
    # Hemoglobin in g/dL (x10), platelets written every way labs write 10^9/L.
    assert verdict(observation("th01", "1", "h", (LOINC, "718-7", "血红蛋白"), 4.5, "g/dL")) == ("critical", 45.0, "low")
    for unit in ("10*9/L", "10^9/L", "×10^9/L", "x10E9/L", "10*3/uL"):
        assert verdict(observation("th01", "1", "p", (LOINC, "777-3", "血小板"), 15, unit))[0] == "critical", unit
    # A unit the rules do not know is not compared: it is reported as unchecked, with what to do.
    check = RULES.check(observation("th01", "1", "g", glucose, 30, "g/L"))
    assert check is not None and check.verdict == "unchecked" and check.value is None
    assert "'g/L' cannot be converted to mmol/L" in check.reason and "glucose.convert" in check.reason
    # No unit at all for a ratio is fine; for potassium it is not.
    assert verdict(observation("th01", "1", "i", (LOINC, "6301-6", "INR"), 5.4, "")) == ("critical", 5.4, "high")
    assert RULES.check(potassium(7.0, unit="")).verdict == "unchecked"  # type: ignore[union-attr]
    assert unit_key(" µmol/L ") == unit_key("umol/l")


def test_codes_local_codes_and_names_are_recognised_and_unknown_codes_are_left_alone() -> None:
    local = observation("th03", "5", "k", ("urn:hub:facility:th03:lab", "LB-K", "钾"), 7.1, "mmol/L")
    by_name = observation("vc02", "5", "k", ("urn:hub:facility:vc02:lab", "X99", "血钾"), 2.1, "mmol/L")
    unknown = observation("th01", "1", "x", (LOINC, "1742-6", "ALT"), 900, "U/L")
    foreign = observation("th01", "1", "x", ("http://example.org/codes", "K", ""), 9.0, "mmol/L")
    assert verdict(local) == ("critical", 7.1, "high")
    assert verdict(by_name) == ("critical", 2.1, "low")
    assert RULES.check(unknown) is None  # no rule: no verdict, and nothing is flagged as unchecked
    assert RULES.check(foreign) is None  # "K" in somebody else's code system is not potassium
    assert RULES.check({**potassium(7.0), "valueQuantity": None, "valueString": "溶血"}) is None


def test_detection_of_rules_lab_flags_and_readers() -> None:
    # A panel: potassium past its limit, sodium fine, an analyte the lab flagged LL that no rule covers.
    flagged = observation("th01", "1", "x", ("urn:hub:facility:th01:lab", "NH3", "血氨"), 3, "umol/L", flag="LL")
    found = detect("lab_result", lab_event([potassium(7.2), observation("th01", "1", "n", (LOINC, "2951-2", "钠"),
                                                                         140, "mmol/L"), flagged]).resource,
                   (potassium(7.2), flagged), RULES)
    assert [(f.source, f.analyte, f.code) for f in found.findings] == [("lab_rule", "血钾", "HH"), ("lab_flag", "血氨", "LL")]
    assert found.findings[0].sentence() == "血钾 7.2 mmol/L（参考范围 3.5–5.5 mmol/L），高于危急值上限 6.5 mmol/L"
    assert found.source == "lab_rule"
    # The Observations the notice is about carry the critical interpretation, then the report.
    assert [r["resourceType"] for r in found.about] == ["Observation", "Observation", "DiagnosticReport"]
    assert found.about[0]["interpretation"][0]["coding"][0]["code"] == "HH"
    # Entered in error: nothing.
    gone = dict(potassium(7.2), status="entered-in-error")
    assert detect("lab_result", gone, (), RULES).findings == ()
    # A reader's report: the HH Observation, or only the extension.
    reader = reader_report()
    assert [f.source for f in detect("diagnostic_report", reader.resource, reader.related, RULES).findings] == ["reader"]
    only_extension = reader_report(flag="H", critical_extension=True)
    found = detect("diagnostic_report", only_extension.resource, only_extension.related, RULES)
    assert len(found.findings) == 1 and "QTc 显著延长" in found.findings[0].value
    not_critical = reader_report(flag="H")
    assert detect("diagnostic_report", not_critical.resource, not_critical.related, RULES).findings == ()


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_bad_rules_file_is_one_line_naming_the_entry(tmp_path: Path) -> None:
    good = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    cases = [
        ({**good, "analytes": [{**good["analytes"][0], "below": 7, "above": 6}]}, r"analytes\[0\] \(potassium\): below \(7\) must be less than above \(6\)"),
        ({**good, "analytes": [{**good["analytes"][0], "convert": {"mg/dL": 0}}]}, r"convert factor for 'mg/dL' must be a positive number"),
        ({**good, "analytes": [good["analytes"][0], {**good["analytes"][1], "loinc": ["2823-3"]}]}, r"loinc '2823-3' is also listed under potassium"),
        ({**good, "analytes": [{**good["analytes"][0], "limit": 3}]}, r"unknown field 'limit'"),
        ({**good, "escalation": {**good["escalation"], "duty_doctors": []}}, r"escalation.duty_doctors: must list at least one"),
        ({**good, "analytes": [{k: v for k, v in good["analytes"][0].items() if k not in ("below", "above")}]}, r"needs below, above or both"),
    ]
    for data, message in cases:
        with pytest.raises(CriticalRulesError, match=message) as raised:
            load_rules(_write(tmp_path, data))
        assert "\n" not in str(raised.value) and str(tmp_path) in str(raised.value)
    (tmp_path / "broken.yaml").write_text("analytes: [", encoding="utf-8")
    with pytest.raises(CriticalRulesError, match="not valid YAML"):
        load_rules(tmp_path / "broken.yaml")
    with pytest.raises(CriticalRulesError, match="cannot be read.*HUB_CRITICAL_RULES"):
        load_rules(tmp_path / "missing.yaml")


def test_settings_name_the_rules_file_and_the_time_to_acknowledge(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HUB_CRITICAL_RULES", str(tmp_path / "r.yaml"))
    monkeypatch.setenv("HUB_CRITICAL_ACK_S", "300")
    settings = HubSettings()
    assert settings.critical_rules == tmp_path / "r.yaml" and settings.critical_ack_s == 300
    monkeypatch.setenv("HUB_CRITICAL_RULES", "")
    monkeypatch.delenv("HUB_CRITICAL_ACK_S")
    assert HubSettings().critical_rules is None and HubSettings().critical_ack_s == 600
