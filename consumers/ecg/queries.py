"""The read side of the ECG part: a study by id or DICOM UID, its Observations, a patient's ECGs."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.ecg.models import EcgObservation, EcgStudy

_ORDER = ("8867-4", "8625-6", "8633-0", "8634-8", "8636-3", "8626-4", "8632-2", "8638-1")


def find_study(session: Session, ref: str) -> EcgStudy | None:
    """A study by its ImagingStudy id or its DICOM StudyInstanceUID (bare or `urn:oid:`)."""
    row = session.get(EcgStudy, ref[:64])
    if row is not None:
        return row
    uid = ref.removeprefix("urn:oid:")[:64]
    return session.scalars(select(EcgStudy).where(EcgStudy.study_uid == uid).order_by(EcgStudy.analysed_at.desc())).first()


def study_observations(session: Session, study_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(EcgObservation).where(EcgObservation.study_id == study_id)).all()
    rows = sorted(rows, key=lambda r: _ORDER.index(r.code) if r.code in _ORDER else len(_ORDER))
    return [json.loads(row.content) for row in rows]


def patient_studies(session: Session, patient_ids: set[str], limit: int = 20) -> list[EcgStudy]:
    """ECG studies of these member Patients, newest recording first."""
    if not patient_ids:
        return []
    return list(session.scalars(select(EcgStudy).where(EcgStudy.patient_id.in_(sorted(patient_ids)))
                                .order_by(EcgStudy.started_at.desc(), EcgStudy.received_at.desc()).limit(limit)))


def bundle(observations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "total": len(observations),
            "entry": [{"fullUrl": f"urn:hub:ecg:Observation/{o['id']}", "resource": o} for o in observations]}


def summary(session: Session, row: EcgStudy) -> dict[str, Any]:
    """What readers see of a study, without its leads: status, problems, hub and device measurements."""
    return {
        "id": row.id,
        "study_uid": row.study_uid,
        "request_id": row.request_id,
        "facility_id": row.facility_id,
        "patient_id": row.patient_id,
        "patient_key": row.patient_key,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "description": row.description,
        "status": row.status,
        "problems": json.loads(row.problems or "[]"),
        "measurements": json.loads(row.measurements) if row.measurements else None,
        "device": json.loads(row.device) if row.device else None,
        "sampling_frequency": row.sampling_frequency,
        "derived_leads": row.derived_leads.split(",") if row.derived_leads else [],
        "waveform": row.waveform_ref,
        "observations": bundle(study_observations(session, row.id)),
        "analysed_at": row.analysed_at.isoformat(),
    }
