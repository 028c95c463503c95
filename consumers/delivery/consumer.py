"""The delivery consumer: each report, notice or prescription review becomes one queued message per destination of the
member it belongs to, written in the consumer's transaction (so it is queued exactly once) and sent by
the sender (sender.py)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.delivery import fhir_bundle, hl7_oru
from consumers.delivery.models import QUEUED, OutboundMessage
from consumers.delivery.routing import Route, member_of, routes_from
from hub.core import metrics
from hub.core.config import HubSettings
from hub.core.connector import ConnectorConfigError
from hub.core.consumer import Consumer, Delivery
from hub.core.destinations import MllpDestination
from hub.core.errors import PermanentError
from hub.core.events import Event
from hub.core.parts import PartContext

log = logging.getLogger(__name__)
HL7_CONTENT_TYPE = "x-application/hl7-v2+er7"
_EXPECTED = {"diagnostic_report": "DiagnosticReport", "notice": "Communication", "prescription_review": "Task"}


def message_id(event_id: str, destination: str) -> str:
    """MSH-10 and the Bundle id: the same for every resend of this result to this destination (20
    characters, so HL7 v2.3 receivers take it too)."""
    return hashlib.sha256(f"{event_id}|{destination}".encode()).hexdigest()[:20].upper()


class DeliveryConsumer(Consumer):
    name = "delivery"
    event_types = ("diagnostic_report", "notice", "prescription_review")

    def __init__(self, settings: HubSettings | None = None, routes: Mapping[str, tuple[Route, ...]] | None = None) -> None:
        super().__init__(settings)
        self.routes: dict[str, tuple[Route, ...]] = dict(routes or {})

    def bind(self, context: PartContext) -> None:
        if not context.connector_configs:
            # A process told of no member at all (`hub consumer run delivery` without -c) would take
            # results off the topics and deliver none of them.
            raise ConnectorConfigError(
                "delivery needs the members' connector configs to know where results go; "
                "run it inside `hub run`, or give them: hub consumer run delivery -c th01.yaml -c th02.yaml"
            )
        self.routes = routes_from(context.connector_configs)
        if not self.routes:
            log.warning("delivery: no connector config names a destination (deliver_to); results are not delivered")

    def apply(self, session: Session, delivery: Delivery) -> None:
        event = delivery.event
        if event is None:
            return
        expected = _EXPECTED.get(event.event_type)
        if expected is None or event.resource_type != expected:
            raise PermanentError(
                f"delivery carries DiagnosticReport (diagnostic_report), Communication (notice) and Task "
                f"(prescription_review), "
                f"not {event.resource_type or 'a resource'} on {event.event_type}", "validate"
            )
        facility, local_id = member_of(event)
        routes = self.routes.get(facility, ())
        if not routes:
            metrics.DELIVERY_UNROUTED.labels(facility).inc()
            return
        for route in routes:
            if session.scalar(select(OutboundMessage.id).where(OutboundMessage.event_id == event.event_id,
                                                               OutboundMessage.destination == route.key)):
                continue  # queued before (a replay under another dedup id): never twice
            ident = message_id(event.event_id, route.key)
            content_type, body = self._render(event, route, ident, facility, local_id)
            session.add(OutboundMessage(
                message_id=ident, event_id=event.event_id, event_type=event.event_type, destination=route.key,
                facility_id=facility, patient_key=event.patient_key,
                resource=f"{event.resource_type}/{event.resource.get('id', '')}"[:100],
                content_type=content_type, body=body, state=QUEUED, attempts=0,
            ))

    def _render(self, event: Event, route: Route, ident: str, facility: str, local_id: str) -> tuple[str, bytes]:
        destination = route.destination
        if not isinstance(destination, MllpDestination):
            return fhir_bundle.CONTENT_TYPE, fhir_bundle.transaction(ident, event.resource, event.related,
                                                                     event.recorded_at)
        header = hl7_oru.Header(
            message_id=ident, sending_facility=self.settings.facility_id,
            receiving_application=destination.receiving_application,
            receiving_facility=destination.receiving_facility or facility.upper(),
            charset=destination.charset, at=event.recorded_at,
        )
        if event.event_type == "notice":
            return HL7_CONTENT_TYPE, hl7_oru.notice_message(header, event.resource, event.related, local_id, facility)
        if event.event_type == "prescription_review":
            return HL7_CONTENT_TYPE, hl7_oru.review_message(header, event.resource, event.related, local_id, facility)
        # In the report's own order (DiagnosticReport.result), whatever order `related` has.
        order = {str(r.get("reference", "")).rpartition("/")[2]: i for i, r in enumerate(event.resource.get("result") or [])}
        observations = sorted((r for r in event.related if r.get("resourceType") == "Observation"),
                              key=lambda o: order.get(str(o.get("id")), len(order)))
        return HL7_CONTENT_TYPE, hl7_oru.report_message(header, event.resource, observations, local_id, facility)
