"""What every consumer shares: the events it reads and the one method it writes, `apply`.

Polling, decoding, the database transaction, duplicate detection, retries, dead letters, offset
commits and metrics live in `hub.core.consuming`. A consumer only says how one event changes its tables.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy.orm import Session

from hub.core.config import HubSettings, get_settings
from hub.core.events import Event
from hub.core.parts import PartContext


@dataclass(frozen=True)
class Delivery:
    """One Kafka message as a consumer sees it: where it was, and the decoded event (if decoded)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int
    event: Event | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", "replace")
        return None


class Consumer(ABC):
    """Base of every consumer. Subclasses set `name` and `event_types` and implement `apply`."""

    name: ClassVar[str]  # also names its consumer group: hub.<name>
    event_types: ClassVar[tuple[str, ...]]  # topics, by event type (see hub/topics.py)
    decode: ClassVar[bool] = True  # False: receive raw messages (e.g. the dead-letter store)
    # The most events it applies in one transaction, below HUB_CONSUMER_BATCH_SIZE: a consumer whose events
    # cost milliseconds each keeps its transactions short, and with them SQLite's one write lock, which
    # every other consumer of the hub waits for.
    max_batch: ClassVar[int | None] = None

    def __init__(self, settings: HubSettings | None = None) -> None:
        self.settings = settings or get_settings()

    def bind(self, context: PartContext) -> None:
        """Called once by the hub before the first batch, with what the application offers parts (the
        database, services, the results outbox, the connector configs it runs). Consumers that need them
        keep what they need."""
        return None  # most consumers need nothing beyond their transaction

    def dedup_id(self, delivery: Delivery) -> str:
        """The id that makes a redelivered message a duplicate."""
        if delivery.event is None:
            raise ValueError("raw consumers must define dedup_id")
        return delivery.event.event_id

    @abstractmethod
    def apply(self, session: Session, delivery: Delivery) -> None:
        """Changes the database for one event inside the caller's transaction. Raise
        `hub.core.errors.PermanentError` for an event that can never be applied (it is dead-lettered
        at once), `hub.core.errors.RetriableError` for one worth trying again later."""

    def prepare(self, deliveries: Sequence[Delivery]) -> None:
        """Work on a batch that needs no database (parsing, measuring), done before its transaction
        opens: SQLite's write lock is taken when a transaction begins, and other consumers wait for it.
        May see events that turn out to be duplicates; must not raise for bad input (apply decides)."""
        return None  # most consumers have nothing to do outside their transaction

    def apply_batch(self, session: Session, deliveries: list[Delivery]) -> None:
        """Applies several new events in order; override to prefetch what the batch will touch."""
        for delivery in deliveries:
            self.apply(session, delivery)

    def topics(self) -> tuple[str, ...]:
        return self.event_types
