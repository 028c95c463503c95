"""Dead letters on the wire and in the table, pinned byte for byte: the connector sink, the consumer
framework and the dead-letter store must keep writing exactly these headers and rows; and the one
value that writes and reads them (hub.core.dead_letter) round-trips."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from consumers.dead_letters.consumer import DeadLetterStore
from hub.core.config import HubSettings
from hub.core.consumer import Consumer, Delivery
from hub.core.consuming import ConsumerRunner
from hub.core.db import Database
from hub.core.db.models import DeadLetter
from hub.core.dead_letter import DeadLetterInfo, without_dead_letter_headers
from hub.core.events import PollResult, Rejected
from hub.core.outbox import Outbox
from hub.core.pipeline import Sink
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from tests.factories import patient_event

NOW = 1767225600.125


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: NOW)


def _settings(tmp_path: Path) -> HubSettings:
    return HubSettings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'unused.db'}",
                       kafka_bootstrap="127.0.0.1:1", topic_prefix="t.")


def test_connector_dead_letter_headers(tmp_path: Path, frozen_clock: None) -> None:
    settings = _settings(tmp_path)
    outbox = Outbox(settings.outbox_path("th01-his"), "th01-his")
    sink = Sink("th01-his", "th01", outbox, EventCodec(FileSchemaRegistry(), settings.topic_prefix), settings)
    sink.accept(PollResult(rejected=[Rejected("row has no patient id", "map", '{"BRID": null}', "HZXX:1",
                                              fingerprint="fp-1")]))
    (letter,) = outbox.pending(10)
    assert letter.record.topic == "t.hub.dead-letter.v1"
    assert letter.record.key == b"HZXX:1"
    assert letter.record.value == b'{"BRID": null}'
    assert list(letter.record.headers) == [
        ("hub.dlq.reason", b"row has no patient id"),
        ("hub.dlq.stage", b"map"),
        ("hub.dlq.origin", b"th01-his"),
        ("hub.dlq.facility", b"th01"),
        ("hub.dlq.position", b"HZXX:1"),
        ("hub.dlq.failed_at", b"1767225600.125"),
        ("hub.dlq.event_id", b"dlq-96bba2da-330f-3da4-b681-f77946532d2c"),
    ]
    outbox.close()


class _Nothing(Consumer):
    name = "nothing"
    event_types = ("patient",)

    def apply(self, session: Session, delivery: Delivery) -> None:
        raise AssertionError("not applied here")


class _Sent:
    def succeeded(self) -> bool:
        return True


class _Producer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, topic: str, **kwargs: Any) -> _Sent:
        self.sent.append({"topic": topic, **kwargs})
        return _Sent()

    def flush(self, timeout: float) -> None:
        pass


def test_consumer_dead_letter_headers(tmp_path: Path, frozen_clock: None) -> None:
    settings = _settings(tmp_path)
    producer = _Producer()
    runner = ConsumerRunner(_Nothing(settings), settings, None, EventCodec(FileSchemaRegistry(), "t."),  # type: ignore[arg-type]
                            kafka_consumer_factory=lambda: None, dlq_producer_factory=lambda: producer)
    raw = Delivery("t.hub.patient.v1", 2, 41, b"th01/1", b"\x00garbage", (), 0)
    decoded = Delivery("t.hub.patient.v1", 1, 7, b"th01/1", b"avro", (), 0, event=patient_event())
    runner._dead_letter([(raw, "not Avro", "decode", None), (decoded, "boom", "apply", KeyError("x"))])
    first, second = producer.sent
    assert first["topic"] == second["topic"] == "t.hub.dead-letter.v1"
    assert (first["key"], first["value"]) == (b"th01/1", b"\x00garbage")
    assert first["headers"] == [
        ("hub.dlq.reason", b"not Avro"),
        ("hub.dlq.stage", b"decode"),
        ("hub.dlq.origin", b"nothing"),
        ("hub.dlq.topic", b"t.hub.patient.v1"),
        ("hub.dlq.partition", b"2"),
        ("hub.dlq.offset", b"41"),
        ("hub.dlq.event_id", b"dlq-a1a85452-e053-5c45-a390-644d0e399271"),
        ("hub.dlq.failed_at", b"1767225600.125"),
    ]
    assert second["headers"] == [
        ("hub.dlq.reason", b"boom"),
        ("hub.dlq.stage", b"apply"),
        ("hub.dlq.origin", b"nothing"),
        ("hub.dlq.topic", b"t.hub.patient.v1"),
        ("hub.dlq.partition", b"1"),
        ("hub.dlq.offset", b"7"),
        ("hub.dlq.event_id", second["headers"][6][1]),
        ("hub.dlq.failed_at", b"1767225600.125"),
        ("hub.dlq.exception", b"KeyError"),
        ("hub.dlq.facility", b"th01"),
    ]
    assert second["headers"][6][1].startswith(b"dlq-")


def test_store_row_from_consumer_headers(db: Database) -> None:
    headers = (
        ("hub.dlq.reason", "kein Patient: 无患者".encode()),
        ("hub.dlq.stage", b"apply"),
        ("hub.dlq.origin", b"record_store"),
        ("hub.dlq.topic", b"t.hub.patient.v1"),
        ("hub.dlq.partition", b"1"),
        ("hub.dlq.offset", b"7"),
        ("hub.dlq.event_id", b"dlq-1"),
        ("hub.dlq.failed_at", b"1767225600.125"),
        ("hub.dlq.exception", b"KeyError"),
        ("hub.dlq.facility", b"th01"),
        ("hub.event_type", b"patient"),
    )
    with db.transaction() as session:
        DeadLetterStore().apply(session, Delivery("t.hub.dead-letter.v1", 0, 3, b"k", b"v", headers, 0))
    with db.sessions() as session:
        row = session.get(DeadLetter, "dlq-1")
        assert row is not None
        assert (row.origin, row.stage, row.reason, row.exception, row.facility_id) == (
            "record_store", "apply", "kein Patient: 无患者", "KeyError", "th01")
        assert (row.origin_topic, row.origin_partition, row.origin_offset) == ("t.hub.patient.v1", 1, 7)
        assert (row.position, row.event_id, row.quarantine, row.key, row.payload) == (None, "dlq-1", None, b"k", b"v")
        assert row.headers == json.dumps({k: v.decode() for k, v in headers}, ensure_ascii=False)


def test_store_row_from_bare_and_odd_headers(db: Database) -> None:
    """Headers written by hand or by an older hub: defaults, and numbers that are not numbers."""
    headers = (("hub.dlq.partition", b"x"), ("hub.dlq.offset", b""), ("hub.dlq.position", b"\xff1"))
    with db.transaction() as session:
        DeadLetterStore().apply(session, Delivery("t.hub.dead-letter.v1", 0, 3, None, None, headers, 0))
    with db.sessions() as session:
        (row,) = session.query(DeadLetter).all()
        assert row.id.startswith("dlq-") and len(row.id) == 40 and row.event_id is None
        assert (row.origin, row.stage, row.reason) == ("unknown", "unknown", "no reason given")
        assert (row.origin_partition, row.origin_offset, row.position) == (None, None, "\ufffd1")
        assert row.payload == b"" and row.key is None


@pytest.mark.parametrize("info", [
    DeadLetterInfo.rejected_by_connector("th01-his", "th01", "no patient id: 无患者", "map", "HZXX:1", "fp-1"),
    dataclasses.replace(
        DeadLetterInfo.rejected_by_connector("th01-mllp", "th01", "too big", "size", "peer:1", "fp-2"),
        quarantine="blob:sha256/ab",
    ),
    DeadLetterInfo.failed_in_consumer("record_store", "boom", "apply", "t.hub.patient.v1", 1, 7, "evt-1",
                                      exception=KeyError("x"), facility_id="th01"),
    DeadLetterInfo.failed_in_consumer("record_store", "not Avro", "decode", "t.hub.patient.v1", 0, 0, "abc"),
    DeadLetterInfo("every field", "apply", "x", "dlq-1", 1.5, "th01", "p", "topic", 2, 3, "KeyError", "blob:q"),
])
def test_headers_round_trip(info: DeadLetterInfo) -> None:
    headers = info.to_headers()
    assert DeadLetterInfo.from_headers(headers) == info
    assert all(name.startswith("hub.dlq.") for name, _ in headers)
    assert without_dead_letter_headers([*headers, ("hub.event_type", b"patient")]) == [("hub.event_type", b"patient")]


def test_reason_is_cut_to_the_header_limit() -> None:
    info = DeadLetterInfo.failed_in_consumer("c", "x" * 5000, "apply", "t", 0, 0, "f")
    assert len(info.reason) == 2000 and DeadLetterInfo.from_headers(info.to_headers()).reason == info.reason


def test_first_header_of_a_name_counts() -> None:
    info = DeadLetterInfo.from_headers([("hub.dlq.reason", b"first"), ("hub.dlq.reason", b"second")])
    assert info.reason == "first" and (info.stage, info.origin) == ("unknown", "unknown")
