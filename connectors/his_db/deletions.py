"""Rows deleted from a HIS table: found by comparing the keys still there with the keys already
published, and published as the last known resource marked `entered-in-error` (Patient: inactive).

State (keys published, and their last resource) lives in the connector's own SQLite file. A
deletion is forgotten only after its event is known to be in the outbox: the generation number
rides with the events as a checkpoint, and the next reconciliation finalises it or sends again.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS known (tbl TEXT, key TEXT, resource TEXT, event_type TEXT, patient_key TEXT,
                                  pending INTEGER DEFAULT 0, PRIMARY KEY (tbl, key));
"""


class KnownKeys:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A backfill and the live connector share this file: wait out the other's write.
        self._conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def remember(self, table: str, rows: list[tuple[str, dict[str, Any], str, str]]) -> None:
        """(key, resource, event type, patient key) of rows just emitted."""
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT INTO known(tbl, key, resource, event_type, patient_key, pending) VALUES (?,?,?,?,?,0) "
                "ON CONFLICT(tbl, key) DO UPDATE SET resource=excluded.resource, pending=0",
                [(table, key, json.dumps(res, ensure_ascii=False, separators=(",", ":")), etype, pkey)
                 for key, res, etype, pkey in rows],
            )
            self._conn.execute("COMMIT")

    def missing(self, table: str, present: set[str], generation: int) -> list[tuple[str, dict[str, Any], str, str]]:
        """Known keys no longer in the table (and earlier deletions not yet confirmed), marked with
        this generation."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, resource, event_type, patient_key, pending FROM known WHERE tbl=?", (table,)
            ).fetchall()
            gone = [r for r in rows if r[0] not in present or r[4]]
            self._conn.executemany(
                "UPDATE known SET pending=? WHERE tbl=? AND key=?", [(generation, table, r[0]) for r in gone]
            )
        return [(r[0], json.loads(r[1]), r[2], r[3]) for r in gone]

    def finalise(self, table: str, committed: int) -> None:
        """Forgets deletions whose events are in the outbox (their generation was committed)."""
        with self._lock:
            self._conn.execute("DELETE FROM known WHERE tbl=? AND pending>0 AND pending<=?", (table, committed))

    def close(self) -> None:
        self._conn.close()


def as_deleted(resource: dict[str, Any]) -> dict[str, Any]:
    deleted = dict(resource)
    if deleted.get("resourceType") == "Patient":
        deleted["active"] = False
    else:
        deleted["status"] = "entered-in-error"
    meta = dict(deleted.get("meta") or {})
    meta["tag"] = [*(meta.get("tag") or []), {"system": "urn:hub:tag", "code": "deleted-at-source"}]
    deleted["meta"] = meta
    return deleted
