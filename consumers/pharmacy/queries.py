"""The read side of the central pharmacy: the queue with its clocks, one review with everything a
pharmacist needs to decide, a person's county-wide medication list, allergies and renal labs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consumers.pharmacy import record, reviewing
from consumers.pharmacy.models import PharmacyAllergy, PharmacyLab, PharmacyMedication, PharmacyReview
from hub.core.services import SharedRecord


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def queue(session: Session, status: str, limit: int, offset: int, keys: tuple[str, ...] | None = None,
          facility: str | None = None) -> tuple[list[PharmacyReview], int]:
    """Held prescriptions (status ready): the nearest due time first; the others: the latest first."""
    query = select(PharmacyReview)
    if status != "all":
        query = query.where(PharmacyReview.status == status)
    if keys is not None:
        query = query.where(PharmacyReview.patient_key.in_(keys))
    if facility is not None:
        query = query.where(PharmacyReview.facility_id == facility)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    order = ((PharmacyReview.due_at, PharmacyReview.id) if status == reviewing.READY
             else (PharmacyReview.updated_at.desc(), PharmacyReview.id))
    return list(session.scalars(query.order_by(*order).offset(offset).limit(limit))), total


def review_item(row: PharmacyReview, medication: PharmacyMedication | None, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id, "prescription": row.prescription, "facility": row.facility_id, "patient_id": row.patient_id,
        "patient_key": row.patient_key, "community_id": row.community_id, "outcome": row.outcome, "status": row.status,
        "decision": row.decision, "reason_code": row.reason_code, "reason_text": row.reason_text,
        "decided_by": row.decided_by, "decided_at": _iso(row.decided_at), "priority": row.priority,
        "rules_version": row.rules_version, "waits_for_mapping": row.waits_for_mapping,
        "findings": reviewing.findings(row), "version": row.version,
        "reviewed_at": _iso(row.reviewed_at), "due_at": _iso(row.due_at),
        "seconds_left": round((row.due_at - now).total_seconds()) if row.status == reviewing.READY else None,
        "drug": medication.name if medication else None, "dose": medication.dose_text if medication else None,
    }


def medication_item(row: PharmacyMedication, now: datetime) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "facility": row.facility_id, "patient_key": row.patient_key,
            "status": row.status, "current": record.is_current(row, now), "name": row.name, "drug_code": row.drug_code,
            "atc": row.atc, "local_code": row.local_code, "dose": row.dose_text, "authored_at": _iso(row.authored_at)}


def allergy_item(row: PharmacyAllergy) -> dict[str, Any]:
    return {"id": row.id, "facility": row.facility_id, "substance": row.substance, "atc": row.atc,
            "criticality": row.criticality, "status": row.status, "recorded_at": _iso(row.recorded_at)}


def lab_item(row: PharmacyLab) -> dict[str, Any]:
    return {"id": row.id, "facility": row.facility_id, "analyte": row.analyte, "value": row.value, "unit": row.unit,
            "observed_at": _iso(row.observed_at)}


def person_view(session: Session, shared: SharedRecord, patient_id: str | None, patient_key: str,
                now: datetime) -> dict[str, Any]:
    """The county-wide medication list (each entry with its member), allergies and recent renal labs."""
    found = record.person(session, shared, patient_id, patient_key)
    community = shared.community_id_for(session, patient_id) if patient_id else None
    return {"patient_id": patient_id, "patient_key": patient_key, "community_id": community,
            "members": sorted({k.partition("/")[0] for k in found.keys}),
            "medications": [medication_item(m, now) for m in found.medications],
            "allergies": [allergy_item(a) for a in found.allergies], "labs": [lab_item(x) for x in found.labs]}


def decision_view(session: Session, shared: SharedRecord, row: PharmacyReview, now: datetime) -> dict[str, Any]:
    medication = session.get(PharmacyMedication, row.prescription)
    view = review_item(row, medication, now)
    view["prescription_resource"] = json.loads(medication.resource) if medication else None
    view["person"] = person_view(session, shared, row.patient_id, row.patient_key, now)
    return view
