"""Tables the framework itself needs: applied events, dead letters, API tokens, audit.

Consumers keep their own tables beside their code (e.g. consumers/record_store/models.py), on
this same `Base`, so one Alembic history covers the whole database.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.core.db.types import UTCDateTime
from hub.core.events import utcnow


class Base(DeclarativeBase):
    pass


def core_table(model: type[Base]) -> Table:
    """A model's Table, for bulk Core statements that skip the ORM's per-object work."""
    return cast(Table, model.__table__)


class ProcessedEvent(Base):
    """One row per event a consumer applied: the key to exactly-once in effect."""

    __tablename__ = "processed_event"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    topic: Mapped[str] = mapped_column(String(200))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    facility_id: Mapped[str | None] = mapped_column(String(32))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class DeadLetter(Base):
    """A durable copy of every dead letter, for `hub dlq list|show|replay` and the status page."""

    __tablename__ = "dead_letter"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # the dead letter's own event id
    origin: Mapped[str] = mapped_column(String(64), index=True)  # connector or consumer that gave up
    stage: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    exception: Mapped[str | None] = mapped_column(String(200))
    facility_id: Mapped[str | None] = mapped_column(String(32))
    origin_topic: Mapped[str | None] = mapped_column(String(200))
    origin_partition: Mapped[int | None] = mapped_column(Integer)
    origin_offset: Mapped[int | None] = mapped_column(BigInteger)
    position: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[str | None] = mapped_column(String(80))
    quarantine: Mapped[str | None] = mapped_column(Text)
    key: Mapped[bytes | None] = mapped_column(LargeBinary)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ResultOutboxRow(Base):
    """An event the hub itself produced (a reader's report, a notice), written in the same transaction
    as the change it reports and published by the results relay (hub/core/results.py)."""

    __tablename__ = "result_outbox"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(80), unique=True)
    producer: Mapped[str] = mapped_column(String(64))  # the part that wrote it
    topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[bytes | None] = mapped_column(LargeBinary)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[float] = mapped_column(Float)
    published_at: Mapped[float | None] = mapped_column(Float, index=True)


class ResultOutboxMeta(Base):
    """What the results relay remembers between runs (the broker epoch it last published to)."""

    __tablename__ = "result_outbox_meta"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ApiToken(Base):
    """Bearer tokens; only a hash is stored."""

    __tablename__ = "api_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))  # connector, reader, pharmacist, clinician, admin
    facility_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def public_id(self) -> str:
        """What `hub token list` shows and `hub token revoke` takes: a prefix of the hash, never the secret."""
        return self.token_hash[:12]


class UserAccount(Base):
    """A person who logs in to the pages; only an argon2 hash of the password is stored."""

    __tablename__ = "hub_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))  # the roles of ApiToken
    facility_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebSession(Base):
    """A logged-in page session; the cookie carries the secret, the table only its SHA-256."""

    __tablename__ = "web_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("hub_user.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the absolute limit


class AuditLog(Base):
    """Who read or changed which patients' data, when, from where (one row per request)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Made by the hub, not the database, so a read's audit rows can be written after it without
    # waiting for the id (SQLite spools them while a writer holds the lock: hub/core/db/late_writes.py).
    uid: Mapped[str] = mapped_column(String(32), unique=True, index=True, default=lambda: uuid.uuid4().hex)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    facility_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[str | None] = mapped_column(String(100), index=True)  # the patient the request named (hub.core.limits)
    client: Mapped[str | None] = mapped_column(String(64))  # the caller's network address
    method: Mapped[str | None] = mapped_column(String(8))
    path: Mapped[str | None] = mapped_column(Text)
    query: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(Integer)


class AuditPatient(Base):
    """Every patient whose data one audited request returned (or changed)."""

    __tablename__ = "audit_patient"

    audit_uid: Mapped[str] = mapped_column(ForeignKey("audit_log.uid", ondelete="CASCADE"), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)
    community_id: Mapped[str | None] = mapped_column(String(128), index=True)  # its community patient then


Index("processed_event_consumer_time", ProcessedEvent.consumer, ProcessedEvent.processed_at)
