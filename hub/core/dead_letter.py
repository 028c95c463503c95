"""A dead letter's description: the one place that writes and reads its Kafka headers.

Two writers send dead letters: the connector sink (an input no connector could turn into a valid
event) and the consumer framework (an event a consumer could not apply). One reader, the
dead-letter store, copies them into the `dead_letter` table, whose columns carry the same names
as the fields here. Replay strips these headers before republishing.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass

PREFIX = "hub.dlq."
H_REASON = PREFIX + "reason"
H_STAGE = PREFIX + "stage"
H_ORIGIN = PREFIX + "origin"  # connector or consumer name
H_FACILITY = PREFIX + "facility"
H_POSITION = PREFIX + "position"
H_TOPIC = PREFIX + "topic"
H_PARTITION = PREFIX + "partition"
H_OFFSET = PREFIX + "offset"
H_EXCEPTION = PREFIX + "exception"
H_EVENT_ID = PREFIX + "event_id"
H_FAILED_AT = PREFIX + "failed_at"
H_QUARANTINE = PREFIX + "quarantine"

REASON_LIMIT = 2000  # characters of the reason a header carries

_FIELD_OF = {
    H_REASON: "reason", H_STAGE: "stage", H_ORIGIN: "origin", H_FACILITY: "facility_id",
    H_POSITION: "position", H_TOPIC: "origin_topic", H_PARTITION: "origin_partition",
    H_OFFSET: "origin_offset", H_EXCEPTION: "exception", H_EVENT_ID: "event_id",
    H_FAILED_AT: "failed_at", H_QUARANTINE: "quarantine",
}
# Each writer has always sent its headers in its own order, and the store keeps the headers as sent
# (the `headers` column), so the two orders stay as they were. Both name every header.
_CONNECTOR_ORDER = (H_REASON, H_STAGE, H_ORIGIN, H_FACILITY, H_POSITION, H_FAILED_AT, H_EVENT_ID, H_QUARANTINE,
                    H_TOPIC, H_PARTITION, H_OFFSET, H_EXCEPTION)
_CONSUMER_ORDER = (H_REASON, H_STAGE, H_ORIGIN, H_TOPIC, H_PARTITION, H_OFFSET, H_EVENT_ID, H_FAILED_AT,
                   H_EXCEPTION, H_FACILITY, H_POSITION, H_QUARANTINE)


def dead_letter_id(origin: str, fingerprint: str) -> str:
    """The dead letter's own event id: the same input failing again at the same origin is a duplicate."""
    return "dlq-" + str(uuid.UUID(hashlib.sha256(f"{origin}|{fingerprint}".encode()).hexdigest()[:32]))


@dataclass(frozen=True)
class DeadLetterInfo:
    """Why and where something failed. Field names are the `dead_letter` table's column names."""

    reason: str
    stage: str  # parse, map, validate, encode, size (connector side); decode, apply (consumer side)
    origin: str  # the connector or consumer that gave up
    event_id: str | None = None  # the dead letter's own id (see dead_letter_id)
    failed_at: float | None = None  # Unix time
    facility_id: str | None = None
    position: str | None = None  # connector side: where in the source the input was
    origin_topic: str | None = None  # consumer side: where the event was
    origin_partition: int | None = None
    origin_offset: int | None = None
    exception: str | None = None  # the exception's class name
    quarantine: str | None = None  # blob reference of an input too large for the topic

    @classmethod
    def rejected_by_connector(
        cls, connector: str, facility_id: str, reason: str, stage: str, position: str, fingerprint: str
    ) -> DeadLetterInfo:
        return cls(
            reason=reason[:REASON_LIMIT], stage=stage, origin=connector, event_id=dead_letter_id(connector, fingerprint),
            failed_at=time.time(), facility_id=facility_id, position=position,
        )

    @classmethod
    def failed_in_consumer(
        cls, consumer: str, reason: str, stage: str, topic: str, partition: int, offset: int, fingerprint: str,
        exception: BaseException | None = None, facility_id: str | None = None,
    ) -> DeadLetterInfo:
        return cls(
            reason=reason[:REASON_LIMIT], stage=stage, origin=consumer, event_id=dead_letter_id(consumer, fingerprint),
            failed_at=time.time(), facility_id=facility_id, origin_topic=topic, origin_partition=partition,
            origin_offset=offset, exception=type(exception).__name__ if exception is not None else None,
        )

    @property
    def from_consumer(self) -> bool:
        """A consumer failed (replay republishes the event), not a connector (replay maps the input again)."""
        return self.origin_topic is not None

    def to_headers(self) -> list[tuple[str, bytes]]:
        order = _CONSUMER_ORDER if self.from_consumer else _CONNECTOR_ORDER
        headers = []
        for name in order:
            value = getattr(self, _FIELD_OF[name])
            if value is not None:
                headers.append((name, str(value).encode("utf-8", "backslashreplace")))
        return headers

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, bytes]]) -> DeadLetterInfo:
        """Reads what any hub wrote; a dead letter written by hand may lack any header."""
        text: dict[str, str] = {}
        for name, value in headers:
            if name.startswith(PREFIX):
                text.setdefault(name, (value or b"").decode("utf-8", "replace"))  # the first one counts
        return cls(
            reason=text.get(H_REASON) or "no reason given",
            stage=text.get(H_STAGE) or "unknown",
            origin=text.get(H_ORIGIN) or "unknown",
            event_id=text.get(H_EVENT_ID),
            failed_at=_float(text.get(H_FAILED_AT)),
            facility_id=text.get(H_FACILITY),
            position=text.get(H_POSITION),
            origin_topic=text.get(H_TOPIC),
            origin_partition=_int(text.get(H_PARTITION)),
            origin_offset=_int(text.get(H_OFFSET)),
            exception=text.get(H_EXCEPTION),
            quarantine=text.get(H_QUARANTINE),
        )

    def columns(self) -> dict[str, object]:
        """The `dead_letter` table's columns this value fills (the table does not keep failed_at)."""
        values = asdict(self)
        del values["failed_at"]
        return values


def without_dead_letter_headers(headers: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The original message's headers, for republishing what a consumer could not apply."""
    return [(name, value) for name, value in headers if not name.startswith(PREFIX)]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
