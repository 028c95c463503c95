"""The read side of resource history: vread, instance and type history (fhir_resource_history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from consumers.record_store.models import ResourceVersion


@dataclass(frozen=True)
class HistoryQuery:
    resource_type: str
    resource_id: str | None = None  # None: the whole type
    since: datetime | None = None  # versions after this instant (`_since`)
    till: datetime | None = None  # versions up to this instant: pages of one answer keep still while data arrives
    facility_id: str | None = None  # set for connector tokens: their own source records only


def version(session: Session, resource_type: str, resource_id: str, version_id: int) -> ResourceVersion | None:
    return session.get(ResourceVersion, (resource_type, resource_id, version_id))


def _filtered(query: HistoryQuery) -> Select[Any]:
    stmt = select(ResourceVersion).where(ResourceVersion.resource_type == query.resource_type)
    if query.resource_id is not None:
        stmt = stmt.where(ResourceVersion.id == query.resource_id)
    if query.since is not None:
        stmt = stmt.where(ResourceVersion.last_updated > query.since)
    if query.till is not None:
        stmt = stmt.where(ResourceVersion.last_updated <= query.till)
    if query.facility_id is not None:
        stmt = stmt.where(ResourceVersion.facility_id == query.facility_id, ResourceVersion.golden.is_(False))
    return stmt


def versions(session: Session, query: HistoryQuery, offset: int, count: int) -> tuple[list[ResourceVersion], int]:
    """Newest first, as the specification orders a history."""
    stmt = _filtered(query)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = session.scalars(
        stmt.order_by(ResourceVersion.last_updated.desc(), ResourceVersion.id, ResourceVersion.version_id.desc())
        .offset(offset).limit(count)
    ).all()
    return list(rows), total
