"""The drug supply consumer: members' stock records (hub.stock.v1) into the ledger, each touched drug's stock
level and warnings recomputed in the same transaction; prescriptions (hub.prescription.v1) counted for 集采 use.

Order does not matter: a record joins the ledger whenever it comes and the level is recomputed from the whole
ledger (see ledger.py). A movement id seen before is a duplicate and changes nothing; so is a redelivered
event (the consumer base drops it by event id).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from consumers.drug_supply import metrics
from consumers.drug_supply.alerts import Thresholds
from consumers.drug_supply.levels import Desk, after_commit, refresh_drug
from consumers.drug_supply.models import StockEntry, SupplyPrescription
from consumers.drug_supply.records import StockRecord, read_record
from consumers.drug_supply.vbp import equivalent_vbp
from hub.core.config import HubSettings
from hub.core.consumer import Consumer, Delivery
from hub.core.errors import PermanentError
from hub.core.events import Event, utcnow
from hub.core.parts import PartContext
from hub.core.terminology import Terminology, community_terminology


def thresholds_of(settings: HubSettings) -> Thresholds:
    return Thresholds(settings.supply_low_days, settings.supply_near_expiry_days, settings.supply_shortage_members)


class DrugSupplyConsumer(Consumer):
    name = "drug_supply"
    event_types = ("stock", "prescription")

    def __init__(self, settings: HubSettings | None = None, terminology: Terminology | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(settings)
        self.terminology = terminology or community_terminology()
        self.clock = clock
        self.desk = Desk(thresholds_of(self.settings), self.terminology, None)

    def bind(self, context: PartContext) -> None:
        if context.results is None:
            raise ValueError("the drug supply consumer needs the results outbox (PartContext.results) for its "
                             "shortage notices")
        self.desk = Desk(self.desk.thresholds, self.terminology, context.results)

    def apply(self, session: Session, delivery: Delivery) -> None:
        self.apply_batch(session, [delivery])

    def apply_batch(self, session: Session, deliveries: list[Delivery]) -> None:
        """Every record of the batch joins the ledger first; each touched drug is then recomputed once, so a
        batch that brings a whole count and its dispenses raises no warning for a half-read state."""
        touched: dict[tuple[str, str], StockRecord] = {}
        for delivery in deliveries:
            event = delivery.event
            if event is None:
                continue
            if event.event_type == "stock":
                record = self._stock(session, event)
                if record is not None:
                    touched[(record.facility_id, record.drug_key)] = record
            elif event.event_type == "prescription":
                self._prescription(session, event)
        now = self.clock()
        for (facility, drug_key), record in sorted(touched.items()):
            refresh_drug(session, self.desk, facility, drug_key,
                         (record.community_code, record.local_code, record.drug_name[:200]), now)

    def _stock(self, session: Session, event: Event) -> StockRecord | None:
        record = read_record(event, self.terminology)
        seen = session.scalar(select(StockEntry.id).where(StockEntry.facility_id == record.facility_id,
                                                          StockEntry.movement_id == record.movement_id))
        if seen is not None:
            after_commit(session, lambda: metrics.STOCK_EVENTS.labels("duplicate").inc())
            return None
        session.add(StockEntry(facility_id=record.facility_id, movement_id=record.movement_id[:100], kind=record.kind,
                               drug_key=record.drug_key, lot=record.lot[:64], expiry=record.expiry,
                               quantity=record.quantity, at=record.at, event_id=event.event_id))
        session.flush()
        after_commit(session, lambda: metrics.STOCK_EVENTS.labels(record.kind).inc())
        return record

    def _prescription(self, session: Session, event: Event) -> None:
        resource = event.resource
        if event.resource_type != "MedicationRequest":
            raise PermanentError(f"hub.prescription.v1 carries MedicationRequest, not {event.resource_type or 'nothing'}",
                                 "validate")
        rx_id = str(resource.get("id") or event.event_id)[:64]
        if session.scalar(select(SupplyPrescription.id).where(SupplyPrescription.facility_id == event.source.facility_id,
                                                              SupplyPrescription.prescription_id == rx_id)):
            return  # a later version of the same line: counted once
        concept = resource.get("medicationCodeableConcept") or {}
        codings = [c for c in concept.get("coding") or [] if isinstance(c, dict)]
        drug = self.terminology.find_drug(codings, concept.get("text"))
        if drug is None:
            return  # not recognised: nothing to say about 集采 (the pharmacy part's mapping queue holds it)
        equivalent = equivalent_vbp(drug, self.terminology)
        authored = resource.get("authoredOn")
        try:
            at = datetime.fromisoformat(authored) if isinstance(authored, str) else event.occurred_at
        except ValueError:
            at = event.occurred_at
        session.add(SupplyPrescription(facility_id=event.source.facility_id, prescription_id=rx_id, drug_key=drug.code,
                                       drug_name=drug.name, vbp=bool(drug.vbp),
                                       equivalent=equivalent.code if equivalent else None,
                                       authored_at=at if at.tzinfo else event.occurred_at))
