"""A worklist item as a FHIR R4 Task (code system urn:hub:task: ecg-read, imaging-read, pathology-read)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from consumers.reading.models import ReadingItem
from consumers.reading.queries import TASK_STATUS, effective_state

TASK_SYSTEM = "urn:hub:task"
TASK_CODES = {"ecg": "ecg-read", "imaging": "imaging-read", "pathology": "pathology-read"}
CENTRE_OF_CODE = {code: centre for centre, code in TASK_CODES.items()}
DISPLAY = {"ecg": "远程心电诊断 ECG read", "imaging": "远程影像诊断 imaging read", "pathology": "远程病理诊断 pathology read"}


def clock(item: ReadingItem, now: datetime) -> str:
    """on-time, at-risk or breached (open items with a due time), else none."""
    if item.due_at is None or item.state not in ("ready", "claimed"):
        return "none"
    if item.breached_at is not None or item.due_at <= now:
        return "breached"
    if item.flagged_at_risk is not None or (item.at_risk_at is not None and item.at_risk_at <= now):
        return "at-risk"
    return "on-time"


def task(item: ReadingItem, community_id: str | None, now: datetime) -> dict[str, Any]:
    state = effective_state(item, now)
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": item.id,
        "meta": {"lastUpdated": item.updated_at.isoformat()},
        "identifier": [{"system": "urn:hub:reading-item", "value": item.id}],
        "status": TASK_STATUS[state],
        "intent": "order",
        "priority": item.priority,
        "code": {"coding": [{"system": TASK_SYSTEM, "code": TASK_CODES[item.centre], "display": DISPLAY[item.centre]}]},
        "authoredOn": item.created_at.isoformat(),
        "lastModified": item.updated_at.isoformat(),
        "requester": {"reference": f"Organization/{item.facility_id}"},
        "businessStatus": {"text": item.stage if state in ("ready", "claimed") else state,
                           "coding": [{"system": "urn:hub:reading-clock", "code": clock(item, now)}]},
    }
    patient = community_id or item.patient_id
    if patient:
        resource["for"] = {"reference": f"Patient/{patient}"}
    if item.order_id:
        resource["focus"] = {"reference": f"ServiceRequest/{item.order_id}"}
    elif item.study_id:
        resource["focus"] = {"reference": f"ImagingStudy/{item.study_id}"}
    if item.due_at is not None:
        resource["restriction"] = {"period": {"end": item.due_at.isoformat()}}
        if item.ready_at is not None:
            resource["restriction"]["period"]["start"] = item.ready_at.isoformat()
    if state == "claimed" and item.holder:
        resource["owner"] = {"display": item.holder}
        resource["executionPeriod"] = {"start": (item.claimed_at or item.updated_at).isoformat()}
    inputs: list[dict[str, Any]] = []
    if item.study_id:
        inputs.append({"type": {"text": "study"}, "valueReference": {"reference": f"ImagingStudy/{item.study_id}"}})
    if item.waveform:
        inputs.append({"type": {"text": "waveform"}, "valueString": item.waveform})
    if inputs:
        resource["input"] = inputs
    if item.report_id:
        resource["output"] = [{"type": {"text": "report"},
                               "valueReference": {"reference": f"DiagnosticReport/{item.report_id}"}}]
    if item.escalated_to:
        resource["note"] = [{"text": f"escalated to {item.escalated_to}"}]
    return resource
