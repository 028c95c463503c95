"""Imaging request events as members send them: a HIS ECG order, a DICOM ECG with its waveform, a CT
study, each with its patient's member key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.core.events import Event, Source, deterministic_event_id

DCM = "http://dicom.nema.org/resources/ontology/DCM"


def order(facility: str = "th01", local: str = "1", number: str = "E100", priority: str = "routine",
          ecg: bool = True, status: str = "active", accession: str | None = None) -> Event:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest", "id": f"{facility}-sr-{number}",
        "identifier": [{"system": f"urn:hub:facility:{facility}:ecg-order", "value": number}],
        "status": status, "intent": "order", "priority": priority,
        "category": [{"text": "心电图" if ecg else "影像"}],
        "code": ({"coding": [{"system": "http://loinc.org", "code": "11524-6", "display": "EKG study"}],
                  "text": "十二导联心电图"} if ecg else
                 {"coding": [{"system": DCM, "code": "CT"}], "text": "胸部CT平扫"}),
        "subject": {"reference": f"Patient/{facility}-pat-{local}"},
        "authoredOn": "2026-11-27T08:00:00+08:00",
        "requester": {"reference": f"Organization/{facility}"},
        "reasonCode": [{"text": "胸闷待查"}],
    }
    if accession:
        resource["identifier"].append({"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                            "code": "ACSN"}]},
                                       "system": f"urn:hub:facility:{facility}:accession", "value": accession})
    return _event(facility, local, f"order:{number}:{status}:{priority}", resource)


def arrival(facility: str = "th01", local: str = "1", uid: str = "1.2.3.100", ecg: bool = True,
            accession: str | None = None, based_on: str | None = None, urgent: bool = False) -> Event:
    """What the DICOM connector sends: its own ServiceRequest with the ImagingStudy in related."""
    study_id = f"{facility}-img-{uid.replace('.', '-')}"
    study: dict[str, Any] = {
        "resourceType": "ImagingStudy", "id": study_id,
        "extension": [{"url": "urn:hub:blob:dicom", "valueString": "blob:sha256/" + "a" * 64}],
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{uid}"}],
        "status": "available", "modality": [{"system": DCM, "code": "ECG" if ecg else "CT"}],
        "subject": {"reference": f"Patient/{facility}-pat-{local}"},
        "started": "2026-11-27T08:10:00+08:00", "numberOfSeries": 1, "numberOfInstances": 1,
        "description": "12导联心电图" if ecg else "胸部CT",
    }
    if ecg:
        study["extension"].append({"url": "urn:hub:blob:ecg", "valueString": "blob:sha256/" + "b" * 64})
    if accession:
        study["identifier"].append({"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                         "code": "ACSN"}]},
                                    "system": f"urn:hub:facility:{facility}:accession", "value": accession})
    if based_on:
        study["basedOn"] = [{"reference": f"ServiceRequest/{based_on}"}]
    request = {
        "resourceType": "ServiceRequest", "id": f"{facility}-sr-{uid.replace('.', '-')}",
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{uid}"}],
        "status": "active", "intent": "order", "priority": "stat" if urgent else "routine",
        "category": [{"text": "心电图远程诊断" if ecg else "影像远程诊断"}],
        "code": ({"coding": [{"system": "http://loinc.org", "code": "11524-6", "display": "EKG study"}]} if ecg
                 else {"coding": [{"system": DCM, "code": "CT"}], "text": "胸部CT"}),
        "subject": {"reference": f"Patient/{facility}-pat-{local}"},
        "requester": {"reference": f"Organization/{facility}"},
        "supportingInfo": [{"reference": f"ImagingStudy/{study_id}"}],
    }
    return _event(facility, local, f"dicom:{uid}", request, (study,), "dicom")


def _event(facility: str, local: str, natural: str, resource: dict[str, Any],
           related: tuple[dict[str, Any], ...] = (), system: str = "test") -> Event:
    now = datetime.now(UTC)
    return Event(deterministic_event_id(facility, system, natural, "0"), "imaging_request",
                 Source(facility, system, natural), now, now, f"{facility}/{local}", resource, related)


ECG_REPORT = {"rhythm": "窦性心律", "rate": 72, "pr_ms": 160, "qrs_ms": 90, "qt_ms": 380, "qtc_ms": 410,
              "p_axis": 50, "qrs_axis": 45, "t_axis": 40, "conclusion": "窦性心律，正常心电图",
              "conclusion_codes": [{"system": "http://snomed.info/sct", "code": "426783006",
                                    "display": "Normal sinus rhythm"}]}
