"""Tables of the shared record: FHIR resources as JSON with the columns searches need."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base
from hub.db.types import UTCDateTime
from hub.events import utcnow


class StoredResource(Base):
    """The current version of one FHIR resource, source (as a member sent it) or golden."""

    __tablename__ = "fhir_resource"

    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer, default=1)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())  # source time, orders updates
    facility_id: Mapped[str | None] = mapped_column(String(32))
    patient_key: Mapped[str | None] = mapped_column(String(100), index=True)  # facility/local-id
    date: Mapped[datetime | None] = mapped_column(UTCDateTime())  # clinical date for search and sort
    code: Mapped[str | None] = mapped_column(String(200))  # "system|code" of the main coding
    status: Mapped[str | None] = mapped_column(String(32))
    golden: Mapped[bool] = mapped_column(default=False)
    source_event_id: Mapped[str | None] = mapped_column(String(80))
    content: Mapped[str] = mapped_column(Text)  # the resource JSON


class PatientLink(Base):
    """A member's patient (patient key) and the community patient it belongs to."""

    __tablename__ = "patient_link"

    patient_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    source_patient_id: Mapped[str] = mapped_column(String(64), index=True)
    community_patient_id: Mapped[str] = mapped_column(String(64), index=True)
    linked_by: Mapped[str] = mapped_column(String(64))  # which rule: resident-id, mrn, new, ...
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PatientIdentifier(Base):
    """Identifiers that link exactly: a valid resident ID, insurance number, local record number."""

    __tablename__ = "patient_identifier"

    system: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(String(100), primary_key=True)
    community_patient_id: Mapped[str] = mapped_column(String(64), index=True)


class ResourceCode(Base):
    """Every coding of a resource, so `code=` search finds secondary codings too."""

    __tablename__ = "fhir_resource_code"

    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    system: Mapped[str] = mapped_column(String(200), primary_key=True)
    code: Mapped[str] = mapped_column(String(100), primary_key=True)


class ResourceIdentifier(Base):
    """Every identifier of a resource, for `identifier=` search."""

    __tablename__ = "fhir_resource_identifier"

    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    system: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(String(100), primary_key=True)


Index("fhir_resource_type_updated", StoredResource.resource_type, StoredResource.last_updated)
Index("fhir_resource_type_date", StoredResource.resource_type, StoredResource.date)
Index("fhir_resource_code_lookup", ResourceCode.system, ResourceCode.code)
Index("fhir_resource_identifier_lookup", ResourceIdentifier.value, ResourceIdentifier.system)
