"""The structured report templates per centre, and what a signed report becomes: a FHIR
DiagnosticReport with its Observations (pure functions, no I/O).

ECG: rhythm, rate, PR/QRS/QT/QTc intervals, P/QRS/T axes (LOINC-coded Observations, the codes the ECG
measurements use), conclusion with codes. Imaging and pathology: findings and impression (conclusion)
with codes. A critical value (危急值) puts HH, LL or AA (v3 ObservationInterpretation) on the Observation
it concerns and flags the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
CRITICAL_CODES = {"HH": "Critical high", "LL": "Critical low", "AA": "Critical abnormal"}
CRITICAL_TAG = {"system": "urn:hub:tag", "code": "critical", "display": "危急值 critical value"}

# key: (LOINC code, display, UCUM unit)
ECG_MEASURES: dict[str, tuple[str, str, str]] = {
    "rate": ("8867-4", "Heart rate", "/min"),
    "pr_ms": ("8625-6", "P-R Interval", "ms"),
    "qrs_ms": ("8633-0", "QRS duration", "ms"),
    "qt_ms": ("8634-8", "Q-T interval", "ms"),
    "qtc_ms": ("8636-3", "Q-T interval corrected", "ms"),
    "p_axis": ("8626-4", "P wave axis", "deg"),
    "qrs_axis": ("8632-2", "R wave axis", "deg"),
    "t_axis": ("8638-1", "T wave axis", "deg"),
}
RHYTHM = ("8884-9", "Heart rate rhythm")
FINDINGS = ("59776-5", "Procedure Findings")
IMPRESSIONS = {"ecg": ("18844-1", "EKG impression"), "imaging": ("19005-8", "Radiology Imaging study [Impression]"),
               "pathology": ("22637-3", "Pathology report final diagnosis")}
REPORT_CODES = {
    "ecg": {"coding": [{"system": LOINC, "code": "11524-6", "display": "EKG study"}], "text": "心电图报告"},
    "imaging": {"coding": [{"system": LOINC, "code": "18748-4", "display": "Diagnostic imaging study"}],
                "text": "影像诊断报告"},
    "pathology": {"coding": [{"system": LOINC, "code": "60567-5", "display": "Comprehensive pathology report panel"}],
                  "text": "病理诊断报告"},
}
CATEGORIES = {"ecg": ("EC", "Electrocardiac"), "imaging": ("RAD", "Radiology"), "pathology": ("SP", "Surgical Pathology")}


class Code(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=100)
    display: str | None = Field(None, max_length=200)


class Critical(BaseModel):
    """A critical value the reader marks: which kind, on which measure (ECG) and why."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(description="HH (critical high), LL (critical low) or AA (critical abnormal)")
    on: str | None = Field(None, description="the measure it concerns (ECG: rate, qtc_ms, ...); default the conclusion")
    note: str | None = Field(None, max_length=500)

    @field_validator("code")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in CRITICAL_CODES:
            raise ValueError(f"must be HH, LL or AA, not {value!r}")
        return value


class Content(BaseModel):
    """What a reader types. ECG measures are numbers; findings and conclusion are Chinese text."""

    model_config = ConfigDict(extra="forbid")
    rhythm: str | None = Field(None, max_length=200)
    rate: float | None = Field(None, ge=0, le=400)
    pr_ms: float | None = Field(None, ge=0, le=1000)
    qrs_ms: float | None = Field(None, ge=0, le=500)
    qt_ms: float | None = Field(None, ge=0, le=1000)
    qtc_ms: float | None = Field(None, ge=0, le=1000)
    p_axis: float | None = Field(None, ge=-180, le=360)
    qrs_axis: float | None = Field(None, ge=-180, le=360)
    t_axis: float | None = Field(None, ge=-180, le=360)
    findings: str | None = Field(None, max_length=8000)
    conclusion: str | None = Field(None, max_length=4000)
    conclusion_codes: list[Code] = Field(default_factory=list, max_length=20)
    critical: Critical | None = None


def problems(centre: str, content: Content) -> list[tuple[str, str]]:
    """What keeps a content from being signed: (field, reason), empty when it can be signed."""
    found: list[tuple[str, str]] = []
    if not (content.conclusion or "").strip():
        found.append(("conclusion", "a signed report needs a conclusion (诊断结论)"))
    if centre == "ecg":
        if not (content.rhythm or "").strip():
            found.append(("rhythm", "an ECG report needs the rhythm (心律)"))
        if content.rate is None:
            found.append(("rate", "an ECG report needs the heart rate (心率)"))
        extra = [f for f in ("findings",) if getattr(content, f)]
        if extra:
            found.append((extra[0], "an ECG report has no findings field; write them in the conclusion"))
    else:
        if not (content.findings or "").strip():
            found.append(("findings", "an imaging or pathology report needs findings (检查所见)"))
        measured = [k for k in (*ECG_MEASURES, "rhythm") if getattr(content, k) is not None]
        if measured:
            found.append((measured[0], f"{measured[0]} belongs to ECG reports only"))
    critical = content.critical
    if critical is not None and critical.on is not None:
        allowed = ({k for k in ECG_MEASURES if getattr(content, k) is not None} | {"conclusion", "rhythm"}
                   if centre == "ecg" else {"conclusion", "findings"})
        if critical.on not in allowed:
            found.append(("critical.on", f"the critical value must concern one of {', '.join(sorted(allowed))}"))
    return found


