"""A DICOM dataset to FHIR: an ImagingStudy (what arrived) and a ServiceRequest (read it, please).

The blob references ride in ImagingStudy extensions (`urn:hub:blob:dicom`, `urn:hub:blob:ecg`),
each a valueString `blob:sha256/<hex>`; the DICOM file's reference also sits on its instance
(`series[0].instance[0].extension`, `urn:hub:blob:dicom`). Priority: `stat` when the study or requested procedure
says urgent (急, 急诊, STAT, URGENT), else the connector's default.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydicom.dataset import Dataset

from connectors.dicom.ecg import ECG_SOP_CLASSES, is_ecg
from hub.core.blobs import BlobRef
from hub.core.errors import PermanentError
from hub.core.identifiers import fhir_id

DCM = "http://dicom.nema.org/resources/ontology/DCM"
URGENT = re.compile(r"急|STAT|URGENT", re.IGNORECASE)


class DicomMappingError(PermanentError, ValueError):
    pass


def _id(text: str) -> str:
    return fhir_id(text)  # injective and the same at every door: PatientID `AB_1` is not `ab-1`


def _short(uid: str) -> str:
    return hashlib.sha256(uid.encode()).hexdigest()[:16]


def _when(ds: Dataset) -> str | None:
    date, time = str(ds.get("StudyDate", "") or ""), str(ds.get("StudyTime", "") or "")
    if len(date) != 8:
        return None
    try:
        moment = datetime.strptime(date + (time.split(".")[0] + "000000")[:6], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=ZoneInfo("Asia/Shanghai")).isoformat()


def _integer(value: Any) -> int | None:
    """A DICOM IS value as FHIR's unsignedInt, or None when absent or not a count."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def patient_name(ds: Dataset) -> tuple[str, str]:
    """(family, given), preferring the ideographic (Chinese) component group when present."""
    name = ds.get("PatientName")
    if name is None:
        return "", ""
    group = str(getattr(name, "ideographic", "") or "") or str(getattr(name, "alphabetic", "") or str(name))
    family, _, given = group.partition("^")
    return family.strip(), given.replace("^", " ").strip()


def map_dataset(ds: Dataset, facility: str, dicom_ref: BlobRef, ecg_ref: BlobRef | None,
                default_priority: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Returns (ServiceRequest, ImagingStudy, local patient id)."""
    for keyword in ("StudyInstanceUID", "SOPInstanceUID", "PatientID"):
        if not str(ds.get(keyword, "") or "").strip():
            raise DicomMappingError(f"the DICOM object has no {keyword}")
    study_uid, sop_uid = str(ds.StudyInstanceUID), str(ds.SOPInstanceUID)
    patient = str(ds.PatientID).strip()
    patient_ref = {"reference": f"Patient/{_id(f'{facility}-pat-{patient}')}"}
    family, given = patient_name(ds)
    ecg = is_ecg(ds)
    modality = str(ds.get("Modality", "") or ("ECG" if ecg else "OT"))
    description = str(ds.get("StudyDescription", "") or ds.get("SeriesDescription", "") or "")
    extensions = [{"url": "urn:hub:blob:dicom", "valueString": dicom_ref.uri}]
    if ecg_ref is not None:
        extensions.append({"url": "urn:hub:blob:ecg", "valueString": ecg_ref.uri})
    study_id = _id(f"{facility}-img-{_short(study_uid)}")
    # The file's blob also rides on its own instance: a study gathered from several files (the image
    # archive's index) keeps each instance's file, where the study-level extension names only one.
    instance: dict[str, Any] = {
        "extension": [{"url": "urn:hub:blob:dicom", "valueString": dicom_ref.uri}],
        "uid": sop_uid,
        "sopClass": {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{ds.get('SOPClassUID', '')}"},
    }
    if (number := _integer(ds.get("InstanceNumber"))) is not None:
        instance["number"] = number
    series: dict[str, Any] = {
        "uid": str(ds.get("SeriesInstanceUID", "") or study_uid),
        "modality": {"system": DCM, "code": modality},
        "instance": [instance],
    }
    if (number := _integer(ds.get("SeriesNumber"))) is not None:
        series["number"] = number
    if series_description := str(ds.get("SeriesDescription", "") or ""):
        series["description"] = series_description
    study: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "id": study_id,
        "meta": {"source": f"urn:hub:facility:{facility}"},
        "extension": extensions,
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{study_uid}"}],
        "status": "available",
        "modality": [{"system": DCM, "code": modality}],
        "subject": patient_ref,
        "numberOfSeries": 1,
        "numberOfInstances": 1,
        "series": [series],
    }
    accession = str(ds.get("AccessionNumber", "") or "").strip()
    if accession:  # the member's accession number: how the reading centres match the study to its order
        study["identifier"].append({
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]},
            "system": f"urn:hub:facility:{facility}:accession", "value": accession})
    if started := _when(ds):
        study["started"] = started
    if description:
        study["description"] = description
    if family or given:
        study["extension"].append({"url": "urn:hub:patient-name", "valueString": family + given})
    urgent = bool(URGENT.search(description + " " + str(ds.get("RequestedProcedureDescription", "") or "")))
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": _id(f"{facility}-sr-{_short(study_uid)}"),
        "meta": {"source": f"urn:hub:facility:{facility}"},
        "identifier": [{"system": "urn:dicom:uid", "value": f"urn:oid:{study_uid}"}],
        "status": "active",
        "intent": "order",
        "priority": "stat" if urgent else default_priority,
        "category": [{"text": "心电图远程诊断" if ecg else "影像远程诊断"}],
        "code": ({"coding": [{"system": "http://loinc.org", "code": "11524-6", "display": "EKG study"}],
                  "text": ECG_SOP_CLASSES.get(str(ds.get("SOPClassUID", "")), "ECG")}
                 if ecg else
                 {"coding": [{"system": DCM, "code": modality}], "text": description or modality}),
        "subject": patient_ref,
        "requester": {"reference": f"Organization/{facility}"},
        "supportingInfo": [{"reference": f"ImagingStudy/{study_id}"}],
    }
    if started:
        request["authoredOn"] = started
    return request, study, patient
