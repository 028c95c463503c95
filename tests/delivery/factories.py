"""Results for members, as the hub's producers publish them: a reader's report with its Observations,
a critical-value notice (Communication) about an Observation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from hub.core.events import Event, Source

AT = datetime(2026, 11, 27, 1, 30, tzinfo=UTC)  # 09:30 in China


def glucose(facility: str, local_id: str, n: int, value: float = 7.2, flag: str | None = "H") -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation", "id": f"cty01-obs-{facility}-{local_id}-{n}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "葡萄糖"}]},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
        "effectiveDateTime": "2026-11-27T09:00:00+08:00",
        "valueQuantity": {"value": value, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
        "referenceRange": [{"low": {"value": 3.9}, "high": {"value": 6.1}}],
    }
    if flag:
        observation["interpretation"] = [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": flag}]}]
    return observation


def conclusion_observation(facility: str, local_id: str, n: int, text: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "id": f"cty01-obs-{facility}-{local_id}-{n}-c", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "18844-1", "display": "心电图诊断"}]},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
        "valueString": text,
    }


def report_event(facility: str = "th01", local_id: str = "1", n: int = 1, status: str = "final",
                 conclusion: str = "窦性心律，ST段压低（V4-V6），建议复查。", event_id: str | None = None,
                 observations: list[dict[str, Any]] | None = None) -> Event:
    related = observations if observations is not None else [
        glucose(facility, local_id, n), conclusion_observation(facility, local_id, n, "窦性心律 | 心率 72 次/分")]
    report = {
        "resourceType": "DiagnosticReport", "id": f"cty01-dr-{facility}-{local_id}-{n}", "status": status,
        "identifier": [{"system": "urn:hub:facility:cty01:report", "value": f"R{n:05d}"}],
        "basedOn": [{"reference": f"ServiceRequest/{facility}-sr-{n}",
                     "identifier": {"system": f"urn:hub:facility:{facility}:order", "value": f"ORD{n:04d}"}}],
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "EC"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "11524-6", "display": "心电图"}], "text": "心电图"},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}", "display": "王秀英"},
        "effectiveDateTime": "2026-11-27T09:00:00+08:00",
        "issued": "2026-11-27T09:25:00+08:00",
        "result": [{"reference": f"Observation/{o['id']}"} for o in related],
        "conclusion": conclusion,
    }
    return Event(event_id or str(uuid.uuid4()), "diagnostic_report", Source(facility, "reading", f"dr:{n}"), AT, AT,
                 f"{facility}/{local_id}", report, tuple(related))


def notice_event(facility: str = "th01", local_id: str = "1", n: int = 1, value: float = 25.0,
                 flag: str = "H") -> Event:
    observation = glucose(facility, local_id, n, value, flag)
    communication = {
        "resourceType": "Communication", "id": f"cty01-com-{facility}-{local_id}-{n}", "status": "completed",
        "category": [{"coding": [{"system": "urn:hub:notice", "code": "critical-value"}], "text": "危急值"}],
        "priority": "stat",
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
        "about": [{"reference": f"Observation/{observation['id']}"}],
        "sent": "2026-11-27T09:26:00+08:00",
        "payload": [{"contentString": f"危急值：血糖 {value} mmol/L，请立即处理并回复。"}],
    }
    return Event(str(uuid.uuid4()), "notice", Source(facility, "reading", f"com:{n}"), AT, AT,
                 f"{facility}/{local_id}", communication, (observation,))
