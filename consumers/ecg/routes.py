"""The ECG API: a study's leads for the viewer, its measurements as a FHIR Bundle, its problems,
and the patient's other ECGs across the community. Readers and clinicians; audited by the hook
(the answers name the patient)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request

from consumers.ecg import queries
from hub.core.blobs import BlobError, FileBlobStore
from hub.core.web.auth import Principal, require
from hub.core.web.errors import FhirError

router = APIRouter(prefix="/api/ecg", tags=["ecg"])
reader = require("reader", "clinician")


def _found(session: Any, ref: str) -> Any:
    row = queries.find_study(session, ref)
    if row is None:
        raise FhirError(404, "not-found", f"no ECG study {ref!r} has arrived (give the ImagingStudy id or the "
                        "DICOM StudyInstanceUID)")
    return row


@router.get("/studies/{study_ref}", summary="An ECG study: leads for the viewer, measurements (FHIR Bundle), problems")
def study(request: Request, study_ref: str, leads: bool = True,
          _principal: Principal = Depends(reader)) -> dict[str, Any]:
    with request.app.state.database.reading() as session:
        row = _found(session, study_ref)
        answer = queries.summary(session, row)
    answer["leads"] = None
    if leads and row.waveform_ref:
        try:
            # The stored JSON is passed on as it is: the viewer reads the same format the connector wrote.
            answer["leads"] = json.loads(FileBlobStore(request.app.state.settings.data_dir / "blobs").get(row.waveform_ref))
        except (BlobError, ValueError) as exc:
            answer["problems"].append({"code": "waveform-unreadable", "severity": "error",
                                       "en": f"The waveform cannot be read: {exc}.", "zh": "无法读取心电波形。"})
    return answer


@router.get("/studies/{study_ref}/history", summary="The same community patient's ECGs at every member, newest first")
def history(request: Request, study_ref: str, limit: int = 20,
            _principal: Principal = Depends(reader)) -> dict[str, Any]:
    if not 1 <= limit <= 100:
        raise FhirError(400, "invalid", f"limit must be 1 to 100, not {limit}", ["limit"])
    shared = request.app.state.services.shared_record
    with request.app.state.database.reading() as session:
        row = _found(session, study_ref)
        patients = {row.patient_id} if row.patient_id else set()
        community = shared.community_id_for(session, row.patient_id) if row.patient_id else None
        if community:
            patients |= shared.source_patient_ids(session, community)
        rows = queries.patient_studies(session, patients, limit)
        items = [queries.summary(session, other) for other in rows]
    return {"study": row.id, "community_patient": community, "items": items}
