"""The read side of the shared record: lookups and FHIR searches on the indexed columns."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from hub.core.errors import PermanentError
from hub.core.fhir_fields import parse_fhir_datetime
from consumers.record_store.models import PatientLink, ResourceCode, ResourceIdentifier, StoredResource

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


class SearchError(PermanentError, ValueError):
    """A search parameter the hub cannot honour; `param` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Search:
    resource_type: str
    ids: tuple[str, ...] = ()
    patient_keys: tuple[str, ...] | None = None  # None: no patient filter
    identifier: tuple[str | None, str] | None = None
    codes: tuple[tuple[str | None, str], ...] = ()
    statuses: tuple[str, ...] = ()
    date: tuple[tuple[str, datetime, datetime], ...] = ()  # (prefix, start, end of the given precision)
    last_updated: tuple[tuple[str, datetime, datetime], ...] = ()
    golden: bool | None = None
    facility_id: str | None = None  # set for connector tokens
    extra: dict[str, Any] = field(default_factory=dict)


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


def date_range(param: str, raw: str) -> tuple[str, datetime, datetime]:
    """A FHIR date parameter with optional prefix -> (prefix, start, end) of its precision."""
    prefix = raw[:2] if raw[:2] in PREFIXES else "eq"
    value = raw[2:] if raw[:2] in PREFIXES else raw
    parsed = parse_fhir_datetime(value)
    if parsed is None:
        raise SearchError(param, f"{param}: {raw!r} is not a FHIR date or dateTime")
    start = parsed.astimezone(ZoneInfo("Asia/Shanghai"))  # calendar periods are China's days and months
    if len(value) == 4:
        end = start.replace(year=start.year + 1)
    elif len(value) == 7:
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    elif len(value) == 10:
        end = start + timedelta(days=1)
    else:
        end = start + timedelta(seconds=1)
    return prefix, start.astimezone(UTC), end.astimezone(UTC)


def _date_clause(column: Any, prefix: str, start: datetime, end: datetime) -> Any:
    match prefix:
        case "eq":
            return and_(column >= start, column < end)
        case "ne":
            return or_(column < start, column >= end)
        case "gt" | "sa":
            return column >= end
        case "ge":
            return column >= start
        case "lt" | "eb":
            return column < start
        case "le":
            return column < end
    raise SearchError("date", f"unsupported prefix {prefix}")


def _filtered(search: Search) -> Select[Any]:
    query = select(StoredResource).where(StoredResource.resource_type == search.resource_type)
    if search.ids:
        query = query.where(StoredResource.id.in_(search.ids))
    if search.patient_keys is not None:
        query = query.where(StoredResource.patient_key.in_(search.patient_keys))
    if search.golden is not None:
        query = query.where(StoredResource.golden.is_(search.golden))
    if search.facility_id is not None:
        query = query.where(StoredResource.facility_id == search.facility_id)
    if search.statuses:
        query = query.where(StoredResource.status.in_(search.statuses))
    for prefix, start, end in search.date:
        query = query.where(_date_clause(StoredResource.date, prefix, start, end))
    for prefix, start, end in search.last_updated:
        query = query.where(_date_clause(StoredResource.last_updated, prefix, start, end))
    if search.codes:
        alternatives = [
            and_(ResourceCode.code == code, ResourceCode.system == system) if system else ResourceCode.code == code
            for system, code in search.codes
        ]
        query = query.where(
            select(ResourceCode.id)
            .where(
                ResourceCode.resource_type == StoredResource.resource_type,
                ResourceCode.id == StoredResource.id,
                or_(*alternatives),
            )
            .exists()
        )
    if search.identifier is not None:
        system, value = search.identifier
        clause = ResourceIdentifier.value == value
        if system:
            clause = and_(clause, ResourceIdentifier.system == system)
        query = query.where(
            select(ResourceIdentifier.id)
            .where(
                ResourceIdentifier.resource_type == StoredResource.resource_type,
                ResourceIdentifier.id == StoredResource.id,
                clause,
            )
            .exists()
        )
    return query


def search(session: Session, spec: Search, offset: int, count: int) -> tuple[list[StoredResource], int]:
    query = _filtered(spec)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.order_by(StoredResource.last_updated.desc(), StoredResource.id).offset(offset).limit(count)
    ).all()
    return list(rows), total


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
