"""The DICOM patient module as a FHIR Patient: PatientID (with its issuer), the name in the file's character
set (the ideographic group first, the alphabetic one beside it), birth date and sex.

A study points at `Patient/<facility>-pat-<PatientID>`; this Patient is that record, so the patient index
links it like any other. It is tagged as coming from the image archive (hub.core.fhir_fields.IMAGE_ORIGIN):
the shared record and the pharmacy take it only while the member's registration system has sent nothing
for the same patient, and the registration system's record replaces it whenever it comes.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any

from pydicom.dataset import Dataset

from hub.core.fhir_fields import IMAGE_ORIGIN
from hub.core.identifiers import fhir_id, local_mrn_system

log = logging.getLogger(__name__)
SEX = {"M": "male", "F": "female", "O": "other"}
REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def map_patient(ds: Dataset, facility: str, patient: str) -> dict[str, Any]:
    identifier: dict[str, Any] = {"system": local_mrn_system(facility), "value": patient}
    issuer = str(ds.get("IssuerOfPatientID", "") or "").strip()
    if issuer:
        identifier["assigner"] = {"display": issuer}
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": fhir_id(f"{facility}-pat-{patient}"),
        "meta": {"source": f"urn:hub:facility:{facility}", "tag": [dict(IMAGE_ORIGIN)]},
        "identifier": [identifier, *_other_ids(ds)],
        "managingOrganization": {"reference": f"Organization/{facility}"},
    }
    names = _names(ds)
    if names:
        resource["name"] = names
    sex = str(ds.get("PatientSex", "") or "").strip().upper()
    if sex in SEX:
        resource["gender"] = SEX[sex]
    elif sex:
        log.warning("%s: PatientSex %r is not M, F or O; the patient is kept without a sex", patient, sex)
    born = _birth_date(str(ds.get("PatientBirthDate", "") or "").strip(), patient)
    if born:
        resource["birthDate"] = born
    return resource


def _names(ds: Dataset) -> list[dict[str, Any]]:
    """The ideographic group (Chinese characters) first, then the alphabetic one (often pinyin); a single
    group is the name. Components: family^given^middle^prefix^suffix."""
    value = ds.get("PatientName")
    if value is None or not str(value).strip():
        return []
    groups = [("IDE", str(getattr(value, "ideographic", "") or "")),
              ("ABC", str(getattr(value, "alphabetic", "") or ""))]
    written = [(kind, text) for kind, text in groups if text.strip("^ ")]
    names = []
    for kind, text in written:
        parts = [p.strip() for p in text.split("^")] + [""] * 5
        family, given, middle, prefix, suffix = parts[:5]
        han = bool(_HAN.search(text))
        name: dict[str, Any] = {
            "text": family + given + middle if han else " ".join(p for p in (prefix, given, middle, family, suffix) if p),
            "family": family or None,
            "given": [g for g in (given, middle) if g] or None,
            "prefix": [prefix] if prefix else None,
            "suffix": [suffix] if suffix else None,
        }
        if len(written) > 1:  # which writing of the same name this is
            name["extension"] = [{"url": REPRESENTATION, "valueCode": kind}]
        names.append({k: v for k, v in name.items() if v})
    return names


def _birth_date(text: str, patient: str) -> str | None:
    if not text:
        return None
    try:
        if len(text) == 8 and text.isdigit():
            return date(int(text[:4]), int(text[4:6]), int(text[6:8])).isoformat()
    except ValueError:
        pass
    log.warning("%s: PatientBirthDate %r is not a DICOM date (YYYYMMDD); the patient is kept without it", patient, text)
    return None


def _other_ids(ds: Dataset) -> list[dict[str, Any]]:
    """Other Patient IDs Sequence (0010,1002): each ID with its issuer, under a system naming the issuer."""
    out = []
    for item in ds.get("OtherPatientIDsSequence", None) or []:
        value = str(item.get("PatientID", "") or "").strip()
        issuer = str(item.get("IssuerOfPatientID", "") or "").strip()
        if value and issuer:
            out.append({"system": f"urn:hub:dicom:issuer:{fhir_id(issuer)}", "value": value,
                        "assigner": {"display": issuer}})
    return out
