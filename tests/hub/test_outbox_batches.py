"""The outbox in batches: few statements per batch, order kept, the checkpoint in the same
transaction, and the kept backlog figure right after every write, publish and replay."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hub.core.config import HubSettings
from hub.core.events import PollResult
from hub.core.outbox import Outbox, OutboxRecord, OutboxRelay
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import spec_for
from tests.factories import random_events
from tests.hub.test_outbox import make_sink, read_all


def records(n: int, start: int = 0) -> list[OutboxRecord]:
    return [OutboxRecord(f"e{i}", "t", f"k{i % 7}".encode(), f"v{i}".encode()) for i in range(start, start + n)]


class Counting:
    """The outbox's connection, counting the calls made into SQLite (an executemany is one call)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.calls: list[str] = []

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        self.calls.append(sql)
        return self.conn.execute(sql, *args)

    def executemany(self, sql: str, rows: object) -> sqlite3.Cursor:
        self.calls.append(sql)
        return self.conn.executemany(sql, rows)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self.conn, name)


def statements(outbox: Outbox) -> list[str]:
    counting = Counting(outbox._conn())
    outbox._local.conn = counting
    return counting.calls


def test_a_batch_is_a_few_statements_not_one_per_row(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", "o")
    seen = statements(outbox)
    new = outbox.write(records(500), {"pat_info": "1"})
    assert len(new) == 500
    assert len(seen) <= 8, seen[:12]  # BEGIN, a duplicate look-up, one executemany, counter, checkpoint, COMMIT
    seqs = [r.seq for r in outbox.pending(500)]
    seen.clear()
    outbox.mark_published(seqs)
    assert len(seen) <= 4, seen  # one UPDATE for the whole run of seqs
    assert outbox.backlog() == 0


def test_duplicates_within_and_across_batches_are_stored_once(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", "o")
    assert len(outbox.write(records(10))) == 10
    again = records(5, start=8) + records(1, start=12)  # e8, e9 stored already; e12 twice in this batch
    assert outbox.write(again) == ["e10", "e11", "e12"]
    assert outbox.count() == 13 and outbox.backlog() == 13


def test_a_failed_batch_keeps_neither_rows_nor_checkpoint_nor_backlog(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", "o")
    outbox.write(records(3), {"pat_info": "3"})
    bad = [*records(100, start=3), OutboxRecord("null", "t", b"k", None)]  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        outbox.write(bad, {"pat_info": "104"})
    assert outbox.checkpoints() == {"pat_info": "3"}
    assert (outbox.count(), outbox.backlog()) == (3, 3)


def test_backlog_is_right_after_write_publish_replay_and_in_another_process(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", "o")
    other = Outbox(tmp_path / "o.db", "o")  # what a status page or `hub replay` in another process sees
    outbox.write(records(50))
    assert outbox.backlog() == other.backlog() == 50
    pending = outbox.pending(20)
    outbox.mark_published([r.seq for r in pending])
    outbox.mark_published([pending[0].seq, pending[1].seq])  # marking twice moves nothing
    assert outbox.backlog() == other.backlog() == 30
    assert other.mark_for_replay() == 20
    assert outbox.backlog() == 50
    outbox.mark_published([r.seq for r in outbox.pending(100)[::2]])  # runs of one seq each
    assert outbox.backlog() == 25 == outbox.recount()


def test_an_outbox_from_before_the_counter_is_counted_once(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Outbox(path, "o").write(records(7))
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE counter")
        conn.execute("UPDATE outbox SET published_at = 1 WHERE event_id IN ('e0', 'e1')")
    assert Outbox(path, "o").backlog() == 5


def test_claimed_checkpoints_leave_the_set_ones(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.db", "o")
    outbox.write([], {"pat_info": "live"})
    assert outbox.claim_checkpoints({"pat_info": "history", "op_visit": "history"}) == {
        "pat_info": "live", "op_visit": "history"}


@pytest.mark.broker
def test_relay_batches_keep_order_and_publish_each_event_once(broker_settings: HubSettings) -> None:
    sink = make_sink(broker_settings)
    events = random_events(300, patients=15)
    for start in range(0, 300, 100):  # three writes, each with its checkpoint
        sink.accept(PollResult(events=events[start:start + 100], checkpoints={"op_visit": str(start + 100)}))
    assert sink.checkpoints() == {"op_visit": "300"} and sink.outbox.backlog() == 300
    relay = OutboxRelay(sink.outbox, broker_settings, batch_size=37)  # batches that cut across the writes
    relay.check_epoch(force=True)
    sent = []
    while sink.outbox.backlog():
        sent.append(relay.publish_pending())
    relay.close()
    assert sum(sent) == 300 and max(sent) == 37 and sink.outbox.backlog() == 0
    expected = {e.event_id for e in events if e.event_type == "encounter"}
    messages = read_all(broker_settings, spec_for("encounter").topic(broker_settings), len(expected))
    codec = EventCodec(FileSchemaRegistry())
    decoded = [codec.decode(m.value) for m in sorted(messages, key=lambda m: (m.partition, m.offset))]
    assert sorted(e.event_id for e in decoded) == sorted(expected)  # each once
    order = {e.event_id: i for i, e in enumerate(events)}
    by_key: dict[str, list[int]] = {}
    for event in decoded:
        by_key.setdefault(event.patient_key, []).append(order[event.event_id])
    assert all(seqs == sorted(seqs) for seqs in by_key.values())
