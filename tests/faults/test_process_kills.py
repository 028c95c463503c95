"""Consumer killed mid-batch and connector killed mid-conversation (SIGKILL, repeatedly, under
load): the consumer's database transaction and offset commit, and the connector's outbox and ACK,
must leave every event in the record exactly once."""

from __future__ import annotations

import random
import signal
import socket
import time
from pathlib import Path

import pytest

from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.outbox import Outbox
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import DEAD_LETTER
from tests.conftest import free_port
from tests.faults.harness import (
    TALLY,
    applied,
    assert_nothing_lost_or_doubled,
    compare,
    feeds,
    hub_process,
    record_store,
)
from tests.waiting import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.broker, pytest.mark.slow]


def test_consumer_killed_mid_batch(broker_settings: HubSettings, db: Database, tmp_path: Path) -> None:
    settings = broker_settings
    log = tmp_path / "consumer.log"
    with feeds(settings, count=3, rate=40) as running:
        consumer = hub_process(["consumer", "run", "record_store"], settings, log)
        try:
            for _ in range(4):
                sent = set().union(*(feed.sent for feed in running))
                before = applied(db, sent)
                # Mid-batch: the consumer has just applied something and more is waiting.
                wait_for(lambda before=before: applied(db, set().union(*(f.sent for f in running))) > before, 60)
                time.sleep(random.uniform(0.0, 0.4))
                consumer.send_signal(signal.SIGKILL)
                consumer.wait(10)
                consumer = hub_process(["consumer", "run", "record_store"], settings, log)
            for feed in running:
                feed.stop_feeding()
            sent = set().union(*(feed.sent for feed in running))
            result = compare("consumer SIGKILL x4 mid-batch", settings, db, sent,
                             outboxes=[feed.outbox for feed in running])
        finally:
            consumer.send_signal(signal.SIGTERM)
            consumer.wait(20)
    assert_nothing_lost_or_doubled(result)


def _adt(control_id: str, mrn: str) -> bytes:
    return (
        f"MSH|^~\\&|HIS|TH01|HUB|CTY01|20261123083000||ADT^A04|{control_id}|P|2.4|||||CHN|UNICODE UTF-8\r"
        f"PID|1||{mrn}^^^TH01^MR||王^五||19800101|M\rPV1|1|O|||||||||||||||||V-{mrn}\r"
    ).encode()


class MllpSender:
    """A member's HL7 interface engine: sends in order, and resends a message until it gets its ACK."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.acked: set[str] = set()
        self.resends = 0

    def send(self, control_id: str, payload: bytes, deadline_s: float = 60) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            try:
                if self.sock is None:
                    self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                self.sock.sendall(b"\x0b" + payload + b"\x1c\r")
                answer = b""
                while b"\x1c\r" not in answer:
                    chunk = self.sock.recv(4096)
                    if not chunk:
                        raise ConnectionError("connection closed before the ACK")
                    answer += chunk
                assert f"MSA|AA|{control_id}".encode() in answer, answer
                self.acked.add(control_id)
                return
            except (OSError, ConnectionError):
                if self.sock is not None:
                    self.sock.close()
                    self.sock = None
                self.resends += 1
                time.sleep(0.2)
        raise AssertionError(f"message {control_id} never acknowledged")


def test_connector_killed_while_members_send(broker_settings: HubSettings, db: Database, tmp_path: Path) -> None:
    settings = broker_settings
    port = free_port()
    config = tmp_path / "mllp.yaml"
    config.write_text(
        "name: mllp-fault\nkind: mllp\nfacility_id: th01\n"
        f"options:\n  port: {port}\n  senders:\n    TH01:\n      facility_id: th01\n",
        encoding="utf-8",
    )
    log = tmp_path / "connector.log"
    connector = hub_process(["connector", "run", str(config)], settings, log)
    sender = MllpSender(port)
    total = 240
    kill_at = set(random.sample(range(20, total - 20), 4))
    prefix = f"K{random.randrange(10**6)}"
    try:
        with record_store(settings, db):
            for i in range(total):
                if i in kill_at:
                    connector.send_signal(signal.SIGKILL)  # between its ACKs: some of them are never sent
                    connector.wait(10)
                    connector = hub_process(["connector", "run", str(config)], settings, log)
                sender.send(f"{prefix}-{i}", _adt(f"{prefix}-{i}", f"{prefix}-{i}"))
            outbox = Outbox(settings.outbox_path("mllp-fault"), "mllp-fault")
            events = _outbox_events(outbox, settings)
            by_message: dict[str, list[str]] = {}
            for _event_id, position, event_type in events:
                by_message.setdefault(position.rsplit("|", 1)[-1], []).append(event_type)
            unacked_in_outbox = set(by_message) - sender.acked
            missing = sender.acked - set(by_message)
            doubled = {m for m, types in by_message.items() if len(types) != len(set(types))}
            result = compare("connector SIGKILL x4 (MLLP)", settings, db, {e[0] for e in events}, outboxes=[outbox])
            outbox.close()
    finally:
        connector.send_signal(signal.SIGTERM)
        connector.wait(20)
        if sender.sock is not None:
            sender.sock.close()
    TALLY.lost += len(missing)
    TALLY.doubled += len(doubled)
    assert len(sender.acked) == total
    assert not missing, f"ACKed but not in the outbox: {sorted(missing)[:5]}"
    assert not doubled, f"one message stored twice: {sorted(doubled)[:5]}"
    # A message stored whose ACK the kill swallowed is resent and answered AA without a second event.
    assert not unacked_in_outbox
    assert_nothing_lost_or_doubled(result)


def _outbox_events(outbox: Outbox, settings: HubSettings) -> list[tuple[str, str, str]]:
    codec = EventCodec(FileSchemaRegistry())
    rows = outbox._conn().execute("SELECT value FROM outbox WHERE topic != ?", (DEAD_LETTER.topic(settings),))
    decoded = [codec.decode(value) for (value,) in rows]
    return [(e.event_id, e.source.position, e.event_type) for e in decoded]
