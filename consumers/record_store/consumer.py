"""The shared record consumer: every clinical event lands in the community patient's record."""

from __future__ import annotations

from sqlalchemy.orm import Session

from consumers.record_store.matching.rules import AnyRules, load_rules
from consumers.record_store.writer import RecordWriter
from hub.core.config import HubSettings
from hub.core.consumer import Consumer, Delivery
from hub.core.errors import PermanentError


class RecordStoreConsumer(Consumer):
    name = "record_store"
    event_types = ("patient", "patient_merge", "encounter", "prescription", "lab_result", "imaging_request", "diagnostic_report",
                   "referral", "allergy")

    def __init__(self, settings: HubSettings | None = None) -> None:
        super().__init__(settings)
        self.rules: AnyRules = load_rules(self.settings.match_rules)

    def apply(self, session: Session, delivery: Delivery) -> None:
        self.apply_batch(session, [delivery])

    def apply_batch(self, session: Session, deliveries: list[Delivery]) -> None:
        events = [d.event for d in deliveries if d.event is not None]
        for event in events:
            if not event.resource.get("id"):
                raise PermanentError(f"{event.resource_type or 'resource'} without an id cannot be stored", "validate")
        writer = RecordWriter(session, self.rules)
        with session.no_autoflush:
            writer.prefetch(events)
            for event in events:
                writer.apply(event)
            writer.finish()
