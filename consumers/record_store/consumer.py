"""The shared record consumer: every clinical event lands in the community patient's record."""

from __future__ import annotations

from sqlalchemy.orm import Session

from consumers.base import Consumer, Delivery
from consumers.record_store.store import RecordWriter
from hub.retry import PermanentError


class RecordStoreConsumer(Consumer):
    name = "record_store"
    event_types = ("patient", "encounter", "prescription", "lab_result", "imaging_request", "diagnostic_report")

    def apply(self, session: Session, delivery: Delivery) -> None:
        event = delivery.event
        assert event is not None
        if not event.resource.get("id"):
            raise PermanentError(f"{event.resource_type or 'resource'} without an id cannot be stored", "validate")
        RecordWriter(session).apply(event)
