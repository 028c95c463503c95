"""Writes one probe note per patient event."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import insert
from sqlalchemy.orm import Session

from hub.core.consumer import Consumer, Delivery
from tests.house.probe_part.models import probe_note


class ProbeConsumer(Consumer):
    name: ClassVar[str] = "probe"
    event_types: ClassVar[tuple[str, ...]] = ("patient",)

    def apply(self, session: Session, delivery: Delivery) -> None:
        assert delivery.event is not None
        session.execute(insert(probe_note).values(event_id=delivery.event.event_id,
                                                  event_type=delivery.event.event_type))
