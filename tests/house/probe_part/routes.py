"""The probe's one route: the notes it has written (event ids and types, no patient data)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from hub.core.web.auth import Principal, require
from hub.core.web.hooks import no_patient_data
from tests.house.probe_part.models import probe_note

router = APIRouter(prefix="/api/probe", tags=["probe"])


@router.get("/notes", summary="The probe's notes")
@no_patient_data
def notes(request: Request, _principal: Principal = Depends(require("reader"))) -> dict[str, Any]:
    with request.app.state.database.reading() as session:
        rows = session.execute(select(probe_note.c.event_id, probe_note.c.event_type).order_by(probe_note.c.id))
        return {"notes": [{"event_id": event_id, "event_type": event_type} for event_id, event_type in rows]}
