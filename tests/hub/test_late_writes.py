"""A read's audit row on SQLite while a writer holds the lock: spooled at once, never lost, copied
into the database when the writer lets go, or at the next start after a crash."""

from __future__ import annotations

import sqlite3
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from hub.core.db import Database
from hub.core.db.engine import SQLITE_CACHE_SIZE
from hub.core.db.models import AuditLog
from tests.waiting import wait_for


def _audits(db: Database) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditLog)) or 0)


def test_spooled_audit_rows_survive_a_crash(database_url: str) -> None:
    first = Database(database_url)
    first.migrate()
    if not first.is_sqlite:
        first.dispose()
        pytest.skip("PostgreSQL readers never wait for writers: audit rows are written in the read's transaction")
    path = make_url(database_url).database
    assert path
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process's batch holds the write lock
    assert first._late is not None
    first._late._stopped.set()  # this process dies before its drainer copies anything
    started = time.monotonic()
    with first.reading() as session:
        session.add(AuditLog(actor="dr-li", role="clinician", facility_id="cty01", action="read",
                             resource_type="Patient", resource_id="p1", patient_id="p1"))
    assert time.monotonic() - started < 5  # the read did not wait for the writer
    time.sleep(0.5)
    spool = sqlite3.connect(f"{path}.late-rows")
    assert spool.execute("SELECT count(*) FROM late_row").fetchone()[0] == 1
    spool.close()
    writer.execute("ROLLBACK")
    writer.close()
    second = Database(database_url)  # the next start
    try:
        wait_for(lambda: _audits(second) == 1, timeout_s=20)
        [row] = second.sessions().scalars(select(AuditLog)).all()
        assert (row.actor, row.action, row.patient_id) == ("dr-li", "read", "p1") and row.at is not None
    finally:
        second.dispose()


def test_only_writers_keep_a_large_page_cache(database_url: str) -> None:
    """A reader's page cache is dropped whenever another connection commits (WAL): it keeps SQLite's
    default, and only writer connections, which keep theirs across batches, get the large one."""
    db = Database(database_url)
    try:
        if not db.is_sqlite:
            pytest.skip("a SQLite page-cache setting")
        with db.transaction() as session:
            written = session.connection().exec_driver_sql("PRAGMA cache_size").scalar()
        with db.reading() as session:
            read = session.connection().exec_driver_sql("PRAGMA cache_size").scalar()
        assert written == SQLITE_CACHE_SIZE
        assert read == -2000  # SQLite's default
    finally:
        db.dispose()
