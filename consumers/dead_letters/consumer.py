"""Copies each message of the dead-letter topic into the `dead_letter` table, reason and all."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy.orm import Session

from hub.core.consumer import Consumer, Delivery
from hub.core.db.models import DeadLetter
from hub.core.dead_letter import DeadLetterInfo


class DeadLetterStore(Consumer):
    name = "dead_letters"
    event_types = ("dead_letter",)
    decode = False  # dead letters are whatever failed: raw bytes plus headers

    def dedup_id(self, delivery: Delivery) -> str:
        explicit = DeadLetterInfo.from_headers(delivery.headers).event_id
        if explicit:
            return explicit
        digest = hashlib.sha256((delivery.value or b"") + repr(delivery.headers).encode()).hexdigest()
        return "dlq-" + digest[:36]

    def apply(self, session: Session, delivery: Delivery) -> None:
        dlq_id = self.dedup_id(delivery)
        if session.get(DeadLetter, dlq_id) is not None:
            return  # the same failure reported again after a broker restart
        session.add(
            DeadLetter(
                id=dlq_id,
                **DeadLetterInfo.from_headers(delivery.headers).columns(),
                key=delivery.key,
                payload=delivery.value or b"",
                headers=json.dumps({k: v.decode("utf-8", "replace") for k, v in delivery.headers}, ensure_ascii=False),
            )
        )
