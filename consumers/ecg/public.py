"""The ECG part's public query module: what the application and other parts (the reading
workbench) may ask of it, as the `ecg_measurements` service. Nothing outside this part imports its
other modules; a reader's page embeds the viewer from /static/ecg/ecg-viewer.js."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from consumers.ecg import queries

SERVICE = "ecg_measurements"


class EcgQueries:
    """`Part.provides["ecg_measurements"]`: a study's automatic measurements and problems."""

    def study_summary(self, session: Session, study_ref: str) -> dict[str, Any] | None:
        """Status, problems, hub and device measurements and the Observation Bundle of a study (by
        ImagingStudy id or DICOM UID), or None when the ECG part has not seen it."""
        row = queries.find_study(session, study_ref)
        return queries.summary(session, row) if row is not None else None

    def viewer_urls(self, study_id: str) -> dict[str, str]:
        """Where a page finds the viewer script and the study's leads."""
        return {"script": "/static/ecg/ecg-viewer.js", "style": "/static/ecg/ecg-viewer.css",
                "leads": f"/api/ecg/studies/{study_id}"}
