"""The critical-value consumer: reads lab results and readers' reports, raises a notice for each report
with critical values (in the same transaction as its `notice` event in the results outbox).

Idempotent twice over: the consumer base drops a redelivered event by its id, and a notice is raised
again only when its critical values changed (an amended report with the same values notifies nobody);
a later version without critical values withdraws an open notice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from consumers.critical_values.detect import detect
from consumers.critical_values.notices import Desk, note_unchecked, raise_notice, withdraw_if_corrected
from consumers.critical_values.rules import Rules, load_rules
from hub.core.config import HubSettings
from hub.core.consumer import Consumer, Delivery
from hub.core.errors import PermanentError
from hub.core.events import utcnow
from hub.core.parts import PartContext

_EXPECTED = ("DiagnosticReport", "Observation")


class CriticalValuesConsumer(Consumer):
    name = "critical_values"
    event_types = ("lab_result", "diagnostic_report")

    def __init__(self, settings: HubSettings | None = None, rules: Rules | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(settings)
        # Loaded when the consumer is made, so a bad rules file stops the hub at start with one line.
        self.rules = rules or load_rules(self.settings.critical_rules)
        self.clock = clock
        self.desk: Desk | None = None

    def bind(self, context: PartContext) -> None:
        if context.results is None:
            raise ValueError("the critical-value consumer needs the results outbox (PartContext.results)")
        self.desk = Desk(self.rules, self.settings.critical_ack_s, context.results, context.services.shared_record)

    def apply(self, session: Session, delivery: Delivery) -> None:
        event = delivery.event
        if event is None:
            return
        if self.desk is None:
            raise RuntimeError("CriticalValuesConsumer.bind() was not called before the first event")
        if event.resource_type not in _EXPECTED:
            raise PermanentError(f"the critical-value consumer reads DiagnosticReport and Observation, not "
                                 f"{event.resource_type or 'a resource without resourceType'}", "validate")
        if "/" not in event.patient_key:
            raise PermanentError(f"patient key {event.patient_key!r} is not facility/local-id, so no member can be "
                                 "notified", "validate")
        detection = detect(event.event_type, event.resource, event.related, self.rules)
        note_unchecked(session, event, detection)
        if detection.findings:
            raise_notice(session, self.desk, event, detection, self.clock())
        else:  # a corrected report: an open notice about its earlier version is withdrawn
            withdraw_if_corrected(session, self.desk, event, self.clock())
