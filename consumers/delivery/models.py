"""Tables of outbound delivery: one row per message and destination (the outbox), one per destination."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db.models import Base
from hub.core.db.types import UTCDateTime
from hub.core.events import utcnow

QUEUED, ACKNOWLEDGED, REFUSED = "queued", "acknowledged", "refused"


class OutboundMessage(Base):
    """One result for one destination of a member: rendered once (so a resend is the same bytes, with
    the same MSH-10 / Bundle id) and sent until the member acknowledges or refuses it. `id` orders the
    messages: a patient's messages go out in id order."""

    __tablename__ = "delivery_message"
    __table_args__ = (
        UniqueConstraint("event_id", "destination", name="uq_delivery_message_event_destination"),
        Index("ix_delivery_message_queue", "destination", "state", "patient_key", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)  # MSH-10 and the Bundle's id
    event_id: Mapped[str] = mapped_column(String(80))
    event_type: Mapped[str] = mapped_column(String(32))
    destination: Mapped[str] = mapped_column(String(80))  # facility/name, e.g. th01/mllp
    facility_id: Mapped[str] = mapped_column(String(32))
    patient_key: Mapped[str] = mapped_column(String(100))
    resource: Mapped[str] = mapped_column(String(100))  # e.g. DiagnosticReport/cty01-dr-9
    content_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)  # why the last attempt failed, or why it was refused
    answer: Mapped[str | None] = mapped_column(Text)  # the member's answer (ACK, HTTP status and body), cut short
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last time it was sent
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)  # acknowledged or refused


class DestinationState(Base):
    """What the sender last saw of one destination; counters survive the pruning of old messages."""

    __tablename__ = "delivery_destination"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # facility/name
    facility_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # mllp, fhir
    address: Mapped[str] = mapped_column(String(300))  # host:port or URL, never a credential
    sent_total: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged_total: Mapped[int] = mapped_column(Integer, default=0)
    refused_total: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The one sender (of possibly several hubs on one database) that may send to it, until when: two
    # senders would each send every message.
    sender: Mapped[str | None] = mapped_column(String(100))
    sender_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
