"""Stock records as hub.stock.v1 carries them, a catalogue with 集采 flags, and a bound supply consumer."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from consumers.drug_supply.consumer import DrugSupplyConsumer
from consumers.drug_supply.records import community_coding, stock_resource
from hub.app import parts as registered
from hub.core.config import HubSettings
from hub.core.consumer import Delivery
from hub.core.db import Database
from hub.core.events import Event, Source, deterministic_event_id
from hub.core.parts import PartContext
from hub.core.results import ResultOutbox
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.terminology import Terminology, community_terminology

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
AMLODIPINE, METFORMIN, AMOXICILLIN = "D0006", "D0011", "D0001"


def at(days_ago: float) -> datetime:
    return NOW - timedelta(days=days_ago)


def stock_event(facility: str, movement: str, kind: str, quantity: float, when: datetime, drug: str = AMLODIPINE,
                lot: str = "", expiry: date | None = None, local: str | None = None) -> Event:
    codings = [{"system": f"urn:hub:code:local-drug:{facility}", "code": local}] if local else [community_coding(drug)]
    resource = stock_resource(facility, movement, kind, codings, local or drug, quantity, when, lot, expiry)
    key = local or drug
    return Event(deterministic_event_id(facility, "test", movement, "1"), "stock", Source(facility, "test", movement),
                 when, when, f"{facility}/{key}", resource)


def vbp_terminology() -> Terminology:
    """The shipped catalogue with amlodipine (D0006) marked 集采 and a non-集采 amlodipine (D0906) beside it."""
    base = community_terminology()
    drugs = [dataclasses.replace(d, vbp="第三批") if d.code == AMLODIPINE else d for d in base.drugs]
    brand = dataclasses.replace(base.drug(AMLODIPINE), code="D0906", name="苯磺酸氨氯地平片（原研）", nhsa=None, vbp=None)
    return dataclasses.replace(base, drugs=(*drugs, brand))


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def results_outbox(settings: HubSettings, db: Database) -> ResultOutbox:
    return ResultOutbox(db, EventCodec(FileSchemaRegistry(), settings.topic_prefix), settings)


def bound_consumer(settings: HubSettings, db: Database, clock: Callable[[], datetime] = lambda: NOW,
                   terminology: Terminology | None = None) -> DrugSupplyConsumer:
    consumer = DrugSupplyConsumer(settings, terminology=terminology, clock=clock)
    consumer.bind(PartContext(settings, db, registered.services(), results_outbox(settings, db)))
    return consumer


def apply(consumer: DrugSupplyConsumer, db: Database, *events: Event) -> None:
    """Applies events as the consumer framework would (one transaction per call), without the broker."""
    with db.transaction() as session:
        consumer.apply_batch(session, [Delivery("t", 0, i, None, None, (), 0, e) for i, e in enumerate(events)])
