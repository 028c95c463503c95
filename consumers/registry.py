"""Consumers by name. A new consumer is one module and one line here."""

from __future__ import annotations

from hub.core.consumer import Consumer
from hub.core.plugins import load

CONSUMERS: dict[str, str] = {
    "record_store": "consumers.record_store.consumer:RecordStoreConsumer",
    "dead_letters": "consumers.dead_letters.consumer:DeadLetterStore",
    "referrals": "consumers.referrals.consumer:ReferralConsumer",
}


def consumer_class(name: str) -> type[Consumer]:
    return load(CONSUMERS, name, Consumer, "consumer")  # type: ignore[type-abstract]  # subclasses are concrete


def all_consumers() -> list[type[Consumer]]:
    return [consumer_class(name) for name in CONSUMERS]
