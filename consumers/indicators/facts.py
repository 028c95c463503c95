"""From one event to the facts the indicators count: pure functions, no database.

A visit is an Encounter (its class, start, level of the member, ICD-10 diagnoses); a lab result is each
Observation of a report (or one sent alone); a prescription line is a MedicationRequest with its drug found
in the community catalogue and, through it, its 集采 batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.core.errors import PermanentError
from hub.core.fhir_fields import first_datetime, patient_reference
from hub.core.terminology import Terminology

CHINA = ZoneInfo("Asia/Shanghai")  # months are the county's calendar months
ICD10 = "http://hl7.org/fhir/sid/icd-10"
_PREFIXES = (("cty", "county"), ("th", "township"), ("vc", "village"))  # the demo's id convention
# Not a visit that happened: never counted.
NOT_A_VISIT = frozenset({"planned", "cancelled", "entered-in-error"})


def facility_level(facility_id: str, levels: Mapping[str, str]) -> str:
    """county, township or village as the settings (HUB_FACILITY_LEVELS) or the id convention say; else unknown."""
    if facility_id in levels:
        return levels[facility_id]
    return next((level for prefix, level in _PREFIXES if facility_id.startswith(prefix)), "unknown")


def month_of(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m")


@dataclass(frozen=True)
class Visit:
    id: str
    facility_id: str
    level: str
    patient_key: str
    patient_id: str | None
    visit_class: str
    status: str
    started_at: datetime
    diagnoses: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    id: str
    facility_id: str
    patient_key: str
    patient_id: str | None
    codes: tuple[str, ...]  # "system|code"
    display: str | None
    status: str
    effective_at: datetime


@dataclass(frozen=True)
class PrescriptionLine:
    id: str
    facility_id: str
    patient_key: str
    patient_id: str | None
    drug_code: str | None
    name: str
    vbp: str | None
    status: str
    authored_at: datetime


def _id(resource: Mapping[str, Any]) -> str:
    rid = resource.get("id")
    if not isinstance(rid, str) or not rid:
        raise PermanentError(f"{resource.get('resourceType') or 'a resource'} without an id: it cannot be counted; "
                             "the member's connector must send the id", "validate")
    return rid


def _concept_codes(concepts: Any, system: str | None = None) -> list[str]:
    found: list[str] = []
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        if not isinstance(concept, dict):
            continue
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                if system is None:
                    found.append(f"{coding.get('system', '')}|{coding['code']}")
                elif coding.get("system") == system:
                    found.append(coding["code"])
    return found


def visit(resource: Mapping[str, Any], facility_id: str, patient_key: str, occurred_at: datetime,
          levels: Mapping[str, str]) -> Visit:
    res = dict(resource)
    started = first_datetime(res, ("period", "start")) or occurred_at
    klass = res.get("class")
    code = klass.get("code") if isinstance(klass, dict) else None
    diagnoses = _concept_codes(res.get("reasonCode"), ICD10)
    for entry in res.get("diagnosis") or []:  # diagnosis.condition may carry a concept (R5 style) or a reference
        if isinstance(entry, dict) and isinstance(entry.get("condition"), dict):
            diagnoses += _concept_codes(entry["condition"].get("concept"), ICD10)
    return Visit(_id(res), facility_id, facility_level(facility_id, levels), patient_key, patient_reference(res),
                 str(code or "unknown")[:8], str(res.get("status") or "unknown"), started,
                 tuple(dict.fromkeys(diagnoses)))


def results(resource: Mapping[str, Any], related: tuple[dict[str, Any], ...], facility_id: str, patient_key: str,
            occurred_at: datetime) -> list[Result]:
    """Each Observation of a lab report (in `related`), or the Observation itself."""
    res = dict(resource)
    if res.get("resourceType") == "Observation":
        observations = [res]
    else:
        observations = [o for o in related if isinstance(o, dict) and o.get("resourceType") == "Observation"]
    report_at = first_datetime(res, ("effectiveDateTime",), ("issued",)) or occurred_at
    found = []
    for obs in observations:
        at = first_datetime(obs, ("effectiveDateTime",), ("issued",)) or report_at
        code = obs.get("code")
        display = code.get("text") if isinstance(code, dict) else None
        if display is None and isinstance(code, dict):
            display = next((c.get("display") for c in code.get("coding") or [] if isinstance(c, dict)
                            and c.get("display")), None)
        found.append(Result(_id(obs), facility_id, patient_key, patient_reference(obs) or patient_reference(res),
                            tuple(dict.fromkeys(_concept_codes(code))), display,
                            str(obs.get("status") or res.get("status") or "unknown"), at))
    return found


def prescription_line(resource: Mapping[str, Any], facility_id: str, patient_key: str, occurred_at: datetime,
                      terminology: Terminology) -> PrescriptionLine:
    res = dict(resource)
    concept = res.get("medicationCodeableConcept")
    codings = [c for c in (concept or {}).get("coding") or [] if isinstance(c, dict)] if isinstance(concept, dict) else []
    text = concept.get("text") if isinstance(concept, dict) else None
    drug = terminology.find_drug(codings, text)
    name = (drug.name if drug else None) or text or next((c.get("display") for c in codings if c.get("display")), None)
    authored = first_datetime(res, ("authoredOn",)) or occurred_at
    return PrescriptionLine(_id(res), facility_id, patient_key, patient_reference(res), drug.code if drug else None,
                            str(name or "unknown")[:200], drug.vbp if drug else None,
                            str(res.get("status") or "unknown"), authored)
