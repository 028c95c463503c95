"""Consumers by name. A new consumer is one module and one line here."""

from __future__ import annotations

import importlib

from consumers.base import Consumer

CONSUMERS: dict[str, str] = {
    "record_store": "consumers.record_store.consumer:RecordStoreConsumer",
    "dead_letters": "consumers.dead_letters.consumer:DeadLetterStore",
}


def consumer_class(name: str) -> type[Consumer]:
    try:
        target = CONSUMERS[name]
    except KeyError:
        raise KeyError(f"unknown consumer {name!r}; known consumers: {', '.join(sorted(CONSUMERS))}") from None
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    assert issubclass(cls, Consumer)
    return cls


def all_consumers() -> list[type[Consumer]]:
    return [consumer_class(name) for name in CONSUMERS]
