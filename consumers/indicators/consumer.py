"""The indicator consumer: keeps the facts the county indicators count (visits, lab results, prescription
lines) from the same events the shared record reads. A newer version of a resource replaces the row."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from consumers.indicators import facts
from consumers.indicators.models import IndicatorPrescription, IndicatorResult, IndicatorVisit
from hub.core.config import HubSettings
from hub.core.consumer import Consumer, Delivery
from hub.core.errors import PermanentError
from hub.core.events import Event, utcnow
from hub.core.terminology import community_terminology


class IndicatorConsumer(Consumer):
    name = "indicators"
    event_types = ("encounter", "lab_result", "prescription")

    def __init__(self, settings: HubSettings | None = None, levels: Mapping[str, str] | None = None) -> None:
        super().__init__(settings)
        self.levels = dict(self.settings.facility_levels if levels is None else levels)
        self.terminology = community_terminology()

    def apply(self, session: Session, delivery: Delivery) -> None:
        event = delivery.event
        if event is None:
            return
        match event.resource_type:
            case "Encounter":
                self._visit(session, event)
            case "DiagnosticReport" | "Observation":
                for result in facts.results(event.resource, event.related, event.source.facility_id,
                                            event.patient_key, event.occurred_at):
                    session.merge(IndicatorResult(
                        id=result.id, facility_id=result.facility_id, patient_key=result.patient_key,
                        patient_id=result.patient_id, codes=" ".join(result.codes)[:500],
                        display=(result.display or "")[:200] or None, status=result.status[:24],
                        effective_at=result.effective_at, month=facts.month_of(result.effective_at)))
            case "MedicationRequest":
                line = facts.prescription_line(event.resource, event.source.facility_id, event.patient_key,
                                               event.occurred_at, self.terminology)
                session.merge(IndicatorPrescription(
                    id=line.id, facility_id=line.facility_id, patient_key=line.patient_key,
                    patient_id=line.patient_id, drug_code=line.drug_code, name=line.name, vbp=line.vbp,
                    status=line.status[:24], authored_at=line.authored_at, month=facts.month_of(line.authored_at)))
            case other:
                raise PermanentError(f"the indicator consumer cannot count a {other or 'resource'}", "validate")

    def _visit(self, session: Session, event: Event) -> None:
        visit = facts.visit(event.resource, event.source.facility_id, event.patient_key, event.occurred_at,
                            self.levels)
        session.merge(IndicatorVisit(
            id=visit.id, facility_id=visit.facility_id, level=visit.level, patient_key=visit.patient_key,
            patient_id=visit.patient_id, visit_class=visit.visit_class, status=visit.status[:24],
            started_at=visit.started_at, month=facts.month_of(visit.started_at),
            diagnoses=" ".join(visit.diagnoses)[:300], updated_at=utcnow()))
