"""The record store's public query module: what the application and other parts may ask of the
shared record (the `SharedRecord` service of hub/core/services.py). Nothing outside this part imports
its other modules."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.record_store import queries
from consumers.record_store.models import PatientLink, StoredResource
from consumers.record_store.recognition import RecognitionRules, load_rules, recognised_results
from hub.core.config import get_settings
from hub.core.web.hooks import patients_in

_CHUNK = 500  # ids per IN (...) list


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class RecordStoreQueries:
    """The shared record as a service (`Part.provides["shared_record"]`)."""

    def community_ids(self, session: Session, patient_ids: set[str], patient_keys: set[str]) -> dict[str, str | None]:
        ids = set(patient_ids)
        for chunk in _chunks(patient_keys):
            ids.update(session.scalars(select(PatientLink.source_patient_id).where(PatientLink.patient_key.in_(chunk))))
        resolved: dict[str, str | None] = dict.fromkeys(ids)
        for chunk in _chunks(ids):
            for source, community in session.execute(
                select(PatientLink.source_patient_id, PatientLink.community_patient_id).where(
                    PatientLink.source_patient_id.in_(chunk))
            ):
                resolved[source] = community
            for community in session.scalars(
                select(PatientLink.community_patient_id).where(PatientLink.community_patient_id.in_(chunk)).distinct()
            ):
                resolved[community] = community
        return resolved

    def community_id_for(self, session: Session, patient_id: str) -> str | None:
        return queries.community_id_for(session, patient_id)

    def patient_keys_for(self, session: Session, patient_id: str) -> list[str]:
        return queries.patient_keys_for(session, patient_id)

    def patients_of_blob(self, session: Session, sha256: str) -> set[str]:
        if not sha256 or not all(c in "0123456789abcdef" for c in sha256.lower()):
            return set()
        contents = session.scalars(select(StoredResource.content).where(
            StoredResource.resource_type == "ImagingStudy",
            StoredResource.content.contains(f"blob:sha256/{sha256.lower()}"),
        ))
        ids: set[str] = set()
        for content in contents:
            patients_in(json.loads(content).get("subject"), ids, set())
        return ids

    def source_patient_ids(self, session: Session, community_id: str) -> set[str]:
        return set(session.scalars(select(PatientLink.source_patient_id).where(
            PatientLink.community_patient_id == community_id)))

    def find_by_identifier(self, session: Session, resource_type: str, system: str | None, value: str,
                           facility_id: str, limit: int) -> tuple[list[str], int]:
        return queries.by_identifier(session, resource_type, system, value, facility_id, limit)

    def current_version(self, session: Session, resource_type: str, resource_id: str) -> tuple[int, str | None] | None:
        row = queries.get(session, resource_type, resource_id)
        if row is None:
            return None
        return row.version_id, (None if row.golden else row.facility_id)


class ResultRecognition:
    """`Part.provides["result_recognition"]`: which results of other members a member could have
    recognised (检查检验结果互认) at a moment, under the community's rules (HUB_RECOGNITION_RULES)."""

    @functools.cached_property
    def rules(self) -> RecognitionRules:
        return load_rules(get_settings().recognition_rules)

    def recognisable(self, session: Session, patient_id: str, facility_id: str, at: datetime) -> list[dict[str, Any]]:
        """The recognised results (final, accredited laboratory, listed test inside its window) of other
        members for the person behind `patient_id` at `at`; each: resource_type, id, code ("system|code"),
        display, date, facility_id, valid_until. Empty when the person is unknown."""
        items = recognised_results(session, self.rules, patient_id, facility_id, at) or []
        return [item.as_json() for item in items if item.recognised]
