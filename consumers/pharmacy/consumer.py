"""The pharmacy consumer: keeps every member's prescriptions, dispenses, allergies, renal labs and patient
facts, and reviews each new prescription against the person's county-wide record (reviewing.py).

Idempotent: the consumer base drops a redelivered event by its id; a prescription's review is one row
(by its MedicationRequest), reviewed again only while no pharmacist has decided it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from consumers.pharmacy import medicines, metrics, record, reviewing
from consumers.pharmacy.review import RuleSet
from consumers.pharmacy.rulesets import active_rules
from hub.core.config import HubSettings
from hub.core.consumer import Consumer, Delivery
from hub.core.errors import PermanentError
from hub.core.events import Event, utcnow
from hub.core.parts import PartContext

_EXPECTED = {"prescription": ("MedicationRequest",), "dispense": ("MedicationDispense",),
             "allergy": ("AllergyIntolerance",), "lab_result": ("DiagnosticReport", "Observation"),
             "patient": ("Patient",)}


def _patient_id(resource: dict[str, object]) -> str | None:
    for field in ("subject", "patient"):
        value = resource.get(field)
        reference = value.get("reference") if isinstance(value, dict) else None
        if isinstance(reference, str) and reference.startswith("Patient/"):
            return reference.removeprefix("Patient/")[:64]
    return None


class PharmacyConsumer(Consumer):
    name = "pharmacy"
    event_types = ("prescription", "dispense", "allergy", "lab_result", "patient")
    # A review reads the person's county-wide record and runs every rule: ~10-25 ms a prescription on
    # SQLite. Short transactions keep the one write lock free for the other consumers.
    max_batch = 25

    def __init__(self, settings: HubSettings | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(settings)
        self.clock = clock
        self.desk: reviewing.Desk | None = None
        # The rule set of the batch being applied: read once a batch, not per prescription.
        self._batch_rules: RuleSet | None = None

    def bind(self, context: PartContext) -> None:
        if context.results is None:
            raise ValueError("the pharmacy consumer needs the results outbox (PartContext.results)")
        self.desk = reviewing.Desk(context.results, context.services.shared_record, self.settings.pharmacy_review_due_s)

    def apply_batch(self, session: Session, deliveries: list[Delivery]) -> None:
        """Applies the batch with one read of the rule set and one count of the queue, when it holds prescriptions."""
        if not any(d.event is not None and d.event.event_type == "prescription" for d in deliveries):
            super().apply_batch(session, deliveries)
            return
        self._batch_rules = active_rules(session)
        try:
            super().apply_batch(session, deliveries)
        finally:
            self._batch_rules = None
        depth = reviewing.queue_depth(session)
        reviewing.after_commit(session, lambda: metrics.QUEUE.set(depth))

    def apply(self, session: Session, delivery: Delivery) -> None:
        event = delivery.event
        if event is None:
            return
        if self.desk is None:
            raise RuntimeError("PharmacyConsumer.bind() was not called before the first event")
        if event.resource_type not in _EXPECTED.get(event.event_type, ()):
            raise PermanentError(f"the pharmacy reads {', '.join(_EXPECTED.get(event.event_type, ('nothing',)))} on "
                                 f"{event.event_type}, not {event.resource_type or 'a resource without resourceType'}",
                                 "validate")
        if not event.resource.get("id"):
            raise PermanentError(f"a {event.resource_type} without an id cannot be kept", "validate")
        facility = event.source.facility_id
        if event.event_type == "patient":
            if record.keep_patient(session, event.resource, event.patient_key):
                session.flush()
                reviewing.review_person_again(session, self.desk, lambda: self._batch_rules or active_rules(session),
                                              event.resource.get("id"), event.patient_key, self.clock())
        elif event.event_type == "allergy":
            record.keep_allergy(session, event.resource, facility, event.patient_key, _patient_id(event.resource))
        elif event.event_type == "lab_result":
            record.keep_labs(session, [event.resource, *event.related], facility, event.patient_key, event.occurred_at)
        else:
            self._medication(session, event, facility)

    def _medication(self, session: Session, event: Event, facility: str) -> None:
        assert self.desk is not None
        now = self.clock()
        codings, text = medicines.medication_concept(event.resource)
        drug = record.recognise(session, codings, text)
        if drug is None:
            for coding in medicines.local_drug_codings(codings):
                record.note_local_code(session, facility, coding, now)
        row = record.keep_medication(session, event.resource, facility, event.patient_key,
                                     _patient_id(event.resource), drug)
        if event.event_type == "prescription":
            session.flush()
            reviewing.review(session, self.desk, self._batch_rules or active_rules(session), row, drug, now,
                             count_queue=self._batch_rules is None)
