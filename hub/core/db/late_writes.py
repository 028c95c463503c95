"""Rows a read adds (audit rows), written after the read without making it wait for the write lock.

SQLite has one writer at a time. A read that had to write its audit row in its own transaction
would wait behind every consumer batch, so reads hand their rows here: they are written at once
when the lock is free within a moment, and otherwise kept in a durable spool (a small SQLite file
beside the database, with its own lock) that a background thread moves into the database as soon
as the writer lets go. Either way the row is on disk before the read is answered. A crash between
the copy and the spool's delete can write a spooled row twice, never lose it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from hub.core.db.models import Base

log = logging.getLogger(__name__)


def _row(obj: Any) -> tuple[Table, dict[str, Any]]:
    """The table and column values of a new ORM object, its Python-side defaults filled in now."""
    mapper = inspect(obj).mapper
    values: dict[str, Any] = {}
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        value = getattr(obj, attr.key)
        if value is None and column.default is not None and column.default.is_callable:
            value = column.default.arg(None)  # e.g. utcnow: the moment of the read
        if value is None and column.autoincrement is True and column.primary_key:
            continue
        values[column.key] = value
    return mapper.local_table, values


def _encode(values: dict[str, Any]) -> str:
    return json.dumps({k: {"$dt": v.isoformat()} if isinstance(v, datetime) else v for k, v in values.items()})


def _decode(text: str) -> dict[str, Any]:
    return {k: datetime.fromisoformat(v["$dt"]) if isinstance(v, dict) else v for k, v in json.loads(text).items()}


_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def _busy(exc: OperationalError) -> bool:
    """The write lock was not free in time (as opposed to an error that waiting will not cure)."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code in (_SQLITE_BUSY, _SQLITE_LOCKED) or "locked" in str(exc.orig)


class LateWrites:
    """Writes rows through `quick` (a short lock wait), else spools them for the drainer (the normal engine)."""

    def __init__(self, quick: Engine, normal: Engine, spool: Path) -> None:
        self._quick = quick
        self._normal = normal
        self._spool = spool
        self._lock = threading.Lock()  # the spool connection; never held while waiting for the database
        self._conn: sqlite3.Connection | None = None
        self._drainer: threading.Thread | None = None
        self._stopped = threading.Event()
        if spool.exists():
            self._start_drainer()  # rows left by an earlier process

    def write(self, objects: Iterable[Any]) -> None:
        rows = [_row(obj) for obj in objects]
        if not rows:
            return
        try:
            self._insert(self._quick, rows)
        except OperationalError as exc:
            if not _busy(exc):
                raise  # a missing table or a full disk is no reason to wait: the caller must know
            log.debug("write lock busy (%s); spooling %d row(s)", exc.orig, len(rows))
            self._to_spool(rows)

    @staticmethod
    def _insert(engine: Engine, rows: list[tuple[Table, dict[str, Any]]], again: bool = False) -> None:
        with engine.begin() as conn:
            for table, values in rows:
                # A spooled batch copied before a crash and again after it: its rows are already there
                # (audit rows carry a unique uid), so the copy skips them instead of failing for ever.
                statement = table.insert().values(**values)
                conn.execute(statement.prefix_with("OR IGNORE") if again else statement)

    def _spool_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(self._spool, timeout=30, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("CREATE TABLE IF NOT EXISTS late_row "
                               "(id INTEGER PRIMARY KEY, tbl TEXT NOT NULL, data TEXT NOT NULL)")
        return self._conn

    def _to_spool(self, rows: list[tuple[Table, dict[str, Any]]]) -> None:
        with self._lock:
            conn = self._spool_conn()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO late_row (tbl, data) VALUES (?, ?)",
                             [(table.name, _encode(values)) for table, values in rows])
            conn.execute("COMMIT")
        self._start_drainer()

    def _start_drainer(self) -> None:
        if self._drainer is None or not self._drainer.is_alive():
            self._drainer = threading.Thread(target=self._drain_loop, name="late-writes", daemon=True)
            self._drainer.start()

    def _drain_loop(self) -> None:
        with _DrainLock(self._spool) as mine:
            if not mine:
                return  # another process on this database drains the spool
            while not self._stopped.is_set():
                try:
                    if self._drain_batch() == 0:
                        return
                except OperationalError as exc:
                    log.debug("spooled rows wait for the database: %s", exc.orig)
                self._stopped.wait(0.2)

    def _drain_batch(self) -> int:
        """Copies one batch into the database, then deletes it from the spool; returns how many wait."""
        with self._lock:
            batch = self._spool_conn().execute("SELECT id, tbl, data FROM late_row ORDER BY id LIMIT 500").fetchall()
        if batch:
            tables = Base.metadata.tables
            self._insert(self._normal, [(tables[tbl], _decode(data)) for _, tbl, data in batch], again=True)
            with self._lock:
                self._spool_conn().execute("DELETE FROM late_row WHERE id <= ?", (batch[-1][0],))
        with self._lock:
            return int(self._spool_conn().execute("SELECT count(*) FROM late_row").fetchone()[0])

    def close(self) -> None:
        self._stopped.set()
        if self._drainer is not None:
            self._drainer.join(5)
        if self._spool.exists():
            with _DrainLock(self._spool) as mine:
                try:
                    while mine and self._drain_batch():
                        pass
                except OperationalError as exc:
                    log.warning("%s still holds audit rows for the database (%s); the next start writes them",
                                self._spool, exc.orig)
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._quick.dispose()


class _DrainLock:
    """One drainer per spool across processes (an flock on a lock file beside it)."""

    def __init__(self, spool: Path) -> None:
        self._path = Path(f"{spool}.lock")
        self._file: Any = None

    def __enter__(self) -> bool:
        self._file = open(self._path, "a")  # noqa: SIM115 - held until __exit__
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def __exit__(self, *_exc: object) -> None:
        self._file.close()  # releases the flock
