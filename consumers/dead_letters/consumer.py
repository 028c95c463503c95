"""Copies each message of the dead-letter topic into the `dead_letter` table, reason and all."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy.orm import Session

from hub.core import pipeline
from hub.core.consumer import Consumer, Delivery
from hub.core.db.models import DeadLetter


class DeadLetterStore(Consumer):
    name = "dead_letters"
    event_types = ("dead_letter",)
    decode = False  # dead letters are whatever failed: raw bytes plus headers

    def dedup_id(self, delivery: Delivery) -> str:
        explicit = delivery.header(pipeline.H_EVENT_ID)
        if explicit:
            return explicit
        digest = hashlib.sha256((delivery.value or b"") + repr(delivery.headers).encode()).hexdigest()
        return "dlq-" + digest[:36]

    def apply(self, session: Session, delivery: Delivery) -> None:
        header = delivery.header
        dlq_id = self.dedup_id(delivery)
        if session.get(DeadLetter, dlq_id) is not None:
            return  # the same failure reported again after a broker restart
        session.add(
            DeadLetter(
                id=dlq_id,
                origin=header(pipeline.H_ORIGIN) or "unknown",
                stage=header(pipeline.H_STAGE) or "unknown",
                reason=header(pipeline.H_REASON) or "no reason given",
                exception=header(pipeline.H_EXCEPTION),
                facility_id=header(pipeline.H_FACILITY),
                origin_topic=header(pipeline.H_TOPIC),
                origin_partition=_int(header(pipeline.H_PARTITION)),
                origin_offset=_int(header(pipeline.H_OFFSET)),
                position=header(pipeline.H_POSITION),
                event_id=header(pipeline.H_EVENT_ID),
                quarantine=header(pipeline.H_QUARANTINE),
                key=delivery.key,
                payload=delivery.value or b"",
                headers=json.dumps({k: v.decode("utf-8", "replace") for k, v in delivery.headers}, ensure_ascii=False),
            )
        )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
