"""The read side of the shared record: lookups by id, identifier and person (FHIR search is in search/)."""

from __future__ import annotations

import json

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from consumers.record_store.models import PatientLink, ResourceIdentifier, StoredResource


def community_id_for(session: Session, patient_id: str) -> str | None:
    """The community (golden) id for a golden or source Patient id; a merged-away community
    patient resolves to the one that replaced it."""
    for _ in range(10):  # replaced-by chains are short; the bound guards against a cycle
        row = session.get(StoredResource, ("Patient", patient_id))
        if row is None:
            return None
        link = session.scalars(select(PatientLink).where(PatientLink.source_patient_id == patient_id).limit(1)).first()
        if link is not None:
            return link.community_patient_id
        exists = session.scalar(
            select(func.count()).select_from(PatientLink).where(PatientLink.community_patient_id == patient_id)
        )
        if exists:
            return patient_id
        successor = _replaced_by(row) if row.golden else None
        if successor is None:
            return None
        patient_id = successor
    return None


def _replaced_by(row: StoredResource) -> str | None:
    for link in json.loads(row.content).get("link") or []:
        reference = (link.get("other") or {}).get("reference", "")
        if link.get("type") == "replaced-by" and reference.startswith("Patient/"):
            return str(reference.removeprefix("Patient/"))
    return None


def members_of(session: Session, community: str) -> list[tuple[str, str]]:
    """(patient key, source Patient id) of every member record of a community patient."""
    return [
        (key, source)
        for key, source in session.execute(
            select(PatientLink.patient_key, PatientLink.source_patient_id).where(
                PatientLink.community_patient_id == community
            )
        )
    ]


def patient_keys_for(session: Session, patient_id: str) -> list[str]:
    """Every member patient key of the person behind a golden or source Patient id."""
    community = community_id_for(session, patient_id)
    if community is not None:
        return [key for key, _ in members_of(session, community)]
    # A resource can name a patient whose Patient record has not arrived yet.
    return list(session.scalars(select(PatientLink.patient_key).where(PatientLink.source_patient_id == patient_id)))


def by_identifier(session: Session, resource_type: str, system: str | None, value: str, facility_id: str,
                  limit: int) -> tuple[list[str], int]:
    """The ids of a member's resources with this identifier (any system when None), newest first, and how many."""
    clause = and_(ResourceIdentifier.resource_type == resource_type, ResourceIdentifier.value == value,
                  *([ResourceIdentifier.system == system] if system else []))
    query = (select(StoredResource.id, StoredResource.last_updated)
             .join(ResourceIdentifier, and_(ResourceIdentifier.resource_type == StoredResource.resource_type,
                                            ResourceIdentifier.id == StoredResource.id))
             .where(clause, StoredResource.facility_id == facility_id).distinct())
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.execute(query.order_by(StoredResource.last_updated.desc(), StoredResource.id).limit(limit)).all()
    return [row.id for row in rows], total


def everything(
    session: Session, patient_id: str, offset: int, count: int
) -> tuple[list[StoredResource], int] | None:
    """Golden Patient, its source Patients, then every resource of the person, newest first."""
    community = community_id_for(session, patient_id)
    if community is None:
        return None
    members = members_of(session, community)
    keys = [key for key, _ in members]
    sources = [source for _, source in members]
    patients = list(
        session.scalars(
            select(StoredResource)
            .where(StoredResource.resource_type == "Patient", StoredResource.id.in_([community, *sources]))
            .order_by(StoredResource.golden.desc(), StoredResource.id)
        )
    )
    clinical = select(StoredResource).where(StoredResource.patient_key.in_(keys), StoredResource.resource_type != "Patient")
    total_clinical = int(session.scalar(select(func.count()).select_from(clinical.subquery())) or 0)
    total = len(patients) + total_clinical
    page: list[StoredResource] = []
    if offset < len(patients):
        page = patients[offset : offset + count]
    remaining = count - len(page)
    if remaining > 0:
        clinical_offset = max(0, offset - len(patients))
        page += session.scalars(
            clinical.order_by(StoredResource.date.desc().nulls_last(), StoredResource.resource_type, StoredResource.id)
            .offset(clinical_offset)
            .limit(remaining)
        ).all()
    return page, total


def get(session: Session, resource_type: str, resource_id: str) -> StoredResource | None:
    return session.get(StoredResource, (resource_type, resource_id))
