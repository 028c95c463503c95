"""The reading consumer: turns imaging requests (orders and arrived studies) into worklist items.

Orders and arrivals match whichever comes first (see classify.py); an item is ready, and its clock
starts, when its images or waveform are there. A study without an order waits, visible, as an
unordered arrival until its order comes or a lead accepts it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from consumers.reading.classify import read_event
from consumers.reading.config import ReadingConfig, load_config
from consumers.reading.worklist import apply_arrival, apply_order
from hub.core.config import HubSettings
from hub.core.consumer import Consumer, Delivery
from hub.core.errors import PermanentError


class ReadingConsumer(Consumer):
    name = "reading"
    event_types = ("imaging_request",)

    def __init__(self, settings: HubSettings | None = None, config: ReadingConfig | None = None) -> None:
        super().__init__(settings)
        self.config = config or load_config(self.settings.reading_targets, self.settings.reading_lease_s)

    def apply(self, session: Session, delivery: Delivery) -> None:
        event = delivery.event
        if event is None:
            return
        resource = event.resource
        if resource.get("resourceType") not in ("ServiceRequest", "ImagingStudy") or not resource.get("id"):
            raise PermanentError(
                f"the reading centres cannot read a {resource.get('resourceType') or 'resource without a type'}"
                f"{'' if resource.get('id') else ' without an id'} on the imaging request topic", "validate")
        facility, at = event.source.facility_id, event.recorded_at
        reading = read_event(resource, event.related, facility)
        for arrival in reading.arrivals:  # first, so an order in the same event finds its study
            apply_arrival(session, arrival, facility, event.patient_key, self.config, at)
        if reading.order is not None:
            session.flush()
            apply_order(session, reading.order, facility, event.patient_key, self.config, at)
