"""A minimal stand-in for consumers/pharmacy/review (the pure rule engine another helper writes), with
the interface of /work/notes/pharmacy-interfaces.md. Installed by conftest.py only while the real
package is absent; a handful of rules (allergy, interaction, duplicate class, renal, daily dose) in YAML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from hub.core.errors import PermanentError


class ReviewRulesError(PermanentError, ValueError):
    pass


@dataclass(frozen=True)
class Dose:
    value: float
    unit: str


@dataclass(frozen=True)
class Medicine:
    name: str
    atc: str | None
    code: str | None
    route: str | None
    form: str | None
    strength_mg: float | None
    dose: Dose | None
    per_day: float | None
    days: float | None
    facility_id: str = ""
    reference: str = ""


@dataclass(frozen=True)
class LabValue:
    value: float
    unit: str
    observed: datetime
    facility_id: str
    reference: str = ""


@dataclass(frozen=True)
class Allergy:
    substance: str
    atc: str | None
    criticality: str | None
    facility_id: str = ""
    reference: str = ""


@dataclass(frozen=True)
class PatientContext:
    age_years: float | None
    sex: str | None
    weight_kg: float | None
    pregnant: bool | None
    egfr: LabValue | None
    creatinine: LabValue | None
    allergies: tuple[Allergy, ...] = ()
    active: tuple[Medicine, ...] = ()


@dataclass(frozen=True)
class Finding:
    rule_id: str
    kind: str
    severity: str
    action: str
    message_zh: str
    message_en: str
    source: str
    implicated: tuple[str, ...] = ()


@dataclass(frozen=True)
class Review:
    outcome: str
    findings: tuple[Finding, ...]
    rules_version: str


SHIPPED = """
version: double-1
interactions:
  - {a: B01AC06, b: M01AE01, action: hold, severity: high, source: 说明书 阿司匹林 (label)}
duplicates:
  - {prefix: B01AC, action: warn, severity: moderate, source: 重复用药 (same ATC class)}
renal:
  - {atc: A10BA02, egfr_below: 30, action: hold, severity: high, source: 二甲双胍说明书 (metformin label)}
daily_mg:
  - {atc: A10BA02, max: 2000, action: hold, severity: high, source: 二甲双胍说明书 (metformin label)}
"""


class RuleSet:
    def __init__(self, data: dict[str, Any], origin: str) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("version"), str):
            raise ReviewRulesError(f"{origin}: the rules need a `version` (text)")
        for key in ("interactions", "duplicates", "renal", "daily_mg"):
            for n, entry in enumerate(data.get(key) or []):
                if not isinstance(entry, dict) or not entry.get("source"):
                    raise ReviewRulesError(f"{origin}: {key}[{n}] needs a source")
        self.version = data["version"]
        self.data = data

    @classmethod
    def load(cls, path: Path) -> RuleSet:
        return cls.from_text(path.read_text(encoding="utf-8"), str(path))

    @classmethod
    def from_text(cls, text: str, origin: str) -> RuleSet:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ReviewRulesError(f"{origin}: not YAML ({exc})") from None
        return cls(data, origin)

    def rules(self) -> list[dict[str, Any]]:
        found = []
        for key in ("interactions", "duplicates", "renal", "daily_mg"):
            for n, entry in enumerate(self.data.get(key) or []):
                found.append({"id": f"{key}.{n}", "kind": key, "text": str(entry), "source": entry["source"]})
        return found

    def review(self, medicine: Medicine, patient: PatientContext, now: datetime) -> Review:
        findings: list[Finding] = []

        def add(rule: str, kind: str, entry: dict[str, Any], zh: str, en: str, implicated: tuple[str, ...] = ()) -> None:
            findings.append(Finding(rule, kind, entry.get("severity", "moderate"), entry.get("action", "warn"), zh, en,
                                    entry["source"], implicated))

        if medicine.code is None:
            findings.append(Finding("unrecognised", "unrecognised", "high", "hold", f"无法识别药品 {medicine.name}",
                                    f"unrecognised drug {medicine.name}", "catalogue"))
            return Review("hold", tuple(findings), self.version)
        atc = medicine.atc or ""
        for allergy in patient.allergies:
            if allergy.atc and atc.startswith(allergy.atc):
                add(f"allergy.{allergy.atc}", "allergy", {"action": "hold", "severity": "high", "source": "过敏史"},
                    f"过敏：{allergy.substance}（{allergy.facility_id}）", f"allergy to {allergy.substance}",
                    (allergy.reference,))
        for n, entry in enumerate(self.data.get("interactions") or []):
            for other in patient.active:
                pair = {atc, other.atc or ""}
                if pair == {entry["a"], entry["b"]}:
                    add(f"interaction.{n}", "interaction", entry, f"相互作用：{medicine.name} 与 {other.name}（{other.facility_id}）",
                        f"interaction of {medicine.name} with {other.name} ({other.facility_id})", (other.reference,))
        for n, entry in enumerate(self.data.get("duplicates") or []):
            for other in patient.active:
                if atc.startswith(entry["prefix"]) and (other.atc or "").startswith(entry["prefix"]) and other.atc != atc:
                    add(f"duplicate.{n}", "duplicate", entry, f"重复用药：{other.name}", f"duplicate: {other.name}",
                        (other.reference,))
        for n, entry in enumerate(self.data.get("renal") or []):
            if atc == entry["atc"] and patient.egfr is not None and patient.egfr.value < entry["egfr_below"]:
                add(f"renal.{n}", "renal", entry, f"肾功能：eGFR {patient.egfr.value:g}（{patient.egfr.facility_id}）",
                    f"renal: eGFR {patient.egfr.value:g} ({patient.egfr.facility_id})", (patient.egfr.reference,))
        for n, entry in enumerate(self.data.get("daily_mg") or []):
            if atc != entry["atc"]:
                continue
            if medicine.dose is None or medicine.per_day is None:
                findings.append(Finding(f"failsafe.dose.{n}", "failsafe", "high", "hold", "无法判断剂量",
                                        "the dose cannot be judged", entry["source"]))
                continue
            mg = medicine.dose.value * {"mg": 1, "g": 1000}.get(medicine.dose.unit, medicine.strength_mg or 0)
            if mg * medicine.per_day > entry["max"]:
                add(f"dose.{n}", "dose", entry, f"日剂量 {mg * medicine.per_day:g} mg 超过 {entry['max']} mg",
                    f"daily dose {mg * medicine.per_day:g} mg over {entry['max']} mg")
        actions = {f.action for f in findings}
        outcome = "hold" if "hold" in actions else "warn" if "warn" in actions else "pass"
        return Review(outcome, tuple(findings), self.version)


def default_rules() -> RuleSet:
    return RuleSet.from_text(SHIPPED, "shipped double")
