"""Schemas: wire format round trips, and a change that breaks old data fails the check."""

from __future__ import annotations

import copy
import json
import struct
from datetime import UTC, datetime

import pytest

from hub.core.events import Event, Source
from hub.core.schema_compat import backward_incompatibilities, check_released
from hub.core.schema_registry import FileSchemaRegistry, RestSchemaRegistry, load_event_schema, schema_id_of
from hub.core.serialization import EventCodec, SerializationError
from hub.core.topics import CATALOGUE


def current_schemas() -> dict[str, dict]:
    return {spec.event_type: load_event_schema(spec.event_type) for spec in CATALOGUE}


def sample_event(event_type: str = "patient") -> Event:
    return Event(
        event_id="0b5c0e8e-3f0e-4a51-9d55-2a1c2e6c1f00",
        event_type=event_type,
        source=Source("th01", "his_db:vendor_a", "pat_info:2026-11-23T08:00:00|17"),
        occurred_at=datetime(2026, 11, 23, 0, 0, tzinfo=UTC),
        recorded_at=datetime(2026, 11, 23, 0, 0, 1, tzinfo=UTC),
        patient_key="th01/17",
        resource={"resourceType": "Patient", "id": "th01-pat-17", "name": [{"text": "王秀英"}]},
        flags=("resident-id-check-digit",),
    )


def test_current_schemas_read_every_released_version() -> None:
    problems = check_released(current_schemas())
    assert not problems, "\n".join(str(p) for p in problems)


def test_every_event_type_has_a_released_version() -> None:
    from schemas import RELEASED_DIR

    released = {p.name.split(".")[0] for p in RELEASED_DIR.glob("*.avsc")}
    assert released == {spec.event_type for spec in CATALOGUE}


@pytest.mark.parametrize(
    "mutate, expected",
    [
        # a new field without a default: old data has no value for it
        (lambda s: s["fields"].append({"name": "priority", "type": "string"}), "priority"),
        # a field changes type
        (lambda s: s["fields"][1].__setitem__("type", "int"), "resource_type"),
    ],
    ids=["new-field-without-default", "type-change"],
)
def test_breaking_change_fails_the_check(mutate, expected: str, tmp_path) -> None:
    schemas = current_schemas()
    broken = copy.deepcopy(schemas["patient"])
    mutate(broken)
    problems = check_released({**schemas, "patient": broken})
    assert [p.event_type for p in problems] == ["patient"]
    assert expected in str(problems[0]) or problems[0].locations


def test_compatible_change_passes() -> None:
    schema = copy.deepcopy(current_schemas()["patient"])
    schema["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    assert backward_incompatibilities(schema, current_schemas()["patient"]) == []


def test_wire_format_round_trip_keeps_chinese_text() -> None:
    codec = EventCodec(FileSchemaRegistry())
    data = codec.encode(sample_event())
    magic, schema_id = struct.unpack(">bI", data[:5])
    assert magic == 0
    assert schema_id == schema_id_of(load_event_schema("patient"))
    decoded = codec.decode(data)
    assert decoded == sample_event()
    assert decoded.resource["name"][0]["text"] == "王秀英"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"\x00\x00", "truncated"),
        (b"\x01\x00\x00\x00\x01abc", "magic"),
        (b"\x00\x00\x00\x00\x07abc", "unknown schema id"),
    ],
)
def test_garbage_is_a_serialization_error(data: bytes, message: str) -> None:
    with pytest.raises(SerializationError, match=message):
        EventCodec(FileSchemaRegistry()).decode(data)


def test_corrupt_body_is_a_serialization_error() -> None:
    codec = EventCodec(FileSchemaRegistry())
    data = codec.encode(sample_event())
    with pytest.raises(SerializationError):
        codec.decode(data[:5] + b"\xff" * 8)


def test_rest_registry_speaks_the_confluent_api() -> None:
    import httpx

    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        if request.method == "POST":
            body = json.loads(request.content)
            assert json.loads(body["schema"])["name"] == "hub.event.PatientEvent"
            return httpx.Response(200, json={"id": 42})
        return httpx.Response(200, json={"schema": json.dumps(load_event_schema("patient"))})

    registry = RestSchemaRegistry("http://registry.invalid", transport=httpx.MockTransport(handler))
    codec = EventCodec(registry, topic_prefix="qingshan.")
    data = codec.encode(sample_event())
    assert struct.unpack(">bI", data[:5]) == (0, 42)
    assert seen == [("POST", "/subjects/qingshan.hub.patient.v1-value/versions")]
    fresh = EventCodec(RestSchemaRegistry("http://registry.invalid", transport=httpx.MockTransport(handler)))
    assert fresh.decode(data).event_id == sample_event().event_id
    assert seen[-1] == ("GET", "/schemas/ids/42")
