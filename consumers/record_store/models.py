"""Tables of the shared record: FHIR resources as JSON with the columns searches need."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db.models import Base
from hub.core.db.types import UTCDateTime
from hub.core.events import utcnow


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
    subject_id: Mapped[str | None] = mapped_column(String(64))  # the Patient id in subject/patient/for
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
    linked_by: Mapped[str] = mapped_column(String(64))  # resident-id, identifier, score, new, manual, merge, ...
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    facility_id: Mapped[str | None] = mapped_column(String(32))
    features: Mapped[str | None] = mapped_column(Text)  # what the matcher compares (JSON, see matching/features)
    score: Mapped[float | None] = mapped_column(Float)  # the score that made a "score" link
    rules_version: Mapped[str | None] = mapped_column(String(16))  # rules that decided an automatic link
    pinned: Mapped[bool] = mapped_column(default=False)  # a person decided: re-matching leaves it alone


class MatchBlock(Base):
    """Blocking keys of every member record (see matching/blocking.py)."""

    __tablename__ = "mpi_block"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    patient_key: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class MatchReview(Base):
    """A possible match waiting for a person: served as a FHIR Task (see patient_index.review_task)."""

    __tablename__ = "mpi_review"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_key: Mapped[str] = mapped_column(String(100), index=True)  # the record that arrived
    candidate_key: Mapped[str] = mapped_column(String(100))  # its best match in the candidate community
    candidate_community_id: Mapped[str] = mapped_column(String(64), index=True)
    score: Mapped[float] = mapped_column(Float)
    explanation: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # requested | completed | rejected | cancelled
    rules_version: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class LinkHistory(Base):
    """Every change of a member record's community: nothing about a link is ever lost."""

    __tablename__ = "mpi_link_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    operation_id: Mapped[str] = mapped_column(String(64), index=True)  # rows of one merge share it
    action: Mapped[str] = mapped_column(String(32))  # link, unlink, merge, unmerge, a40-merge, rematch, ...
    patient_key: Mapped[str | None] = mapped_column(String(100), index=True)
    source_patient_id: Mapped[str | None] = mapped_column(String(64), index=True)
    from_community_id: Mapped[str | None] = mapped_column(String(64))
    to_community_id: Mapped[str | None] = mapped_column(String(64), index=True)
    score: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PatientIdentifier(Base):
    """Identifiers that link exactly: a valid resident ID, insurance number, local record number.

    Each names the first member record that carried it; the identifier's community is that
    record's, so it follows the record through merges and unlinks.
    """

    __tablename__ = "patient_identifier"

    system: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(String(100), primary_key=True)
    patient_key: Mapped[str] = mapped_column(String(100), index=True)


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


class SearchValue(Base):
    """One value a resource is found by, for a search parameter of its type (search/parameters.py): a
    normalised string (and the string as written), a token (system, code), a date range [low, high), or a
    reference (system = the type, value = the id). Written with the resource, replaced with it."""

    __tablename__ = "fhir_search_index"

    row_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    id: Mapped[str] = mapped_column(String(64))
    param: Mapped[str] = mapped_column(String(64))
    system: Mapped[str | None] = mapped_column(String(200))
    # Compared bytewise on PostgreSQL too (as SQLite does), so a starts-with search is an index range.
    value: Mapped[str | None] = mapped_column(String(200).with_variant(String(200, collation="C"), "postgresql"))
    exact: Mapped[str | None] = mapped_column(String(200))
    low: Mapped[datetime | None] = mapped_column(UTCDateTime())
    high: Mapped[datetime | None] = mapped_column(UTCDateTime())



class ResourceVersion(Base):
    """Every version of every resource as it was served (vread, `_history`): written with the current
    row in the same transaction, never changed afterwards. `facility_id` and `golden` scope reads."""

    __tablename__ = "fhir_resource_history"

    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime())
    facility_id: Mapped[str | None] = mapped_column(String(32))
    golden: Mapped[bool] = mapped_column(default=False)
    deleted: Mapped[bool] = mapped_column(default=False)  # a delete is a version without content
    content: Mapped[str | None] = mapped_column(Text)


class ExportJob(Base):
    """A Bulk Data export ($export): kept in the database so a restart resumes it (bulk_export.py)."""

    __tablename__ = "fhir_export_job"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # accepted | in-progress | completed | failed | cancelled
    level: Mapped[str] = mapped_column(String(16))  # system | patient | group
    group_id: Mapped[str | None] = mapped_column(String(64))
    types: Mapped[str] = mapped_column(Text)  # comma-separated resource types
    since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    transaction_time: Mapped[datetime] = mapped_column(UTCDateTime())
    request_url: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    facility_id: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[str | None] = mapped_column(String(200))
    output: Mapped[str | None] = mapped_column(Text)  # JSON list of {type, file, count}
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a runner that stops beating is replaced
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


Index("fhir_resource_subject", StoredResource.subject_id)
Index("fhir_resource_history_type_updated", ResourceVersion.resource_type, ResourceVersion.last_updated)
Index("fhir_resource_type_updated", StoredResource.resource_type, StoredResource.last_updated)
Index("fhir_resource_type_date", StoredResource.resource_type, StoredResource.date)
Index("fhir_resource_code_lookup", ResourceCode.system, ResourceCode.code)
Index("fhir_resource_identifier_lookup", ResourceIdentifier.value, ResourceIdentifier.system)
Index("fhir_search_index_resource", SearchValue.resource_type, SearchValue.id)
# Partial: a row has a string/token value or a date, not both (migration rs0004).
Index("fhir_search_index_value", SearchValue.resource_type, SearchValue.param, SearchValue.value,
      sqlite_where=SearchValue.value.is_not(None), postgresql_where=SearchValue.value.is_not(None))
Index("fhir_search_index_date", SearchValue.resource_type, SearchValue.param, SearchValue.low,
      sqlite_where=SearchValue.low.is_not(None), postgresql_where=SearchValue.low.is_not(None))