@dataclass(frozen=True)
class Context:
    """What a report is about, from its item."""

    report_id: str
    centre: str
    facility_id: str
    patient_id: str | None
    order_id: str | None
    order_code: dict[str, Any] | None
    study_id: str | None
    centre_name: str
    reading_facility: str


def _observation(ctx: Context, key: str, code: tuple[str, str], status: str, issued: str) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"{ctx.report_id}-{key.replace('_', '-')}",
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": code[0], "display": code[1]}]},
        "issued": issued,
    }
    if ctx.patient_id:
        obs["subject"] = {"reference": f"Patient/{ctx.patient_id}"}
    if ctx.study_id:
        obs["derivedFrom"] = [{"reference": f"ImagingStudy/{ctx.study_id}"}]
    return obs


def build(ctx: Context, content: Content, status: str, version: int, interpreters: list[str],
          signed_at: datetime, effective: str | None, amend_reason: str | None = None
          ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The DiagnosticReport (status final or amended) and its Observations for one signed version."""
    issued = signed_at.isoformat()
    obs_status = "amended" if status == "amended" else "final"
    observations: list[dict[str, Any]] = []
    by_key: dict[str, dict[str, Any]] = {}
    if ctx.centre == "ecg":
        if content.rhythm:
            obs = _observation(ctx, "rhythm", RHYTHM, obs_status, issued)
            obs["valueString"] = content.rhythm
            by_key["rhythm"] = obs
            observations.append(obs)
        for key, (code, display, unit) in ECG_MEASURES.items():
            value = getattr(content, key)
            if value is None:
                continue
            obs = _observation(ctx, key, (code, display), obs_status, issued)
            obs["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
            by_key[key] = obs
            observations.append(obs)
    elif content.findings:
        obs = _observation(ctx, "findings", FINDINGS, obs_status, issued)
        obs["valueString"] = content.findings
        by_key["findings"] = obs
        observations.append(obs)
    conclusion_obs = _observation(ctx, "conclusion", IMPRESSIONS[ctx.centre], obs_status, issued)
    conclusion_obs["valueString"] = content.conclusion or ""
    if content.conclusion_codes:
        conclusion_obs["valueCodeableConcept"] = {
            "coding": [c.model_dump(exclude_none=True) for c in content.conclusion_codes],
            "text": content.conclusion or ""}
        del conclusion_obs["valueString"]
    by_key["conclusion"] = conclusion_obs
    observations.append(conclusion_obs)
    if content.critical is not None:
        target = by_key.get(content.critical.on or "conclusion", conclusion_obs)
        target["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": content.critical.code,
                                                 "display": CRITICAL_CODES[content.critical.code]}],
                                     "text": "危急值" + (f": {content.critical.note}" if content.critical.note else "")}]
    category, category_display = CATEGORIES[ctx.centre]
    report_code: dict[str, Any] = REPORT_CODES[ctx.centre] if ctx.centre == "ecg" or not ctx.order_code else ctx.order_code
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": ctx.report_id,
        "meta": {"versionId": str(version), "source": f"urn:hub:reading:{ctx.centre}"},
        "identifier": [{"system": f"urn:hub:facility:{ctx.reading_facility}:reading-report", "value": ctx.report_id}],
        "status": status,
        "category": [{"coding": [{"system": V2_0074, "code": category, "display": category_display}]}],
        "code": report_code,
        "issued": issued,
        "performer": [{"display": ctx.centre_name, "reference": f"Organization/{ctx.reading_facility}"}],
        "resultsInterpreter": [{"display": name} for name in interpreters],
        "result": [{"reference": f"Observation/{o['id']}"} for o in observations],
        "conclusion": content.conclusion or "",
    }
    if ctx.patient_id:
        report["subject"] = {"reference": f"Patient/{ctx.patient_id}"}
    if ctx.order_id:
        report["basedOn"] = [{"reference": f"ServiceRequest/{ctx.order_id}"}]
    if ctx.study_id:
        report["imagingStudy"] = [{"reference": f"ImagingStudy/{ctx.study_id}"}]
    if effective:
        report["effectiveDateTime"] = effective
    if content.conclusion_codes:
        report["conclusionCode"] = [{"coding": [c.model_dump(exclude_none=True)]} for c in content.conclusion_codes]
    if content.critical is not None:
        report["meta"]["tag"] = [CRITICAL_TAG]
        report["extension"] = [{"url": "urn:hub:critical", "valueBoolean": True}]
    if amend_reason:
        report.setdefault("extension", []).append({"url": "urn:hub:amend-reason", "valueString": amend_reason})
    return report, observations
