"""The one place events become bytes and back: Avro (fastavro) in the Confluent wire format.

Wire format: magic byte 0, 4-byte big-endian schema id, Avro binary body. Library errors become
`SerializationError`, a permanent failure: such a message goes to the dead letters.
"""

from __future__ import annotations

import io
import json
import struct
from datetime import UTC
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from hub.core.errors import PermanentError
from hub.core.events import Event, Source
from hub.core.schema_registry import SchemaRegistry, SchemaRegistryError, load_event_schema
from hub.core.topics import spec_for

MAGIC = 0
_HEADER = struct.Struct(">bI")


class SerializationError(PermanentError, ValueError):
    """Bytes that are not a hub event, or an event that does not fit its schema."""


def _parsed(schema: dict[str, Any]) -> Any:
    """A schema parsed once for fastavro's reader and writer. fastavro marks it as parsed; without the
    mark (`_write_hint=False`) it parses the whole schema again on every event, half of a decode's time."""
    return parse_schema(schema)


class EventCodec:
    """Encodes with the current schema of each event type; decodes whatever version wrote the bytes."""

    def __init__(self, registry: SchemaRegistry, topic_prefix: str = "") -> None:
        self._registry = registry
        self._prefix = topic_prefix
        self._writers: dict[str, tuple[int, Any]] = {}
        self._readers: dict[str, Any] = {}
        self._parsed_by_id: dict[int, Any] = {}

    def _writer(self, event_type: str) -> tuple[int, Any]:
        if event_type not in self._writers:
            schema = load_event_schema(spec_for(event_type).event_type)
            subject = f"{self._prefix}{spec_for(event_type).name}-value"
            schema_id = self._registry.register(subject, schema)
            parsed = _parsed(schema)
            self._writers[event_type] = (schema_id, parsed)
            self._readers[event_type] = parsed
            self._parsed_by_id[schema_id] = parsed
        return self._writers[event_type]

    def encode(self, event: Event) -> bytes:
        try:
            schema_id, parsed = self._writer(event.event_type)
        except (KeyError, SchemaRegistryError) as exc:
            raise SerializationError(str(exc)) from exc
        record = {
            "header": {
                "event_id": event.event_id,
                "event_type": event.event_type,
                "source": {
                    "facility_id": event.source.facility_id,
                    "system": event.source.system,
                    "position": event.source.position,
                },
                "occurred_at": event.occurred_at,
                "recorded_at": event.recorded_at,
                "patient_key": event.patient_key,
                "flags": list(event.flags),
            },
            "resource_type": event.resource_type,
            "resource": json.dumps(event.resource, ensure_ascii=False, separators=(",", ":")),
            "related": [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in event.related],
        }
        buffer = io.BytesIO()
        buffer.write(_HEADER.pack(MAGIC, schema_id))
        try:
            schemaless_writer(buffer, parsed, record)
        except (ValueError, TypeError) as exc:
            raise SerializationError(f"event {event.event_id} does not fit schema {event.event_type}: {exc}") from exc
        return buffer.getvalue()

    def decode(self, data: bytes | None) -> Event:
        if not data or len(data) < _HEADER.size:
            raise SerializationError("empty or truncated message: no Confluent wire-format header")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise SerializationError(f"unknown magic byte {magic}: not Confluent wire format")
        try:
            writer = self._parsed_by_id.get(schema_id)
            if writer is None:
                writer = _parsed(self._registry.lookup(schema_id))
                self._parsed_by_id[schema_id] = writer
            record = schemaless_reader(io.BytesIO(data[_HEADER.size :]), writer)
        except SchemaRegistryError as exc:
            raise SerializationError(str(exc)) from exc
        except Exception as exc:  # fastavro raises a zoo of types on corrupt bodies
            raise SerializationError(f"corrupt Avro body (schema id {schema_id}): {exc}") from exc
        assert isinstance(record, dict)
        try:
            header = record["header"]
            return Event(
                event_id=header["event_id"],
                event_type=header["event_type"],
                source=Source(**header["source"]),
                occurred_at=header["occurred_at"].astimezone(UTC),
                recorded_at=header["recorded_at"].astimezone(UTC),
                patient_key=header["patient_key"],
                resource=json.loads(record["resource"]),
                related=tuple(json.loads(r) for r in record.get("related", [])),
                flags=tuple(header.get("flags", [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SerializationError(f"event body is not a hub event: {exc}") from exc
