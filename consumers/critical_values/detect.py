"""Which results of an event are critical: pure functions from an event's resources to findings.

- A lab result (`lab_result`: a DiagnosticReport with its Observations in `related`, or a lone
  Observation): a value past the limits of rules.yaml (source `lab_rule`), or a value the sending
  laboratory already flagged HH, LL or AA (source `lab_flag`).
- A reader's report (`diagnostic_report`): an Observation in `related` interpreted HH, LL or AA, and/or
  the report's extension `urn:hub:critical` = true (source `reader`).
A value whose unit the rules cannot convert is returned as unchecked, never compared.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from consumers.critical_values.rules import Rules

INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CRITICAL_CODES = ("HH", "LL", "AA")
CRITICAL_EXTENSION = "urn:hub:critical"
_IGNORED_STATUS = ("cancelled", "entered-in-error", "registered")
_DIRECTION_TEXT = {"high": "高于危急值上限", "low": "低于危急值下限"}
_CODE_TEXT = {"HH": "危急偏高 (HH)", "LL": "危急偏低 (LL)", "AA": "危急异常 (AA)"}


@dataclass(frozen=True)
class Finding:
    """One critical value: what it is, its value, and why it is critical (in Chinese, as the notice says)."""

    source: str  # lab_rule | lab_flag | reader
    analyte: str  # its name
    value: str  # "7.2 mmol/L", or a finding's text
    reference_range: str  # "3.5–5.5 mmol/L", or ""
    reason: str  # "高于危急值上限 6.5 mmol/L"
    code: str  # HH, LL or AA: the interpretation the notice carries
    observation_id: str | None
    fingerprint: str  # what the value is; a changed value is a new notice
    ack_s: float | None = None  # the rule's own time to acknowledge, if it has one

    def sentence(self) -> str:
        ref = f"（参考范围 {self.reference_range}）" if self.reference_range else ""
        return f"{self.analyte} {self.value}{ref}，{self.reason}"


@dataclass(frozen=True)
class Unchecked:
    observation_id: str | None
    analyte: str
    unit: str
    reason: str


@dataclass(frozen=True)
class Detection:
    """What one event holds: its critical findings (with the resources the notice is about) and the values
    that could not be checked."""

    findings: tuple[Finding, ...] = ()
    about: tuple[dict[str, Any], ...] = ()  # the critical Observations (flagged) and the report, as FHIR JSON
    report: dict[str, Any] | None = None
    unchecked: tuple[Unchecked, ...] = field(default=())

    @property
    def source(self) -> str:
        """The notice's source: the reader's, else a rule's, else the lab's flag."""
        sources = {f.source for f in self.findings}
        return next(s for s in ("reader", "lab_rule", "lab_flag") if s in sources)

    def fingerprint(self) -> str:
        return hashlib.sha256("|".join(sorted(f.fingerprint for f in self.findings)).encode()).hexdigest()[:32]


def detect(event_type: str, resource: dict[str, Any], related: tuple[dict[str, Any], ...], rules: Rules) -> Detection:
    report = resource if resource.get("resourceType") == "DiagnosticReport" else None
    observations = [r for r in related if r.get("resourceType") == "Observation"]
    if resource.get("resourceType") == "Observation":
        observations.insert(0, resource)
    if report is not None and report.get("status") in _IGNORED_STATUS:
        return Detection()
    findings: list[Finding] = []
    about: list[dict[str, Any]] = []
    unchecked: list[Unchecked] = []
    for observation in observations:
        if observation.get("status") in _IGNORED_STATUS:
            continue
        if event_type == "diagnostic_report":
            finding = _reader_finding(observation)
        else:
            finding, problem = _lab_finding(observation, rules)
            if problem is not None:
                unchecked.append(problem)
        if finding is not None:
            findings.append(finding)
            about.append(_flagged(observation, finding.code))
    if event_type == "diagnostic_report" and report is not None and _marked_critical(report) and not findings:
        findings.append(_report_finding(report))
    if findings and report is not None:
        about.append(report)
    return Detection(tuple(findings), tuple(about), report, tuple(unchecked))


def critical_code(observation: dict[str, Any]) -> str | None:
    for interpretation in observation.get("interpretation") or []:
        for coding in (interpretation or {}).get("coding") or []:
            code = str(coding.get("code") or "").upper()
            if code in CRITICAL_CODES and coding.get("system") in (None, INTERPRETATION):
                return code
    return None


def _marked_critical(report: dict[str, Any]) -> bool:
    return any(e.get("url") == CRITICAL_EXTENSION and e.get("valueBoolean") is True
               for e in report.get("extension") or [] if isinstance(e, dict))


def _lab_finding(observation: dict[str, Any], rules: Rules) -> tuple[Finding | None, Unchecked | None]:
    check = rules.check(observation)
    flagged = critical_code(observation)
    name = _name(observation)
    problem = None
    if check is not None and check.verdict == "critical":
        assert check.direction is not None and check.limit is not None
        code = "HH" if check.direction == "high" else "LL"
        reason = f"{_DIRECTION_TEXT[check.direction]} {check.limit:g} {check.analyte.unit}"
        if flagged:
            reason += f"；检验科已标记{_CODE_TEXT[flagged]}"
        return Finding("lab_rule", check.analyte.name, _value(observation), _range(observation), reason, code,
                       observation.get("id"), _fingerprint(observation, code), check.analyte.ack_s), None
    if check is not None and check.verdict == "unchecked":
        quantity = observation.get("valueQuantity") or {}
        problem = Unchecked(observation.get("id"), check.analyte.key, str(quantity.get("code") or quantity.get("unit")
                                                                          or ""), check.reason)
    if flagged:
        analyte = check.analyte.name if check is not None else name
        return Finding("lab_flag", analyte, _value(observation), _range(observation),
                       f"检验科标记为{_CODE_TEXT[flagged]}", flagged, observation.get("id"),
                       _fingerprint(observation, flagged)), problem
    return None, problem


def _reader_finding(observation: dict[str, Any]) -> Finding | None:
    flagged = critical_code(observation)
    if flagged is None:
        return None
    return Finding("reader", _name(observation), _value(observation), _range(observation),
                   f"阅片/诊断医师标记为{_CODE_TEXT[flagged]}", flagged, observation.get("id"),
                   _fingerprint(observation, flagged))


def _report_finding(report: dict[str, Any]) -> Finding:
    conclusion = str(report.get("conclusion") or "").strip() or "见报告"
    name = _name(report) or "诊断报告"
    body = json.dumps([report.get("code"), conclusion], sort_keys=True, ensure_ascii=False)
    return Finding("reader", name, conclusion, "", "阅片/诊断医师标记为危急值", "AA", None,
                   hashlib.sha256(body.encode()).hexdigest()[:32])


def _flagged(observation: dict[str, Any], code: str) -> dict[str, Any]:
    """The Observation as the notice carries it: with the critical interpretation it was found to have."""
    copied = copy.deepcopy(observation)
    if critical_code(copied) != code:
        copied["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": code}]}]
    return copied


def _name(resource: dict[str, Any]) -> str:
    code = resource.get("code") or {}
    if code.get("text"):
        return str(code["text"])
    for coding in code.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
    for coding in code.get("coding") or []:
        if coding.get("code"):
            return str(coding["code"])
    return ""


def _quantity_text(quantity: dict[str, Any]) -> str:
    value = quantity.get("value")
    unit = quantity.get("unit") or quantity.get("code") or ""
    text = f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value or "")
    return f"{quantity.get('comparator', '')}{text} {unit}".strip()


def _value(observation: dict[str, Any]) -> str:
    if isinstance(observation.get("valueQuantity"), dict):
        return _quantity_text(observation["valueQuantity"])
    if isinstance(observation.get("valueCodeableConcept"), dict):
        concept = observation["valueCodeableConcept"]
        return str(concept.get("text") or next((c.get("display") or c.get("code") for c in concept.get("coding") or []),
                                               ""))
    for key in ("valueString", "valueInteger", "valueBoolean"):
        if key in observation:
            return str(observation[key])
    return ""


def _range(observation: dict[str, Any]) -> str:
    for item in observation.get("referenceRange") or []:
        if item.get("text"):
            return str(item["text"])
        low, high = item.get("low") or {}, item.get("high") or {}
        unit = (observation.get("valueQuantity") or {}).get("unit") or low.get("unit") or high.get("unit") or ""
        lo, hi = low.get("value"), high.get("value")
        if lo is not None and hi is not None:
            return f"{lo:g}–{hi:g} {unit}".strip()
        if lo is not None:
            return f"≥{lo:g} {unit}".strip()
        if hi is not None:
            return f"≤{hi:g} {unit}".strip()
    return ""


def _fingerprint(observation: dict[str, Any], code: str) -> str:
    """The value as it matters: its code, value and unit and the critical code; not the Observation's
    status or metadata, so an amendment that leaves the value alone does not notify again."""
    value = {k: observation.get(k) for k in ("valueQuantity", "valueCodeableConcept", "valueString", "valueInteger")}
    body = json.dumps([observation.get("id"), observation.get("code"), value, code], sort_keys=True,
                      ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:32]
